"""The WARC writer of a fleet worker: its own files, a revisit index shared in Redis.

Each worker writes files named with its worker id (``NEWSARCHIVE_WARC_PREFIX``), so
workers never share a file. The URL -> last full capture map lives in Redis, so a page
another worker already stored (for instance one fetched again because its lease ran out
when a worker died) is written as a ``revisit`` record, not a second full response.
"""

from __future__ import annotations

from pathlib import Path

from newsarchive.fleet.keys import FleetKeys, connect
from newsarchive.warc.writer import Prior, WarcWriter


class RedisRevisitIndex:
    """The ``RevisitIndex`` interface over a Redis hash (url -> digest, date, record id)."""

    def __init__(self, server, key: str) -> None:
        self.server = server
        self.key = key
        self.full = False
        self.max_urls = 0

    def load(self, directory: Path) -> int:
        return int(self.server.hlen(self.key))

    def get(self, url: str) -> Prior | None:
        raw = self.server.hget(self.key, url)
        if not raw:
            return None
        digest, date, record_id = raw.decode().split(" ", 2)
        return Prior(digest, date, record_id)

    def add(self, url: str, prior: Prior) -> None:
        self.server.hset(self.key, url, f"{prior.digest} {prior.date} {prior.record_id}")


class FleetWarcWriter(WarcWriter):
    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        s = crawler.settings
        url = s.get("REDIS_URL")
        if url:
            keys = FleetKeys(s.get("NEWSARCHIVE_FLEET_PREFIX") or "na")
            self.index = RedisRevisitIndex(connect(url), keys.revisits)
