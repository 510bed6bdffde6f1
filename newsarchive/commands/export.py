"""``newsarchive export parquet DIR``: the archive as Hive-partitioned Parquet.

``newsarchive export wacz OUT.wacz``: the archive (or a subset) as a WACZ 1.1 file
(:mod:`newsarchive.replay.wacz`)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the archive (Parquet by outlet and month; WACZ)")
    p.add_argument("format", choices=("parquet", "wacz"))
    p.add_argument("dir", help="output directory (parquet) or file (wacz)")
    p.add_argument("--db", help="archive file (default archive.duckdb or $NEWSARCHIVE_DB)")
    w = p.add_argument_group("wacz")
    w.add_argument("--outlet", action="append", help="only this outlet key (repeatable)")
    w.add_argument("--since", help="published (or fetched) on/after this date")
    w.add_argument("--until", help="published (or fetched) before this date")
    w.add_argument("--query", help="only articles matching these words")
    w.add_argument("--warc-dir", default=None, help="WARC directory (default: settings)")
    w.add_argument("--acl", help="pywb .aclj access rules (default: WARC_DIR/access.aclj)")
    p.set_defaults(func=run)


def run_wacz(args: argparse.Namespace) -> int:
    import duckdb

    from newsarchive.commands.search import _date, _outlets
    from newsarchive.commands.show import _warc_dir
    from newsarchive.index.db import ArchiveError, connect, resolve_db_path
    from newsarchive.replay.access import AccessRuleError
    from newsarchive.replay.wacz import ExportError, export_wacz
    from newsarchive.warc.records import WarcFormatError

    try:
        since, until = _date(args.since, "--since"), _date(args.until, "--until")
        path = resolve_db_path(args.db)
        if not path.exists():
            raise ArchiveError(f"no archive at {path} (crawl first, or pass --db)")
        con = connect(path, read_only=True)
        try:
            res = export_wacz(
                args.dir,
                _warc_dir(args),
                con,
                outlets=tuple(_outlets(args.outlet) or ()),
                since=since,
                until=until,
                query=args.query,
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
    if args.format == "wacz":
        return run_wacz(args)
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
