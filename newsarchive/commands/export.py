"""``newsarchive export parquet DIR``: the archive as Hive-partitioned Parquet."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export articles matching QUERY (csv/jsonl/parquet, with provenance, resumable); "
        "`export parquet DIR` exports the whole archive by outlet and month",
    )
    p.add_argument("query", help="query, or 'parquet' for the whole-archive export")
    p.add_argument("dir", nargs="?", help="(whole-archive export) output directory")
    p.add_argument("--format", choices=("csv", "jsonl", "parquet"), default="jsonl")
    p.add_argument("--output", "-o", help="output file (parquet: directory); default stdout")
    p.add_argument("--resume", action="store_true", help="continue from <output>.cursor")
    from newsarchive.commands._query_args import add_scope_args

    add_scope_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.query == "parquet" and args.dir:
        return run_archive(args)
    if args.dir:
        print("error: unexpected argument " + repr(args.dir), file=sys.stderr)
        return 2
    from newsarchive.commands._query_args import errors, open_archive, scope_from
    from newsarchive.query.export import read_cursor, write_rows

    try:
        scope = scope_from(args)
        cursor = None
        if args.resume:
            if not args.output:
                raise ValueError("--resume needs --output")
            cursor = read_cursor(args.output)
            if cursor is None:
                raise ValueError(f"nothing to resume: no {args.output}.cursor")
        con = open_archive(args)
        try:
            out = args.output or sys.stdout
            n, cur = write_rows(con, args.query, scope, args.format, out, cursor=cursor)
        finally:
            con.close()
    except errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{n} articles exported (cursor {cur})", file=sys.stderr)
    return 0


def run_archive(args: argparse.Namespace) -> int:
    import duckdb

    from newsarchive.index.db import ArchiveError, resolve_db_path
    from newsarchive.index.export import export_parquet

    try:
        counts = export_parquet(resolve_db_path(args.db), args.dir)
    except (ArchiveError, duckdb.Error, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        ", ".join(f"{n} {t}" for t, n in counts.items()) + f" exported to {args.dir}",
        file=sys.stderr,
    )
    return 0
