"""``newsarchive reindex``: rebuild the archive's captures and articles from WARC files,
into a new file swapped in only when complete."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reindex", help="rebuild captures and articles from WARC files alone")
    p.add_argument("warcs", nargs="+", metavar="WARC", help="WARC files or directories")
    p.add_argument("--db", help="archive file (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument(
        "--extract-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="per-page extraction timeout (default: NEWSARCHIVE_EXTRACT_TIMEOUT, 30 s); "
        "a slower page is recorded in fetch_errors as extract:timeout",
    )
    p.add_argument("--no-fts", action="store_true", help="skip the full-text index rebuild")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import duckdb

    from newsarchive.index.db import ArchiveError, resolve_db_path
    from newsarchive.index.fts import rebuild_fts
    from newsarchive.index.reindex import reindex

    db = resolve_db_path(args.db)
    try:
        # built in a new file and renamed over the archive when complete (query index and
        # stories included): a kill leaves the old archive as it was
        result = reindex(
            args.warcs,
            db,
            workers=args.workers,
            progress=not args.quiet,
            extract_timeout=args.extract_timeout,
        )
        if not args.no_fts:
            rebuild_fts(db)  # a side file, itself replaced atomically
    except (OSError, ArchiveError, RuntimeError, duckdb.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in result.error_details[:20]:
        print(f"warning: {line}", file=sys.stderr)
    print(
        f"reindexed {result.files} WARC file(s) into {db}: {result.captures} captures, "
        f"{result.articles} articles, {result.errors} errors recorded in fetch_errors",
        file=sys.stderr,
    )
    return 0
