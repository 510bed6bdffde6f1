"""``newsarchive ingest``: merge the fleet workers' spools into the one archive."""

from __future__ import annotations

import argparse
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="merge fleet workers' index spools into the archive")
    p.add_argument("--spool-dir", default="spool", help="directory of worker spools")
    p.add_argument("--db", help="DuckDB archive (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.add_argument(
        "--redis", help="fleet Redis: open spools of workers without heartbeat are sealed"
    )
    p.add_argument("--prefix", default="na", help="Redis key prefix of the fleet")
    p.add_argument(
        "--final", action="store_true", help="every worker has stopped: seal all open spools"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.fleet.ingest import ingest
    from newsarchive.index.db import ArchiveError

    db = args.db or os.environ.get("NEWSARCHIVE_DB") or "archive.duckdb"
    alive = None
    if args.redis:
        from redis.exceptions import RedisError

        from newsarchive.fleet.status import fleet_status

        try:
            # not only workers beating now: one cut off from Redis still writes until its
            # Redis timeout stops it, and its open segments must not be sealed under it
            workers = fleet_status(args.redis, [], args.prefix).workers
            alive = {w.worker for w in workers if w.may_be_running}
        except RedisError as exc:
            print(f"newsarchive ingest: cannot reach Redis: {exc}", file=sys.stderr)
            return 1
    try:
        result = ingest(args.spool_dir, db, alive=alive, final=args.final)
    except (ArchiveError, OSError) as exc:
        print(f"newsarchive ingest: {exc}", file=sys.stderr)
        return 1
    rows = ", ".join(f"{n} {t}" for t, n in sorted(result.rows.items())) or "no new rows"
    print(
        f"ingested {len(result.workers)} worker spool(s) into {db}: {rows}; "
        f"{result.duplicates_dropped} re-fetched duplicate(s) dropped, "
        f"{result.recovered} open segment(s) of dead workers sealed, "
        f"{result.left_open} left to live workers"
        + (
            f"; {len(result.killed)} run(s) of gone workers recorded as killed"
            if result.killed
            else ""
        )
    )
    return 0
