"""The WARC writer of a fleet worker: its own files, a revisit index shared in Redis.

Each worker writes files named with its worker id (``NEWSARCHIVE_WARC_PREFIX``), so
workers never share a file. The URL -> last full capture map lives in Redis, so a page
another worker already stored (for instance one fetched again because its lease ran out
when a worker died) is written as a ``revisit`` record, not a second full response.
"""

from __future__ import annotations

from pathlib import Path

from redis.exceptions import RedisError

from newsarchive.fleet.keys import WORKER_SOCKET_TIMEOUT, FleetKeys, connect
from newsarchive.fleet.watch import WATCH
from newsarchive.warc.writer import Prior, WarcWriter


class RedisRevisitIndex:
    """The ``RevisitIndex`` interface over a Redis hash (url -> digest, date, record id)."""

    # No validators nor file positions: a worker's earlier capture may sit in another
    # worker's WARC files, so fleet requests are never conditional (unchanged pages are
    # still kept as identical-payload-digest revisits).
    revalidates = False

    def __init__(self, server, key: str) -> None:
        self.server = server
        self.key = key
        self.full = False
        self.max_urls = 0

    # Without Redis a capture is written as a full response (a duplicate payload, never a
    # lost one) and not added to the map; the WARC write itself never fails for it.

    def load(self, directory: Path) -> int:
        try:
            return int(self.server.hlen(self.key))
        except RedisError as exc:
            WATCH.failed(exc)
            return 0

    def get(self, url: str) -> Prior | None:
        if WATCH.lost:
            return None
        try:
            raw = self.server.hget(self.key, url)
        except RedisError as exc:
            WATCH.failed(exc)
            return None
        if not raw:
            return None
        digest, date, record_id = raw.decode().split(" ", 2)
        return Prior(digest, date, record_id)

    def add(self, url: str, prior: Prior) -> None:
        if WATCH.lost:
            return
        try:
            self.server.hset(self.key, url, f"{prior.digest} {prior.date} {prior.record_id}")
        except RedisError as exc:
            WATCH.failed(exc)


class FleetWarcWriter(WarcWriter):
    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        s = crawler.settings
        url = s.get("REDIS_URL")
        if url:
            keys = FleetKeys(s.get("NEWSARCHIVE_FLEET_PREFIX") or "na")
            self.index = RedisRevisitIndex(connect(url, WORKER_SOCKET_TIMEOUT), keys.revisits)
