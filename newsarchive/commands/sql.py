"""``newsarchive sql``: run SQL against the archive (read-only) and print or save the result.

Read-only is enforced by DuckDB itself (:mod:`newsarchive.index.sandbox`): no statement can
write, read or load a file. The only file written is ``--output``, which is checked first
and written through a temporary file beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any

FORMATS = ("table", "csv", "json", "parquet")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="run a SQL query on the archive (read-only)")
    p.add_argument("query", help='SQL, e.g. "SELECT outlet, count(*) FROM articles GROUP BY 1"')
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing --output file")
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


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run(args: argparse.Namespace) -> int:
    import duckdb

    from newsarchive.index.db import ArchiveError, resolve_db_path
    from newsarchive.index.sandbox import check_output_path, connect_sandboxed

    if args.format == "parquet" and not args.output:
        print("error: --format parquet needs --output FILE", file=sys.stderr)
        return 2
    db = resolve_db_path(args.db)
    target = tmp = None
    try:
        if args.output:
            target = check_output_path(args.output, db, force=args.force)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        allowed = (str(tmp),) if args.format == "parquet" and tmp else ()
        con = connect_sandboxed(db, timeout=args.timeout, allowed_paths=allowed)
    except ArchiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            statements = con.extract_statements(args.query)
        except duckdb.Error as exc:
            print(f"error: {_one_line(exc)}", file=sys.stderr)
            return 2
        if not statements:
            print(
                "error: no SQL statement given (the query is empty or only a comment)",
                file=sys.stderr,
            )
            return 2
        if args.format == "parquet":
            rel = con.sql(args.query)
            if rel is None:
                print("error: the last statement returns no rows to write", file=sys.stderr)
                return 2
            rel.write_parquet(str(tmp))
            os.replace(tmp, target)
            print(f"wrote {args.output}", file=sys.stderr)
            return 0
        cur = con.execute(args.query)
        columns = [d[0] for d in cur.description] if cur is not None and cur.description else []
        if not columns:
            rows = []
        elif args.format == "table":  # a terminal table never needs the whole result
            rows = cur.fetchmany(args.max_rows + 1)
        else:
            rows = cur.fetchall()
    except duckdb.PermissionException as exc:
        print(
            f"error: newsarchive sql is read-only and cannot touch files or extensions "
            f"({_one_line(exc)})",
            file=sys.stderr,
        )
        return 2
    except duckdb.Error as exc:
        msg = _one_line(exc)
        if "configuration has been locked" in msg:
            msg = f"newsarchive sql cannot change DuckDB settings ({msg})"
        print(f"error: {msg}", file=sys.stderr)
        return 2
    finally:
        con.close()
        if tmp is not None and tmp.exists():
            tmp.unlink()
    if target is None:
        _write(args, columns, rows, sys.stdout)
        return 0
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as out:
            _write(args, columns, rows, out)
        os.replace(tmp, target)
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        if tmp.exists():
            tmp.unlink()
    return 0


def _write(args: argparse.Namespace, columns: list[str], rows: list[tuple], out) -> None:
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
