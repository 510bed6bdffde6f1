"""Streaming export of every article matching a query, with provenance, resumable.

Rows go out in docid order (docids only grow), a chunk at a time. After each chunk the output
is flushed and fsync'd, then the cursor ``"<last docid>@<bytes written>"`` (parquet:
``"<last docid>@<parts written>"``) is recorded in ``<out>.cursor``. Resuming with that cursor
first cuts the output back to the recorded size (dropping a chunk half-written when the export
was killed), then continues after the docid: no row lost, none repeated.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import duckdb

from newsarchive.query.engine import QueryError, Scope, matches_sql

FORMATS = ("csv", "jsonl", "parquet")
COLUMNS = (
    "article_id", "capture_id", "outlet", "url", "title", "published", "fetched_at", "language",
    "authors", "section", "word_count", "text", "warc_filename", "warc_offset", "warc_length",
)  # fmt: skip
CHUNK = 5000

_SELECT = """
SELECT a.id AS article_id, a.capture_id, a.outlet, a.url, a.title, a.published, c.fetched_at,
       a.language, a.authors, a.section, a.word_count, a.text, c.warc_filename, c.warc_offset,
       c.warc_length, e.docid
FROM (SELECT docid FROM qi_export WHERE docid > {after} ORDER BY docid LIMIT {n}) e
JOIN qi_docs d ON d.docid = e.docid JOIN articles a ON a.id = d.article_id
LEFT JOIN captures c ON c.id = a.capture_id ORDER BY e.docid
"""


def cursor_path(out: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(out)}.cursor")


def read_cursor(out: str | os.PathLike) -> str | None:
    p = cursor_path(out)
    if not p.exists():
        return None
    return json.loads(p.read_text(encoding="utf-8"))["cursor"]


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return 0, 0
    try:
        a, b = cursor.split("@")
        return int(a), int(b)
    except ValueError:
        raise QueryError(f"bad export cursor {cursor!r} (expected DOCID@SIZE)") from None


def _val(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, list):
        return "; ".join(map(str, v)) if v else ""
    return v


def write_rows(
    con: duckdb.DuckDBPyConnection,
    q: str,
    scope: Scope = Scope(),  # noqa: B008
    fmt: str = "jsonl",
    out_path_or_file: str | os.PathLike | IO[str] = "-",
    cursor: str | None = None,
    chunk: int = CHUNK,
) -> tuple[int, str]:
    """Write the latest version of every matching article; returns (rows written, cursor).

    For a path, the cursor is also kept in ``<path>.cursor`` after every chunk; pass it back
    (``read_cursor(path)``) to resume. A file object gets no cursor file."""
    if fmt not in FORMATS:
        raise QueryError(f"export format is one of {', '.join(FORMATS)}")
    after, size = _parse_cursor(cursor)
    sql, _ = matches_sql(con, q, scope)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE qi_export AS SELECT docid FROM ({sql}) ORDER BY docid"
    )
    is_path = not hasattr(out_path_or_file, "write")
    if fmt == "parquet":
        if not is_path:
            raise QueryError("parquet export needs a directory path, not a stream")
        return _parquet(con, Path(out_path_or_file), after, size, chunk)
    if is_path:
        path = Path(out_path_or_file)
        if cursor:
            with open(path, "r+b") as f:  # drop what was written after the last cursor
                f.truncate(size)
            f = open(path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        else:
            f = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            size = 0
    else:
        f, path = out_path_or_file, None
    rows = 0
    try:
        if fmt == "csv" and not cursor:
            buf = io.StringIO()
            csv.writer(buf).writerow(COLUMNS)
            f.write(buf.getvalue())
        while True:
            batch = con.execute(_SELECT.format(after=after, n=int(chunk))).fetchall()
            if not batch:
                break
            buf = io.StringIO()
            if fmt == "csv":
                w = csv.writer(buf)
                for r in batch:
                    w.writerow([_val(v) for v in r[:-1]])
            else:
                for r in batch:
                    rec = {
                        c: (v.isoformat() if isinstance(v, datetime) else v)
                        for c, v in zip(COLUMNS, r, strict=False)
                    }
                    buf.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.write(buf.getvalue())
            after = batch[-1][-1]
            rows += len(batch)
            if path is not None:
                f.flush()
                os.fsync(f.fileno())
                size = path.stat().st_size
                _save_cursor(path, f"{after}@{size}", q)
    finally:
        if path is not None:
            f.close()
    return rows, f"{after}@{size}"


def _save_cursor(out: Path, cursor: str, q: str) -> None:
    p = cursor_path(out)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps({"cursor": cursor, "query": q}), encoding="utf-8")
    os.replace(tmp, p)


def _parquet(
    con: duckdb.DuckDBPyConnection, out: Path, after: int, parts: int, chunk: int
) -> tuple[int, str]:
    out.mkdir(parents=True, exist_ok=True)
    for p in out.glob("part-*.parquet"):  # parts written after the cursor
        if int(p.stem.split("-")[1]) > parts:
            p.unlink()
    rows = 0
    while True:
        last = con.execute(
            f"SELECT max(docid), count(*) FROM (SELECT docid FROM qi_export WHERE docid > {after} "
            f"ORDER BY docid LIMIT {int(chunk)})"
        ).fetchone()
        if not last[1]:
            break
        parts += 1
        target = out / f"part-{parts:06d}.parquet"
        sel = _SELECT.format(after=after, n=int(chunk))
        cols = ", ".join(COLUMNS)
        con.execute(
            f"COPY (SELECT {cols} FROM ({sel})) TO '{str(target).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)"
        )
        after = last[0]
        rows += last[1]
        _save_cursor(out, f"{after}@{parts}", "")
    return rows, f"{after}@{parts}"
