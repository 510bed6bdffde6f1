"""Politeness for the whole fleet: one per-host schedule in Redis that every worker obeys.

Before a request leaves, ``FleetPolitenessMiddleware`` reserves the host's next send slot
with one Lua script on the Redis clock: the slot is the later of now, the host's next
allowed time and its Retry-After pause, and the next allowed time moves to slot + delay,
where delay is the larger of the configured delay and the host's robots.txt Crawl-delay
(learnt by any worker, kept in Redis). The request then waits for its slot. So N workers
together never send to one host faster than one worker may.

Settings: ``NEWSARCHIVE_FLEET_DELAY`` (seconds between requests to a host, default
``DOWNLOAD_DELAY``; the worker sets Scrapy's own per-process delay to 0),
``NEWSARCHIVE_FLEET_DELAY_GUARD`` (added to each reservation so that jitter in when a
request actually leaves never brings two arrivals closer than the delay; default 0.05 s,
none when the delay is 0),
``NEWSARCHIVE_CRAWL_DELAY_MAX`` and ``NEWSARCHIVE_RETRY_AFTER_MAX`` (as for one machine).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured

from newsarchive.discovery import robots_crawl_delay
from newsarchive.fleet.keys import FleetKeys, connect
from newsarchive.politeness import parse_retry_after

STATS = "newsarchive/fleet/politeness/"

# KEYS: host next, host pause, crawl delays hash; ARGV: base delay ms, guard ms, host
_RESERVE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
local delay = tonumber(ARGV[1])
local cd = redis.call('HGET', KEYS[3], ARGV[3])
if cd and tonumber(cd) > delay then delay = tonumber(cd) end
local slot = math.max(now, nxt, pause)
local step = delay
if delay > 0 then step = delay + tonumber(ARGV[2]) end
redis.call('SET', KEYS[1], slot + step, 'PX', math.floor(slot - now + step + 60000))
return slot - now
"""

# KEYS: host pause; ARGV: pause ms  (only ever extends the pause)
_PAUSE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then redis.call('SET', KEYS[1], untl, 'PX', tonumber(ARGV[1]) + 60000) end
return untl
"""


class FleetPolitenessMiddleware:
    def __init__(self, crawler, server, keys: FleetKeys, delay: float, guard: float) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.server = server
        self.keys = keys
        self.delay_ms = int(delay * 1000)
        self.guard_ms = int(guard * 1000)
        s = crawler.settings
        self.delay_max = s.getfloat("NEWSARCHIVE_CRAWL_DELAY_MAX", 60.0)
        self.retry_max = s.getfloat("NEWSARCHIVE_RETRY_AFTER_MAX", 600.0)
        self.user_agent = s.get("USER_AGENT", "")
        self._reserve = server.register_script(_RESERVE)
        self._pause = server.register_script(_PAUSE)

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        url = s.get("REDIS_URL")
        if not url or not s.getbool("NEWSARCHIVE_FLEET_POLITENESS", True):
            raise NotConfigured("no REDIS_URL: not a fleet worker")
        delay = s.get("NEWSARCHIVE_FLEET_DELAY")
        delay = float(delay) if delay not in (None, "") else s.getfloat("DOWNLOAD_DELAY", 0.0)
        return cls(
            crawler,
            connect(url),
            FleetKeys(s.get("NEWSARCHIVE_FLEET_PREFIX") or "na"),
            delay,
            s.getfloat("NEWSARCHIVE_FLEET_DELAY_GUARD", 0.05),
        )

    async def process_request(self, request):
        host = (urlsplit(request.url).hostname or "").lower()
        if not host:
            return None
        wait_ms = await asyncio.to_thread(
            self._reserve,
            keys=[self.keys.host_next(host), self.keys.host_pause(host), self.keys.crawl_delays],
            args=[self.delay_ms, self.guard_ms, host],
        )
        if wait_ms and int(wait_ms) > 0:
            self.stats.inc_value(STATS + "waits")
            await asyncio.sleep(int(wait_ms) / 1000)
        return None

    def process_response(self, request, response):
        host = (urlsplit(request.url).hostname or "").lower()
        if urlsplit(request.url).path == "/robots.txt" and response.status == 200:
            delay = robots_crawl_delay(response.body, self.user_agent)
            if delay and self.delay_max:
                ms = int(min(delay, self.delay_max) * 1000)
                self.server.hset(self.keys.crawl_delays, host, ms)
                self.stats.set_value(STATS + f"crawl_delay/{host}", ms / 1000)
        if response.status in (429, 503):
            after = parse_retry_after(response.headers.get(b"Retry-After"))
            if after is not None:
                ms = int(min(after, self.retry_max) * 1000)
                self._pause(keys=[self.keys.host_pause(host)], args=[ms])
                self.stats.inc_value(STATS + f"retry_after/{response.status}")
        return response
