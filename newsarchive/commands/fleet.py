"""``newsarchive fleet``: queue sizes, workers alive and their pages per minute."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fleet", help="show a fleet's frontier and workers (Redis)")
    p.add_argument("--redis", required=True, help="Redis URL of the fleet")
    p.add_argument("--prefix", default="na", help="Redis key prefix of the fleet")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from newsarchive.fleet.status import fleet_status
    from newsarchive.registry import RegistryError, load_outlets

    try:
        status = fleet_status(args.redis, sorted(load_outlets()), args.prefix)
    except (RedisError, ValueError, RegistryError) as exc:
        print(f"newsarchive fleet: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(asdict(status), indent=2))
    else:
        print(status.render())
    return 0
