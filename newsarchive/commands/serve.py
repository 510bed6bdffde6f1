"""``newsarchive serve``: the archive in a browser (search, articles, stories, replay, health)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="browse the archive in a web browser (read-only)")
    p.add_argument("--port", type=int, default=8000, help="port of the app (replay: port + 1)")
    p.add_argument(
        "--bind", default="127.0.0.1", help="address to listen on (default: loopback only)"
    )
    p.add_argument("--db", help="archive file (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.add_argument("--warc-dir", default="warc", help="WARC directory (default warc/)")
    p.add_argument("--no-replay", action="store_true", help="do not start pywb beside the app")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.index.db import resolve_db_path
    from newsarchive.web.serve import serve

    db = resolve_db_path(args.db)
    if not db.exists():
        print(
            f"serve: no archive at {db} (run `make demo` or crawl first, or pass --db)",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.port < 65535:
        print("serve: --port must be between 1 and 65534", file=sys.stderr)
        return 2
    _ensure_query_index(db)
    return serve(db, Path(args.warc_dir), args.port, args.bind, replay=not args.no_replay)


def _ensure_query_index(db: Path) -> None:
    """Build the query index once, before serving, if the archive has none (the app itself
    never writes)."""
    from newsarchive.index.db import ArchiveError, connect
    from newsarchive.web import sources

    qi = sources.query_index()
    if qi is None:
        return
    try:
        con = connect(db, read_only=True)
        try:
            present = qi.has_index(con)
        finally:
            con.close()
        if not present:
            print("serve: building the query index first…", file=sys.stderr)
            qi.rebuild_index(db)
    except ArchiveError as exc:
        print(f"serve: {exc}", file=sys.stderr)
