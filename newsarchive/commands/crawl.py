"""``newsarchive crawl``: one crawl job over some or all outlets, fit for cron.

Exit codes: 0 success; 1 an outlet failed (its spider closed abnormally, or it got no
successful response at all: no network, proxy down); 2 usage error; 75 another job holds an
outlet. Every run that starts writes its ``crawl_runs`` row (see docs/RUNS.md).

By default the output is one progress line per outlet (``NEWSARCHIVE_PROGRESS``) instead of
Scrapy's INFO log; ``-v`` gives the Scrapy log.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from newsarchive.locks import LockHeld, OutletLocks
from newsarchive.registry import RegistryError, load_outlets

EXIT_LOCKED = 75


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crawl", help="crawl outlets into WARC files and the index")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--outlets", help="comma-separated registry keys (spider names)")
    group.add_argument("--all", action="store_true", help="every outlet in the registry")
    p.add_argument("--db", help="DuckDB index file (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.add_argument("--warc-dir", help="WARC output directory (default warc/)")
    p.add_argument("--max-age-days", type=float, help="skip dated entries older than this")
    p.add_argument("--max-articles", type=int, help="per outlet, stop after N article requests")
    p.add_argument("--proxy", help="send every request through this proxy (e.g. the replica)")
    p.add_argument(
        "--fast", action="store_true", help="no politeness delays: only for the local replica"
    )
    p.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a Scrapy/newsarchive setting",
    )
    p.add_argument("--stats-json", help="write the run's stats as JSON to this file")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="Scrapy's INFO log instead of the per-outlet progress lines",
    )
    p.add_argument(
        "--redis",
        help="fleet mode: only seed the outlets' sources into this Redis frontier "
        "(workers crawl them: see `newsarchive worker`)",
    )
    p.set_defaults(func=run)


def parse_overrides(args: argparse.Namespace) -> dict:
    from newsarchive.settings import replica_overrides

    overrides: dict = replica_overrides() if args.fast else {}
    if not getattr(args, "verbose", False):
        overrides["LOG_LEVEL"] = "WARNING"
        overrides["NEWSARCHIVE_PROGRESS"] = True
        overrides["NEWSARCHIVE_LOG_TRACEBACKS"] = False
    db = args.db or os.environ.get("NEWSARCHIVE_DB")
    if db:
        overrides["NEWSARCHIVE_DB"] = db
    if args.warc_dir:
        overrides["NEWSARCHIVE_WARC_DIR"] = args.warc_dir
    if args.max_age_days is not None:
        overrides["NEWSARCHIVE_MAX_AGE_DAYS"] = args.max_age_days
    if args.max_articles is not None:
        overrides["NEWSARCHIVE_MAX_ARTICLES"] = args.max_articles
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--set wants NAME=VALUE, got {item!r}")
        overrides[name.strip()] = value
    return overrides


def run(args: argparse.Namespace) -> int:
    try:
        registry = load_outlets()
    except RegistryError as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return 2
    keys = sorted(registry) if args.all else [k.strip() for k in args.outlets.split(",") if k]
    unknown = [k for k in keys if k not in registry]
    if unknown or not keys:
        print(
            f"newsarchive crawl: unknown outlet(s): {', '.join(unknown) or '(none given)'}; "
            "see `scrapy list`",
            file=sys.stderr,
        )
        return 2
    try:
        overrides = parse_overrides(args)
    except ValueError as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return 2
    if args.redis:
        from newsarchive.fleet.cli import seed_command

        return seed_command(args.redis, keys, overrides)
    env = {}
    if args.proxy:
        env = {"http_proxy": args.proxy, "https_proxy": args.proxy, "no_proxy": ""}
    db = Path(overrides.get("NEWSARCHIVE_DB", "archive.duckdb"))
    locks = OutletLocks(db.parent / f".{db.name}.locks", keys)
    try:
        locks.acquire()
    except LockHeld as exc:
        print(f"newsarchive crawl: refused: {exc}; not starting a second run", file=sys.stderr)
        return EXIT_LOCKED
    from newsarchive.crawl import RunNotStarted, run_recorded
    from newsarchive.report import run_summary

    try:
        run = run_recorded(keys, overrides, env, db)
    except RunNotStarted as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return 1
    finally:
        locks.release()
    if args.stats_json:
        stats = {**run.stats, "added": run.added}
        Path(args.stats_json).write_text(json.dumps(stats, indent=2, default=str))
    print(run_summary(run.result, run.added))
    for warning in run.warnings:
        print(f"warning: {warning}")
    return 0 if run.result.ok else 1
