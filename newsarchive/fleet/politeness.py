"""Politeness for the whole fleet: one per-host schedule in Redis that every worker obeys.

Right before a request leaves (the middleware sits last in the chain), it takes one of the
host's in-flight places in Redis, with one Lua script on the Redis clock: granted when the
host's next allowed time and its Retry-After pause have passed and fewer than
``NEWSARCHIVE_FLEET_HOST_CONCURRENCY`` requests to the host are in flight, fleet-wide. When the
response (or the error) comes back, the place is given back and the next allowed time moves to
now + delay, where delay is the larger of the configured delay and the host's robots.txt
Crawl-delay (learnt by any worker, kept in Redis).

With the default of one request in flight per host, the next request is sent only after the
previous response arrived plus the delay, so the gap between two arrivals at the host is never
below the delay, however late a loaded machine sends or reads. A place whose worker died is
freed after ``DOWNLOAD_TIMEOUT`` + 5 s.

Settings: ``NEWSARCHIVE_FLEET_DELAY`` (seconds, default ``DOWNLOAD_DELAY``; the worker sets
Scrapy's own per-process delay to 0), ``NEWSARCHIVE_FLEET_HOST_CONCURRENCY`` (default 1),
``NEWSARCHIVE_CRAWL_DELAY_MAX`` and ``NEWSARCHIVE_RETRY_AFTER_MAX`` (as for one machine).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from scrapy.exceptions import IgnoreRequest, NotConfigured

from newsarchive.discovery import robots_crawl_delay
from newsarchive.fleet.keys import WORKER_SOCKET_TIMEOUT, FleetKeys, connect
from newsarchive.fleet.watch import WATCH
from newsarchive.politeness import parse_retry_after

STATS = "newsarchive/fleet/politeness/"
TOKEN = "fleet_host_token"
POLL = 0.025  # seconds between two tries while the host's places are all taken
REDIS_RETRY = 0.5  # seconds between two tries while Redis cannot be reached

_NOW = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
"""

# KEYS: next, pause, crawl delays, in flight; ARGV: delay ms, host, places, token, hold ms
# Returns 0 (go), ms to wait, or -1 (every place taken: poll).
_ACQUIRE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local t = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'),
                   tonumber(redis.call('GET', KEYS[2]) or '0'))
if t > now then return t - now end
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[3]) then return -1 end
local delay = tonumber(ARGV[1])
local cd = redis.call('HGET', KEYS[3], ARGV[2])
if cd and tonumber(cd) > delay then delay = tonumber(cd) end
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[5]), ARGV[4])
redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[5]) + 60000)
redis.call('SET', KEYS[1], now + delay, 'PX', delay + 60000)
return 0
"""
)

# KEYS: next, crawl delays, in flight; ARGV: delay ms, host, token
_RELEASE = (
    _NOW
    + """
if redis.call('ZREM', KEYS[3], ARGV[3]) == 0 then return 0 end
local delay = tonumber(ARGV[1])
local cd = redis.call('HGET', KEYS[2], ARGV[2])
if cd and tonumber(cd) > delay then delay = tonumber(cd) end
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + delay > nxt then redis.call('SET', KEYS[1], now + delay, 'PX', delay + 60000) end
return 1
"""
)

# KEYS: host pause; ARGV: pause ms  (only ever extends the pause)
_PAUSE = (
    _NOW
    + """
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then redis.call('SET', KEYS[1], untl, 'PX', tonumber(ARGV[1]) + 60000) end
return untl
"""
)


class FleetPolitenessMiddleware:
    def __init__(self, crawler, server, keys: FleetKeys, delay: float, places: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.server = server
        self.keys = keys
        self.delay_ms = int(delay * 1000)
        self.places = max(1, places)
        s = crawler.settings
        self.hold_ms = int((s.getfloat("DOWNLOAD_TIMEOUT", 180) + 5) * 1000)
        self.delay_max = s.getfloat("NEWSARCHIVE_CRAWL_DELAY_MAX", 60.0)
        self.retry_max = s.getfloat("NEWSARCHIVE_RETRY_AFTER_MAX", 600.0)
        self.user_agent = s.get("USER_AGENT", "")
        self._acquire = server.register_script(_ACQUIRE)
        self._release = server.register_script(_RELEASE)
        self._pause = server.register_script(_PAUSE)
        self._unreleased: list[tuple[list[str], list]] = []

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
            connect(url, WORKER_SOCKET_TIMEOUT),
            FleetKeys(s.get("NEWSARCHIVE_FLEET_PREFIX") or "na"),
            delay,
            s.getint("NEWSARCHIVE_FLEET_HOST_CONCURRENCY", 1),
        )

    def _host_keys(self, host: str) -> list[str]:
        return [
            self.keys.host_next(host),
            self.keys.host_pause(host),
            self.keys.crawl_delays,
            f"{self.keys.host_next(host)}:inflight",
        ]

    async def process_request(self, request):
        host = (urlsplit(request.url).hostname or "").lower()
        if not host:
            return None
        token = uuid.uuid4().hex
        keys = self._host_keys(host)
        args = [self.delay_ms, host, self.places, token, self.hold_ms]
        while True:
            try:
                if self._unreleased:
                    await self._release_pending()
                wait = int(await asyncio.to_thread(self._acquire, keys=keys, args=args))
            except RedisError as exc:
                # Without Redis no request may leave (the fleet's delay could not hold):
                # wait for it, or give the request up once the worker stops. Its lease is
                # not acknowledged, so it goes back to the queue for another worker.
                WATCH.failed(exc)
                if WATCH.lost:
                    request.meta["fetch_error"] = "redis_lost"  # not the site's fault
                    raise IgnoreRequest(f"fleet worker stopping: {WATCH.reason()}") from None
                self.stats.inc_value(STATS + "redis_waits")
                await asyncio.sleep(REDIS_RETRY * (0.5 + random.random()))
                continue
            if wait == 0:
                break
            self.stats.inc_value(STATS + "waits")
            await asyncio.sleep(wait / 1000 if wait > 0 else POLL * (0.5 + random.random()))
        request.meta[TOKEN] = (host, token)
        return None

    async def _release_pending(self) -> None:
        pending, self._unreleased = self._unreleased, []

        def release_all() -> None:
            for keys, args in pending:
                self._release(keys=keys, args=args)

        try:
            await asyncio.to_thread(release_all)
        except RedisError:
            self._unreleased.extend(pending)  # a second release of a place is a no-op
            raise

    def _give_back(self, request) -> None:
        held = request.meta.pop(TOKEN, None)
        if held:
            host, token = held
            keys = self._host_keys(host)
            release = ([keys[0], keys[2], keys[3]], [self.delay_ms, host, token])
            try:
                self._release(keys=release[0], args=release[1])
            except RedisError as exc:
                # Given back at the next request that reaches Redis; else the place frees
                # itself after DOWNLOAD_TIMEOUT + 5 s.
                WATCH.failed(exc)
                self._unreleased.append(release)

    def process_response(self, request, response):
        self._give_back(request)
        try:
            self._learn(request, response)
        except RedisError as exc:  # a Crawl-delay or Retry-After not shared this time
            WATCH.failed(exc)
        return response

    def _learn(self, request, response) -> None:
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

    def process_exception(self, request, exception):
        self._give_back(request)
        return None
