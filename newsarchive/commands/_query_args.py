"""Options and output shared by the query verbs (search, count, top-words, ...)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, datetime
from typing import Any


def add_scope_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--outlet", action="append", help="only this outlet key (repeatable, or a,b)")
    p.add_argument("--collection", action="append", help="only outlets of this collection")
    p.add_argument("--lang", action="append", help="only articles in this language (e.g. en)")
    p.add_argument("--since", help="published (or fetched) on/after this date, e.g. 2024-05-01")
    p.add_argument("--until", help="published (or fetched) before this date")
    p.add_argument("--db", help="archive file (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the lock")


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(o.strip() for v in values or () for o in v.split(",") if o.strip())


def _date(value: str | None, flag: str) -> datetime | None:
    from newsarchive.index.rows import utc_iso

    if not value:
        return None
    iso = utc_iso(value)
    if iso is None:
        raise ValueError(f"{flag} {value!r} is not a date (use YYYY-MM-DD or ISO 8601)")
    return datetime.fromisoformat(iso).astimezone(UTC)


def scope_from(args: argparse.Namespace):
    from newsarchive.query import Scope

    return Scope(
        outlets=_split(args.outlet),
        collections=_split(args.collection),
        languages=_split(args.lang),
        since=_date(args.since, "--since"),
        until=_date(args.until, "--until"),
    )


def open_archive(args: argparse.Namespace):
    """Read-only connection; builds the query index first if the archive has none."""
    from newsarchive.index.db import connect, resolve_db_path
    from newsarchive.query.index import has_index, rebuild_index

    path = resolve_db_path(args.db)
    con = connect(path, read_only=True, timeout=args.timeout)
    if has_index(con):
        return con
    con.close()
    print("building the query index…", file=sys.stderr)
    rebuild_index(path, timeout=max(args.timeout, 60.0))
    return connect(path, read_only=True, timeout=args.timeout)


def errors():
    """The exceptions a verb turns into one ``error:`` line."""
    import duckdb

    from newsarchive.index.db import ArchiveError
    from newsarchive.query import QueryError, QuerySyntaxError

    return (ValueError, ArchiveError, QueryError, QuerySyntaxError, duckdb.Error, OSError)


def cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 6)
    return v


def emit(columns: list[str], rows: list[tuple], fmt: str) -> None:
    out = sys.stdout
    if fmt == "json":
        json.dump(
            [{c: cell(v) for c, v in zip(columns, r, strict=True)} for r in rows],
            out,
            ensure_ascii=False,
            indent=1,
        )
        out.write("\n")
    elif fmt == "csv":
        w = csv.writer(out)
        w.writerow(columns)
        w.writerows([[cell(v) for v in r] for r in rows])
    else:
        cells = [[str(cell(v)) if v is not None else "" for v in r] for r in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        out.write(
            "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n"
        )
        for r in cells:
            out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
