"""scrapy-redis' scheduler and dupefilter, fitted to the fleet.

``FleetScheduler`` acknowledges a lease when its request comes back as a retry or redirect
(the follow-up is queued first, so the work is never in neither place), and counts its
work in namespaced stats. ``FleetDupeFilter`` is the fleet's seen-set: an article URL is
seen once per ``lastmod`` (an updated article passes again, as the one-machine seen-set
lets it), and discovery documents (sitemaps, feeds) once per run, so the next run
fetches them again.
"""

from __future__ import annotations

import hashlib

from redis.exceptions import RedisError
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from newsarchive.fleet.keys import FleetKeys
from newsarchive.fleet.queue import LEASE_META
from newsarchive.fleet.watch import WATCH

STATS = "newsarchive/fleet/"
RUN_SEEN_TTL = 3 * 86400


def _callback_name(request) -> str:
    cb = request.callback
    return getattr(cb, "__name__", "") if cb is not None else ""


class FleetDupeFilter(RFPDupeFilter):
    def __init__(self, server, key: str, debug: bool = False) -> None:
        super().__init__(server, key, debug)
        self.keys = FleetKeys()
        self.outlet = ""

    @classmethod
    def from_spider(cls, spider):
        df = super().from_spider(spider)
        df.keys = getattr(spider, "fleet_keys", FleetKeys())
        df.outlet = spider.name
        return df

    def seen_member(self, request) -> tuple[str, str, int]:
        """The seen-set key, member and expiry (0: none) that mark ``request`` as seen."""
        if _callback_name(request) == "parse_article":
            lastmod = (request.meta.get("discovery") or {}).get("lastmod") or ""
            fp = hashlib.sha1(f"{request.url}\n{lastmod}".encode()).hexdigest()
            return self.key, fp, 0
        # Discovery documents: seen once per run (the run id is set by each seeding).
        run_id = (self.server.get(self.keys.run(self.outlet)) or b"norun").decode()
        key = self.keys.run_dupefilter(self.outlet, run_id)
        return key, self.request_fingerprint(request), RUN_SEEN_TTL

    def request_seen(self, request) -> bool:
        key, member, ttl = self.seen_member(request)
        pipe = self.server.pipeline(transaction=False)
        pipe.sadd(key, member)
        if ttl:
            pipe.expire(key, ttl)
        return pipe.execute()[0] == 0

    def close(self, reason: str = "") -> None:
        pass  # the seen-set outlives every worker: it is the fleet's


class FleetScheduler(Scheduler):
    """Redis errors are reported to the worker's :data:`WATCH`, never raised into Scrapy:
    a request that cannot be queued leaves its parent's lease unacknowledged, so the parent
    is done again once Redis is back (see :mod:`newsarchive.fleet.watch`)."""

    def enqueue_request(self, request) -> bool:
        lease = request.meta.get(LEASE_META)
        if WATCH.lost:  # stopping: the parent's lease expires and another worker redoes it
            return False
        try:
            if request.dont_filter:
                queued = self.queue.push(request)
            else:
                queued = self.queue.push(request, self.df.seen_member(request))
        except RedisError as exc:
            WATCH.failed(exc)
            if self.stats:
                self.stats.inc_value(STATS + "enqueue_failed")
            if lease:  # a retry/redirect: no longer renewed, its lease expires and is redone
                self.queue.held.discard(lease)
            return False
        if not queued:
            self.df.log(request, self.spider)
        elif self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        if lease:  # the follow-up is queued (or seen): the leased request is done
            try:
                self.queue.ack(lease)
            except RedisError as exc:  # the lease expires: done twice, a revisit
                WATCH.failed(exc)
            if self.stats:
                self.stats.inc_value(STATS + "handed_on")
        return queued

    def next_request(self):
        if WATCH.lost:
            return None
        try:
            request = self.queue.pop(0)
        except RedisError as exc:
            WATCH.failed(exc)
            return None
        if request is not None and self.stats:
            self.stats.inc_value(STATS + "leased")
        return request

    def has_pending_requests(self) -> bool:
        if WATCH.lost:
            return False
        try:
            return len(self.queue) > 0
        except RedisError as exc:
            WATCH.failed(exc)
            return False

    def close(self, reason: str) -> None:
        # Leases still held (a shutdown mid-crawl) are handed back at once rather than
        # waiting for their timeout; without Redis they just expire.
        held = list(self.queue.held)
        self.queue.held.clear()
        if not held or WATCH.lost:
            return
        try:
            pipe = self.server.pipeline(transaction=True)
            pipe.zadd(self.queue.leases_key, dict.fromkeys(held, 0), xx=True)
            pipe.execute()
            self.queue.reap(len(held) + 100)
        except RedisError as exc:
            WATCH.failed(exc)
