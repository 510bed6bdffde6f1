"""A fleet worker: the outlets' spiders in one process, fed by the Redis frontier.

``run_worker`` runs one crawler per outlet, each with the scrapy-redis scheduler over a
leased queue (:mod:`newsarchive.fleet.queue`). The ``FleetWorker`` extension

- acknowledges a lease once the response is fully processed (items through the pipelines,
  follow-up requests queued);
- renews the leases this process holds, and requeues expired leases of dead workers;
- publishes a heartbeat (pages, pages per minute, leases held) for ``newsarchive fleet``;
- keeps an idle spider open while the fleet still has work for its outlet (or forever in
  daemon mode), and releases the outlet's run lock once its queue and leases are empty.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from twisted.internet import task

from newsarchive.fleet.keys import FleetKeys, connect
from newsarchive.fleet.queue import LEASE_META

logger = logging.getLogger(__name__)
STATS = "newsarchive/fleet/"
HEARTBEAT_SECONDS = 1.0

# KEYS: lock, queue, leases; ARGV: run id  -- release the run lock of a drained outlet
_RELEASE = """
if redis.call('ZCARD', KEYS[2]) > 0 or redis.call('ZCARD', KEYS[3]) > 0 then return 0 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class WorkerState:
    """What one worker process reports in its heartbeat (shared by its crawlers)."""

    def __init__(self, worker_id: str, server, keys: FleetKeys) -> None:
        self.worker_id = worker_id
        self.server = server
        self.keys = keys
        self.started = time.time()
        self.pages = 0
        self.recent: collections.deque[float] = collections.deque()
        self.queues: list[Any] = []
        self.outlets: list[str] = []
        self._loop: task.LoopingCall | None = None

    def page(self) -> None:
        now = time.time()
        self.pages += 1
        self.recent.append(now)

    def pages_per_min(self) -> float:
        now = time.time()
        while self.recent and self.recent[0] < now - 60:
            self.recent.popleft()
        window = min(60.0, max(1.0, now - self.started))
        return round(len(self.recent) * 60.0 / window, 1)

    def start(self) -> None:
        if self._loop is None:
            self._loop = task.LoopingCall(self.beat)
            self._loop.start(HEARTBEAT_SECONDS, now=True)

    def beat(self) -> None:
        info = {
            "worker": self.worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self.started,
            "pages": self.pages,
            "pages_per_min": self.pages_per_min(),
            "leases": sum(len(q.held) for q in self.queues),
            "outlets": len(self.outlets),
            "seen": time.time(),
        }
        try:
            pipe = self.server.pipeline(transaction=False)
            pipe.hset(self.keys.workers, self.worker_id, json.dumps(info))
            pipe.zadd(self.keys.heartbeats, {self.worker_id: time.time()})
            for q in self.queues:
                q.renew()
            pipe.execute()
        except Exception as exc:  # Redis away: leases lapse and are requeued, nothing lost
            logger.warning("fleet heartbeat failed: %s", exc)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        try:
            self.server.zrem(self.keys.heartbeats, self.worker_id)
            self.server.hdel(self.keys.workers, self.worker_id)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


_STATE: WorkerState | None = None


