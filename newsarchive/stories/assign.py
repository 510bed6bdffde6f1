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
from newsarchive.stories.features import Features, featurize


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


def _prepare(chunk: list[tuple[int, str]]) -> list[tuple]:
    """Worker: parse and sketch lines -> (line number, error) or (line number, record,
    sketch bytes or None)."""
    out: list[tuple] = []
    for n, line in chunk:
        try:
            rec = parse_line(line)
        except LineError as exc:
            out.append((n, str(exc)))
            continue
        f = featurize(rec.pop("text"), rec["title"])
        out.append((n, rec, f.to_bytes() if f is not None else None))
    return out


def _chunks(lines: Iterable[str], size: int = 256) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            chunk.append((n, line))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def assign_lines(
    lines: Iterable[str],
    on_error: Callable[[int, str], None],
    detector: Detector | None = None,
    workers: int = 1,
) -> Iterator[dict]:
    """Cluster the lines; yields one output record per valid line (input order). With
    ``workers`` > 1, lines are parsed and sketched in that many processes; the detector
    itself runs here, in input order, so the result is the same."""
    det = detector or Detector()
    order: list[str] = []
    seen: set[str] = set()
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=workers)
        prepared = pool.map(_prepare, _chunks(lines), chunksize=4)
    else:
        pool = None
        prepared = map(_prepare, _chunks(lines))
    try:
        for part in prepared:
            for entry in part:
                if len(entry) == 2:
                    on_error(*entry)
                    continue
                n, rec, sketch = entry
                if rec["id"] in seen:
                    on_error(n, f"duplicate id {rec['id']!r} (first occurrence kept)")
                    continue
                seen.add(rec["id"])
                order.append(rec["id"])
                f = Features.from_bytes(sketch) if sketch is not None else None
                det.add(rec["id"], f, rec["published"], rec["outlet"])
    finally:
        if pool is not None:
            pool.shutdown()
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
