"""Seeding the frontier: one run per outlet, guarded by a run lock in Redis.

``seed_outlets`` takes each outlet's run lock (``SET NX PX``: a fleet run of an outlet
never starts while the last one still has work; the workers release it once the outlet's
queue and leases are empty, and it expires by itself if the whole fleet dies), records a
new run id, and queues the outlet's discovery documents (robots.txt, sitemaps, news
sitemaps, feeds; section fronts when sections are "always" or the outlet has nothing else).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import scrapy

from newsarchive.fleet.keys import FleetKeys, connect
from newsarchive.fleet.queue import LeasedQueue


class RunLockHeld(RuntimeError):
    """A fleet run of the outlet is still in progress."""


@dataclass
class SeedResult:
    run_id: str
    seeded: dict[str, int] = field(default_factory=dict)


def _requests(spider, sections: str) -> list[scrapy.Request]:
    o = spider.outlet

    def req(url: str, callback, source: str) -> scrapy.Request:
        return scrapy.Request(
            url,
            callback=callback,
            errback=spider.on_error,
            priority=10,
            dont_filter=True,  # a new run fetches its sources again (conditional GET)
            meta={"discovery": {"source": source, "source_url": url}},
        )

    out = []
    if o.robots_sitemaps:
        out.append(req(o.robots_url, spider.parse_robots, "robots"))
    out += [req(u, spider.parse_sitemap, "news_sitemap") for u in o.news_sitemaps]
    out += [req(u, spider.parse_sitemap, "sitemap") for u in o.sitemaps]
    out += [req(u, spider.parse_feed, "feed") for u in o.feeds]
    if sections == "always" or not out:
        out += [req(u, spider.parse_section, "section") for u in o.sections]
    return out


def seed_outlets(
    redis_url: str,
    outlets: list[str],
    *,
    prefix: str = "na",
    lock_ttl: float = 6 * 3600,
    sections: str = "fallback",
    run_id: str | None = None,
) -> SeedResult:
    """Queue a new run of each outlet; raises ``RunLockHeld`` (seeding none) if one is busy."""
    from scrapy.spiderloader import SpiderLoader

    from newsarchive.crawl import crawl_settings

    server = connect(redis_url)
    keys = FleetKeys(prefix)
    run_id = run_id or time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    taken: list[str] = []
    for key in outlets:
        if not server.set(keys.lock(key), run_id, nx=True, px=int(lock_ttl * 1000)):
            holder = (server.get(keys.lock(key)) or b"?").decode()
            for k in taken:
                server.delete(keys.lock(k))
            raise RunLockHeld(f"outlet {key!r} is still being crawled by fleet run {holder}")
        taken.append(key)
    loader = SpiderLoader.from_settings(crawl_settings())
    result = SeedResult(run_id)
    for key in outlets:
        spider = loader.load(key)()
        queue = LeasedQueue(server, spider, keys.queue(key))
        server.set(keys.run(key), run_id)
        requests = _requests(spider, sections)
        for request in requests:
            queue.push(request)
        result.seeded[key] = len(requests)
    return result