class FleetWorker:
    def __init__(self, crawler, server, keys: FleetKeys, until_idle: float | None) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.server = server
        self.keys = keys
        self.until_idle = until_idle
        self.idle_since: float | None = None
        self.queue = None
        self._reaper: task.LoopingCall | None = None
        self._release = server.register_script(_RELEASE)

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        url = s.get("REDIS_URL")
        if not url:
            raise NotConfigured("no REDIS_URL: not a fleet worker")
        until = s.get("NEWSARCHIVE_FLEET_UNTIL_IDLE")
        ext = cls(
            crawler,
            connect(url),
            FleetKeys(s.get("NEWSARCHIVE_FLEET_PREFIX") or "na"),
            float(until) if until not in (None, "") else None,
        )
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        return ext

    def spider_opened(self, spider) -> None:
        global _STATE
        self.queue = self.crawler.engine.scheduler.queue
        if _STATE is None:
            worker_id = self.crawler.settings.get("NEWSARCHIVE_FLEET_WORKER_ID") or "w"
            _STATE = WorkerState(worker_id, self.server, self.keys)
        _STATE.queues.append(self.queue)
        _STATE.outlets.append(spider.name)
        _STATE.start()
        self._wrap_scraper()
        period = max(0.2, min(2.0, self.queue.lease_seconds / 4))
        self._reaper = task.LoopingCall(self._reap)
        self._reaper.start(period, now=False)

    def _wrap_scraper(self) -> None:
        # Scrapy has no signal for "this response is fully processed". Scraper._scrape
        # returns only once the callback's (or errback's) output has been handled: its
        # requests scheduled and its items through every pipeline. Acknowledging after it
        # is what makes a SIGKILL at any earlier point lose nothing.
        scraper = self.crawler.engine.scraper
        inner = scraper._scrape

        async def scrape_then_ack(result, request):
            try:
                await inner(result, request)
            finally:
                lease = request.meta.get(LEASE_META)
                if lease:
                    self.queue.ack(lease)
                    self.stats.inc_value(STATS + "acked")

        scraper._scrape = scrape_then_ack

    def _reap(self) -> None:
        try:
            n = self.queue.reap()
        except Exception as exc:  # noqa: BLE001 - Redis away; try again next tick
            logger.warning("fleet reaper failed: %s", exc)
            return
        if n:
            self.stats.inc_value(STATS + "requeued", n)
            logger.info("fleet: requeued %d expired lease(s) of %s", n, self.crawler.spider.name)

    def response_received(self, response, request, spider) -> None:
        if _STATE is not None:
            _STATE.page()

    def spider_idle(self, spider) -> None:
        queued, leased = len(self.queue), self.queue.leased()
        now = time.monotonic()
        if queued or leased:
            self.idle_since = None
            raise DontCloseSpider
        run_id = self.server.get(self.keys.run(spider.name))
        if run_id:
            self._release(
                keys=[
                    self.keys.lock(spider.name),
                    self.keys.queue(spider.name),
                    self.keys.leases(spider.name),
                ],
                args=[run_id],
            )
        if self.until_idle is None:
            raise DontCloseSpider
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.until_idle:
            raise DontCloseSpider

    def spider_closed(self, spider, reason: str) -> None:
        if self._reaper is not None and self._reaper.running:
            self._reaper.stop()
        if _STATE is not None:
            if self.queue in _STATE.queues:
                _STATE.queues.remove(self.queue)
            if not _STATE.queues:
                _STATE.stop()


def worker_settings(
    redis_url: str,
    worker_id: str,
    warc_dir: str | os.PathLike,
    spool_dir: str | os.PathLike,
    overrides: dict[str, Any] | None = None,
    prefix: str = "na",
) -> dict[str, Any]:
    """Settings that turn a newsarchive crawl process into a fleet worker."""
    from newsarchive import settings as base

    overrides = dict(overrides or {})
    keys = FleetKeys(prefix)
    delay = overrides.pop("DOWNLOAD_DELAY", None)
    if "NEWSARCHIVE_FLEET_DELAY" not in overrides:
        overrides["NEWSARCHIVE_FLEET_DELAY"] = delay if delay is not None else base.DOWNLOAD_DELAY
    extensions = {
        **base.EXTENSIONS,
        "newsarchive.warc.WarcWriter": None,
        "newsarchive.fleet.warc.FleetWarcWriter": 100,
        "newsarchive.jobs.RunRecorder": None,
        "newsarchive.fleet.worker.FleetWorker": 60,
    }
    middlewares = {
        **base.DOWNLOADER_MIDDLEWARES,
        # Last before the download (closest to the send) and first to see every response.
        "newsarchive.fleet.politeness.FleetPolitenessMiddleware": 950,
    }
    pipelines = {
        **base.ITEM_PIPELINES,
        "newsarchive.index.pipeline.IndexPipeline": None,
        "newsarchive.fleet.spool.SpoolOnlyPipeline": 800,
    }
    return {
        "REDIS_URL": redis_url,
        "SCHEDULER": "newsarchive.fleet.scheduler.FleetScheduler",
        "DUPEFILTER_CLASS": "newsarchive.fleet.scheduler.FleetDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "newsarchive.fleet.queue.LeasedQueue",
        "SCHEDULER_QUEUE_KEY": keys.queue_template,
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter_template,
        "SCHEDULER_PERSIST": True,
        "NEWSARCHIVE_FLEET_PREFIX": prefix,
        "NEWSARCHIVE_FLEET_WORKER_ID": worker_id,
        # The fleet's delay is kept in Redis; a per-process delay on top would only slow down.
        "DOWNLOAD_DELAY": 0,
        "DOWNLOAD_DELAY_JITTER": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "EXTENSIONS": extensions,
        "DOWNLOADER_MIDDLEWARES": middlewares,
        "ITEM_PIPELINES": pipelines,
        "NEWSARCHIVE_JOBS_ENABLED": False,
        "NEWSARCHIVE_SEEN": False,  # the Redis dupefilter is the fleet's seen-set
        "NEWSARCHIVE_SECTIONS": "never",  # section fronts are seeded, never a per-worker guess
        "NEWSARCHIVE_WARC_DIR": str(warc_dir),
        "NEWSARCHIVE_WARC_PREFIX": f"newsarchive-{worker_id}",
        "NEWSARCHIVE_DB": str(Path(spool_dir) / worker_id),
        "NEWSARCHIVE_RUN_ID": f"fleet-{worker_id}",
        **overrides,
    }


