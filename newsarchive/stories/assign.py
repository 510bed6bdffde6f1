"""``stories assign``: cluster an outside JSONL collection with the archive's detector.

Input lines: ``{"id", "title", "text", "published", "outlet"}``. Output lines (one per valid
input line, in input order, after the whole file is read, since a later article can join or
become the origin of an earlier one's story): ``{"id", "story_id", "relation", "origin_id",
"similarity"}``; articles in no story get nulls. A malformed line is reported with its line
number and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from newsarchive.stories.detector import Detector, story_id
from newsarchive.stories.features import featurize


class LineError(ValueError):
    pass


def _published(value: object) -> float:
    if value is None or value == "":
        raise LineError('missing "published"')
    if isinstance(value, int | float):
        return float(value)
    try:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise LineError(f'"published" is not an ISO date: {str(value)[:40]!r}') from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_line(line: str) -> dict:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LineError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise LineError("not a JSON object")
    if obj.get("id") is None or str(obj["id"]) == "":
        raise LineError('missing "id"')
    text = obj.get("text")
    if text is not None and not isinstance(text, str):
        raise LineError('"text" is not a string')
    return {
        "id": str(obj["id"]),
        "text": text or "",
        "title": obj.get("title"),
        "published": _published(obj.get("published")),
        "outlet": obj.get("outlet"),
    }


def assign_lines(
    lines: Iterable[str], on_error: Callable[[int, str], None], detector: Detector | None = None
) -> Iterator[dict]:
    """Cluster the lines; yields one output record per valid line (input order)."""
    det = detector or Detector()
    order: list[str] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = parse_line(line)
        except LineError as exc:
            on_error(n, str(exc))
            continue
        if rec["id"] in seen:
            on_error(n, f"duplicate id {rec['id']!r} (first occurrence kept)")
            continue
        seen.add(rec["id"])
        order.append(rec["id"])
        det.add(rec["id"], featurize(rec["text"], rec["title"]), rec["published"], rec["outlet"])
    result: dict[str, dict] = {}
    for members in det.stories():
        sid = story_id(members[0].id)
        for m in members:
            result[m.id] = {
                "story_id": sid,
                "relation": m.relation,
                "origin_id": m.origin_id,
                "similarity": m.similarity,
            }
    empty = {"story_id": None, "relation": None, "origin_id": None, "similarity": None}
    for aid in order:
        yield {"id": aid, **result.get(aid, empty)}
