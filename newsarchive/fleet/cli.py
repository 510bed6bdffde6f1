"""The fleet side of ``newsarchive crawl --redis``: seed, do not crawl."""

from __future__ import annotations

import sys

EXIT_LOCKED = 75


def seed_command(redis_url: str, outlets: list[str], overrides: dict) -> int:
    from redis.exceptions import RedisError

    from newsarchive.fleet.seed import RunLockHeld, seed_outlets

    try:
        result = seed_outlets(
            redis_url,
            outlets,
            prefix=str(overrides.get("NEWSARCHIVE_FLEET_PREFIX", "na")),
            sections=str(overrides.get("NEWSARCHIVE_SECTIONS", "fallback")),
        )
    except RunLockHeld as exc:
        print(f"newsarchive crawl: refused: {exc}; not seeding a second run", file=sys.stderr)
        return EXIT_LOCKED
    except (RedisError, ValueError) as exc:
        print(f"newsarchive crawl: cannot reach Redis at {redis_url}: {exc}", file=sys.stderr)
        return 1
    total = sum(result.seeded.values())
    print(f"fleet run {result.run_id}: seeded {total} source requests for {len(outlets)} outlets")
    return 0
