"""``newsarchive worker``: one crawl worker of a fleet sharing a Redis frontier."""

from __future__ import annotations

import argparse
import sys

from newsarchive.registry import RegistryError, load_outlets


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="crawl worker fed by a shared Redis frontier (a fleet)")
    p.add_argument("--redis", required=True, help="Redis URL, e.g. redis://10.0.0.5:6379/0")
    p.add_argument("--outlets", help="comma-separated outlets to work on (default: all)")
    p.add_argument("--warc-dir", default="warc", help="shared WARC directory (default warc/)")
    p.add_argument(
        "--spool-dir", default="spool", help="shared directory of worker spools (default spool/)"
    )
    p.add_argument("--worker-id", help="default: <hostname>-<pid>-<random>")
    p.add_argument(
        "--until-idle",
        type=float,
        help="exit after the frontier has been empty this many seconds (default: run forever)",
    )
    p.add_argument("--lease", type=float, default=60.0, help="lease timeout in seconds")
    p.add_argument("--proxy", help="send every request through this proxy (e.g. the replica)")
    p.add_argument("--fast", action="store_true", help="replica only: no politeness delay")
    p.add_argument("--prefix", default="na", help="Redis key prefix of the fleet")
    p.add_argument(
        "--redis-timeout",
        type=float,
        help="stop (exit 1) after Redis was unreachable this many seconds "
        "(NEWSARCHIVE_FLEET_REDIS_TIMEOUT, default 60)",
    )
    p.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.commands.crawl import parse_overrides

    try:
        registry = load_outlets()
    except RegistryError as exc:
        print(f"newsarchive worker: {exc}", file=sys.stderr)
        return 2
    keys = sorted(registry) if not args.outlets else [k.strip() for k in args.outlets.split(",")]
    unknown = [k for k in keys if k not in registry]
    if unknown or not keys:
        print(f"newsarchive worker: unknown outlet(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    args.db = args.max_age_days = args.max_articles = None
    try:
        overrides = parse_overrides(args)
    except ValueError as exc:
        print(f"newsarchive worker: {exc}", file=sys.stderr)
        return 2
    overrides.pop("NEWSARCHIVE_WARC_DIR", None)
    overrides["NEWSARCHIVE_FLEET_LEASE_SECONDS"] = args.lease
    if args.redis_timeout is not None:
        overrides["NEWSARCHIVE_FLEET_REDIS_TIMEOUT"] = args.redis_timeout
    env = {}
    if args.proxy:
        env = {"http_proxy": args.proxy, "https_proxy": args.proxy, "no_proxy": ""}
    from redis.exceptions import RedisError

    from newsarchive.fleet.keys import connect
    from newsarchive.fleet.worker import run_worker

    try:
        connect(args.redis).ping()
    except (RedisError, ValueError) as exc:
        print(f"newsarchive worker: cannot reach Redis at {args.redis}: {exc}", file=sys.stderr)
        return 1
    result = run_worker(
        args.redis,
        keys,
        args.warc_dir,
        args.spool_dir,
        worker_id=args.worker_id,
        overrides=overrides,
        until_idle=args.until_idle,
        env=env,
        prefix=args.prefix,
    )
    pages = sum(r.pages for r in result.outlets)
    print(
        f"worker {result.worker_id}: {pages} pages in {result.duration:.1f} s (run {result.run_id})"
    )
    if result.lost:
        print(
            f"newsarchive worker: {result.lost}; stopped with WARC files closed and the spool "
            f"sealed, run {result.run_id} recorded as failed",
            file=sys.stderr,
        )
        return 1
    if not result.ok:
        failed = "; ".join(f"{k}: {v}" for k, v in result.failures.items())
        print(f"newsarchive worker: run {result.run_id} failed: {failed}", file=sys.stderr)
        return 1
    return 0
