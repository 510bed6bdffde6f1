"""``newsarchive sql``: run SQL against the archive (read-only) and print or save the result."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

FORMATS = ("table", "csv", "json", "parquet")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="run a SQL query on the archive (read-only)")
    p.add_argument("query", help='SQL, e.g. "SELECT outlet, count(*) FROM articles GROUP BY 1"')
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.add_argument("--db", help="archive file (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.add_argument("--width", type=int, default=40, help="table: widest cell shown (chars)")
    p.add_argument("--max-rows", type=int, default=1000, help="table: rows shown at most")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the lock")
    p.set_defaults(func=run)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def format_table(columns: list[str], rows: list[tuple], width: int) -> str:
    def clip(s: str) -> str:
        s = s.replace("\n", " ").replace("\t", " ")
        return s if len(s) <= width else s[: max(1, width - 1)] + "…"

    cells = [[clip(_cell(v)) for v in r] for r in rows]
    widths = [len(c) for c in columns]
    for r in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, r, strict=True)]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)), line]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(s.rstrip() for s in out)


def run(args: argparse.Namespace) -> int:
    import duckdb

    from newsarchive.index.db import ArchiveError, connect, resolve_db_path

    if args.format == "parquet" and not args.output:
        print("error: --format parquet needs --output FILE", file=sys.stderr)
        return 2
    try:
        con = connect(resolve_db_path(args.db), read_only=True, timeout=args.timeout)
    except ArchiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        from newsarchive.index.fts import load_fts

        try:  # so that fts_main_*.match_bm25 works in ad-hoc queries too
            load_fts(con)
        except ArchiveError:
            pass
        if args.format == "parquet":
            target = str(Path(args.output)).replace("'", "''")
            con.execute(f"COPY ({args.query.rstrip().rstrip(';')}) TO '{target}' (FORMAT parquet)")
            print(f"wrote {args.output}", file=sys.stderr)
            return 0
        cur = con.execute(args.query)
        columns = [d[0] for d in cur.description] if cur.description else []
        if not columns:
            rows = []
        elif args.format == "table":  # a terminal table never needs the whole result
            rows = cur.fetchmany(args.max_rows + 1)
        else:
            rows = cur.fetchall()
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "csv":
            w = csv.writer(out)
            w.writerow(columns)
            w.writerows([[_cell(v) if v is not None else "" for v in r] for r in rows])
        elif args.format == "json":
            json.dump(
                [dict(zip(columns, map(_jsonable, r), strict=True)) for r in rows],
                out,
                ensure_ascii=False,
                indent=1,
            )
            out.write("\n")
        else:
            shown = rows[: args.max_rows]
            out.write(format_table(columns, shown, args.width) + "\n")
            if len(rows) > len(shown):
                print(
                    f"(first {len(shown)} rows shown; use --max-rows or --format csv for all)",
                    file=sys.stderr,
                )
            else:
                print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=sys.stderr)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
