"""``newsarchive export``: QUERY as csv/jsonl/parquet, the whole archive as Parquet, or a WACZ."""

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
    w = p.add_argument_group("wacz (`export wacz OUT.wacz`)")
    w.add_argument("--query", dest="wacz_query", help="only articles matching this query")
    w.add_argument("--warc-dir", default=None, help="WARC directory (default: settings)")
    w.add_argument("--acl", help="pywb .aclj access rules (default: WARC_DIR/access.aclj)")
    p.set_defaults(func=run)


def run_wacz(args: argparse.Namespace) -> int:
    import duckdb

    from newsarchive.commands._query_args import scope_from
    from newsarchive.commands.show import _warc_dir
    from newsarchive.index.db import ArchiveError, connect, resolve_db_path
    from newsarchive.replay.access import AccessRuleError
    from newsarchive.replay.wacz import ExportError, export_wacz
    from newsarchive.warc.records import WarcFormatError

    try:
        scope = scope_from(args)
        path = resolve_db_path(args.db)
        if not path.exists():
            raise ArchiveError(f"no archive at {path} (crawl first, or pass --db)")
        con = connect(path, read_only=True)
        try:
            res = export_wacz(
                args.dir,
                _warc_dir(args),
                con,
                outlets=scope.outlets,
                since=scope.since,
                until=scope.until,
                query=args.wacz_query,
                acl=args.acl,
            )
        finally:
            con.close()
    except (ValueError, ArchiveError, ExportError, AccessRuleError, WarcFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (duckdb.Error, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kind = "subset" if res.subset else "full archive"
    print(
        f"{res.path}: {res.pages} pages, {res.captures} captures in {res.warc_files} WARC "
        f"file(s), {res.bytes / 1e6:.1f} MB ({kind}"
        + (f"; {res.excluded} captures excluded by access rules" if res.excluded else "")
        + ")",
        file=sys.stderr,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.query == "parquet" and args.dir:
        return run_archive(args)
    if args.query == "wacz" and args.dir:
        return run_wacz(args)
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
