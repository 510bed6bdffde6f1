"""Small read helpers over the archive that no other package provides.

The web app (and anyone else) gets one article with its capture, the versions of a URL,
one capture's WARC location, and the figures of crawl health. Search, counts, stories and
diffs live in their own packages (``newsarchive.query``, ``newsarchive.stories``); nothing
here ranks or parses queries. Every function takes an open (read-only) connection.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

import duckdb

# a.*: every article column the archive has (provenance columns came with schema 2)
_ARTICLE_COLS = (
    "a.*, c.fetched_at, c.status, c.mime, c.payload_digest, c.record_type, c.warc_filename, "
    "c.warc_offset, c.warc_length, c.discovered_via"
)


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _via(value: Any) -> dict[str, Any] | None:
    value = _json(value)
    return value if isinstance(value, dict) else None


def article(con: duckdb.DuckDBPyConnection, article_id: str) -> dict[str, Any] | None:
    """One article row with its capture's metadata (fetch time, status, WARC location)."""
    rows = _dicts(
        con.execute(
            f"SELECT {_ARTICLE_COLS} FROM articles a LEFT JOIN captures c ON c.id = a.capture_id "
            "WHERE a.id = ?",
            [article_id],
        )
    )
    if not rows:
        return None
    row = rows[0]
    row["discovered_via"] = _via(row["discovered_via"])
    return row


def versions(con: duckdb.DuckDBPyConnection, canonical_url: str) -> list[dict[str, Any]]:
    """Every extracted version of one canonical URL, oldest capture first, with text."""
    rows = _dicts(
        con.execute(
            "SELECT a.id, a.title, a.text, a.modified, a.published, a.word_count, c.fetched_at "
            "FROM articles a LEFT JOIN captures c ON c.id = a.capture_id "
            "WHERE a.canonical_url = ? ORDER BY c.fetched_at, a.id",
            [canonical_url],
        )
    )
    return rows


def capture(con: duckdb.DuckDBPyConnection, capture_id: str) -> dict[str, Any] | None:
    """One capture row (WARC file name, offset and length included)."""
    rows = _dicts(
        con.execute(
            "SELECT id, url, canonical_url, outlet, fetched_at, status, mime, payload_digest, "
            "record_type, refers_to, warc_filename, warc_offset, warc_length, discovered_via "
            "FROM captures WHERE id = ?",
            [capture_id],
        )
    )
    if not rows:
        return None
    rows[0]["discovered_via"] = _via(rows[0]["discovered_via"])
    return rows[0]


def facet_values(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, int]]]:
    """Outlets and languages present among articles, with their article counts."""
    out = {}
    for col in ("outlet", "language"):
        out[col] = [
            (v, n)
            for v, n in con.execute(
                f"SELECT {col}, count(*) FROM articles WHERE {col} IS NOT NULL "
                f"GROUP BY {col} ORDER BY 2 DESC, 1"
            ).fetchall()
        ]
    return out


