"""``newsarchive export parquet DIR``: the archive as Hive-partitioned Parquet."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the archive (Parquet, by outlet and month)")
    p.add_argument("format", choices=("parquet",))
    p.add_argument("dir", help="output directory")
    p.add_argument("--db", help="archive file (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
