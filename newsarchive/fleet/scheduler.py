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

from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from newsarchive.fleet.keys import FleetKeys
from newsarchive.fleet.queue import LEASE_META

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

    def request_seen(self, request) -> bool:
        if _callback_name(request) == "parse_article":
            lastmod = (request.meta.get("discovery") or {}).get("lastmod") or ""
            fp = hashlib.sha1(f"{request.url}\n{lastmod}".encode()).hexdigest()
            return self.server.sadd(self.key, fp) == 0
        # Discovery documents: seen once per run (the run id is set by each seeding).
        run_id = (self.server.get(self.keys.run(self.outlet)) or b"norun").decode()
        key = self.keys.run_dupefilter(self.outlet, run_id)
        pipe = self.server.pipeline(transaction=False)
        pipe.sadd(key, self.request_fingerprint(request))
        pipe.expire(key, RUN_SEEN_TTL)
        added, _ = pipe.execute()
        return added == 0

    def close(self, reason: str = "") -> None:
        pass  # the seen-set outlives every worker: it is the fleet's


class FleetScheduler(Scheduler):
    def enqueue_request(self, request) -> bool:
        lease = request.meta.get(LEASE_META)
        try:
            queued = super().enqueue_request(request)
        finally:
            if lease:
                self.queue.ack(lease)
                if self.stats:
                    self.stats.inc_value(STATS + "handed_on", spider=self.spider)
        return queued

    def next_request(self):
        request = self.queue.pop(0)
        if request is not None and self.stats:
            self.stats.inc_value(STATS + "leased", spider=self.spider)
        return request

    def has_pending_requests(self) -> bool:
        return len(self.queue) > 0

    def close(self, reason: str) -> None:
        # Leases still held (a shutdown mid-crawl) are handed back at once rather than
        # waiting for their timeout.
        held = list(self.queue.held)
        if held:
            pipe = self.server.pipeline(transaction=True)
            pipe.zadd(self.queue.leases_key, dict.fromkeys(held, 0), xx=True)
            pipe.execute()
            self.queue.held.clear()
            self.queue.reap(len(held) + 100)