def date_span(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    """Earliest and latest article date (published, else fetch time)."""
    row = con.execute(
        "SELECT min(coalesce(a.published, c.fetched_at)), max(coalesce(a.published, c.fetched_at)) "
        "FROM articles a LEFT JOIN captures c ON c.id = a.capture_id"
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


# ---- crawl health -------------------------------------------------------------------------


def crawl_runs(con: duckdb.DuckDBPyConnection, limit: int = 30) -> list[dict[str, Any]]:
    """The last runs, newest first, with duration and the pages/articles their stats name."""
    rows = _dicts(
        con.execute(
            "SELECT id, started, finished, outlets, status, stats FROM crawl_runs "
            "ORDER BY started DESC NULLS LAST LIMIT ?",
            [limit],
        )
    )
    for r in rows:
        stats = _json(r.pop("stats")) or {}
        r["pages"] = _stat_total(stats, "pages")
        r["articles"] = _stat_total(stats, "articles")
        r["seconds"] = (
            (r["finished"] - r["started"]).total_seconds()
            if r["finished"] and r["started"]
            else None
        )
    return rows


def _stat_total(stats: Any, key: str) -> int | None:
    if not isinstance(stats, dict):
        return None
    if isinstance(stats.get(key), int):
        return stats[key]
    outlets = stats.get("outlets")
    if isinstance(outlets, dict):
        vals = [o.get(key) for o in outlets.values() if isinstance(o, dict)]
        vals = [v for v in vals if isinstance(v, int)]
        return sum(vals) if vals else None
    return None


def articles_per_outlet_day(
    con: duckdb.DuckDBPyConnection, days: int = 30, end: datetime | None = None
) -> tuple[list[str], dict[str, list[int]]]:
    """Articles captured per outlet per UTC day over the ``days`` days ending at ``end``
    (default: the latest capture): (day labels, outlet -> counts aligned with the labels)."""
    if end is None:
        row = con.execute(
            "SELECT max(c.fetched_at) FROM articles a JOIN captures c ON c.id = a.capture_id"
        ).fetchone()
        end = row[0] if row and row[0] else datetime.now(UTC)
    last = end.astimezone(UTC).date()
    first = last - timedelta(days=days - 1)
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    series: dict[str, list[int]] = {}
    for outlet, day, n in con.execute(
        "SELECT a.outlet, CAST(timezone('UTC', c.fetched_at) AS DATE) AS d, count(*) "
        "FROM articles a JOIN captures c ON c.id = a.capture_id "
        "WHERE timezone('UTC', c.fetched_at) >= ? AND a.outlet IS NOT NULL GROUP BY 1, 2",
        [datetime(first.year, first.month, first.day)],
    ).fetchall():
        idx = (day - first).days
        if 0 <= idx < days:
            series.setdefault(outlet, [0] * days)[idx] = n
    return labels, dict(sorted(series.items()))


def failures_by_kind(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict[str, Any]]:
    """Recorded failures grouped by kind and outlet, most frequent first."""
    return _dicts(
        con.execute(
            "SELECT kind, outlet, count(*) AS n, max(time) AS last_seen, any_value(url) AS example "
            "FROM fetch_errors GROUP BY kind, outlet ORDER BY n DESC, kind LIMIT ?",
            [limit],
        )
    )


def last_good_run(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per outlet, the last finished run that yielded articles for it (from run stats),
    falling back to the last capture of an article when no run recorded per-outlet stats."""
    out: dict[str, dict[str, Any]] = {}
    for run_id, started, finished, stats in con.execute(
        "SELECT id, started, finished, stats FROM crawl_runs WHERE status = 'finished' "
        "ORDER BY started DESC"
    ).fetchall():
        stats = _json(stats) or {}
        outlets = stats.get("outlets") if isinstance(stats, dict) else None
        if not isinstance(outlets, dict):
            continue
        for key, o in outlets.items():
            if key in out or not isinstance(o, dict):
                continue
            if (o.get("articles") or 0) > 0:
                out[key] = {"run_id": run_id, "finished": finished or started, "source": "run"}
    for outlet, last in con.execute(
        "SELECT a.outlet, max(c.fetched_at) FROM articles a JOIN captures c ON c.id = a.capture_id "
        "WHERE a.outlet IS NOT NULL GROUP BY 1"
    ).fetchall():
        out.setdefault(outlet, {"run_id": None, "finished": last, "source": "capture"})
        out[outlet]["last_article"] = last
    return dict(sorted(out.items()))


def volume_drops(
    labels: list[str], series: dict[str, list[int]], window: int = 7, ratio: float = 0.5
) -> list[str]:
    """Warnings for outlets whose latest day fell below ``ratio`` x their median over the
    ``window`` days before it (days with nothing at all are left out of the median)."""
    warnings = []
    if len(labels) < 2:
        return warnings
    for outlet, counts in series.items():
        past = [n for n in counts[-window - 1 : -1] if n > 0]
        if len(past) < 2:
            continue
        base = median(past)
        if counts[-1] < ratio * base:
            warnings.append(
                f"{outlet}: {counts[-1]} articles on {labels[-1]} against a median of "
                f"{base:g} over the {len(past)} days before"
            )
    return warnings