def new_worker_id() -> str:
    return f"{socket.gethostname().split('.')[0]}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def run_worker(
    redis_url: str,
    outlets: list[str],
    warc_dir: str | os.PathLike,
    spool_dir: str | os.PathLike,
    *,
    worker_id: str | None = None,
    overrides: dict[str, Any] | None = None,
    until_idle: float | None = None,
    env: dict[str, str] | None = None,
    prefix: str = "na",
):
    """Run one worker over ``outlets`` until stopped (or idle ``until_idle`` seconds)."""
    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import CrawlerProcess
    from scrapy.spiderloader import SpiderLoader

    from newsarchive.crawl import CrawlResult, OutletRun, crawl_settings

    if env:
        os.environ.update(env)
    worker_id = worker_id or new_worker_id()
    extra = dict(overrides or {})
    if until_idle is not None:
        extra["NEWSARCHIVE_FLEET_UNTIL_IDLE"] = until_idle
    settings = crawl_settings(
        worker_settings(redis_url, worker_id, warc_dir, spool_dir, extra, prefix)
    )
    # The fleet schedule in Redis is the only per-host throttle. A per-domain cap would
    # hold reserved requests in Scrapy's slot queue and release them back to back.
    settings.set(
        "CONCURRENT_REQUESTS_PER_DOMAIN", settings.getint("CONCURRENT_REQUESTS"), "cmdline"
    )
    # A worker's queue refills from other machines: poll it every half second rather than
    # at Scrapy's 5 s idle heartbeat. This process runs only fleet crawlers.
    ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 0.5
    Path(warc_dir).mkdir(parents=True, exist_ok=True)
    Path(spool_dir).mkdir(parents=True, exist_ok=True)
    loader = SpiderLoader.from_settings(settings)
    keys = FleetKeys(prefix)
    process = CrawlerProcess(settings)
    crawlers = []
    for key in outlets:
        base_cls = loader.load(key)
        cls = type(base_cls.__name__, (FleetSpiderMixin, base_cls), {"fleet_keys": keys})
        crawler = process.create_crawler(cls)
        crawlers.append((key, crawler))
        process.crawl(crawler)
    result = CrawlResult(run_id=worker_id, started=time.time(), finished=0.0)
    process.start()
    result.finished = time.time()
    for key, crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        result.outlets.append(OutletRun(key, str(stats.get("finish_reason", "")), dict(stats)))
    return result


class FleetSpiderMixin:
    """A worker's spider: its start requests come from the frontier, seeded elsewhere."""

    fleet_keys: FleetKeys = FleetKeys()

    async def start(self):
        return
        yield  # an async generator that yields nothing
