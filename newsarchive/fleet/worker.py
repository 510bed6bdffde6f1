"""A fleet worker: the outlets' spiders in one process, fed by the Redis frontier.

``run_worker`` runs one crawler per outlet, each with the scrapy-redis scheduler over a
leased queue (:mod:`newsarchive.fleet.queue`). The ``FleetWorker`` extension

- acknowledges a lease once the response is fully processed (items through the pipelines,
  follow-up requests queued);
- renews the leases this process holds, and requeues expired leases of dead workers;
- publishes a heartbeat (pages, pages per minute, leases held) for ``newsarchive fleet``;
- keeps an idle spider open while the fleet still has work for its outlet (or forever in
  daemon mode), and releases the outlet's run lock once its queue and leases are empty;
- stops the worker when Redis stayed out of reach ``NEWSARCHIVE_FLEET_REDIS_TIMEOUT``
  seconds (:mod:`newsarchive.fleet.watch`): spiders close with reason ``redis_lost``, so
  WARC files are closed and the spool sealed, and the run is recorded as failed.

``run_worker`` records each run in ``crawl_runs`` through the worker's spool (``newsarchive
ingest`` merges it; a worker never opens the archive): a ``running`` row at the start, the
end row (``finished`` or ``failed``, stats as a one-machine crawl's) when it stops. A run
killed before its end row stays ``running`` until ``ingest`` records it as ``killed``.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from newsarchive.crawl import CrawlResult, OutletRun
from newsarchive.fleet.keys import WORKER_SOCKET_TIMEOUT, FleetKeys, connect
from newsarchive.fleet.queue import LEASE_META
from newsarchive.fleet.watch import DEFAULT_TIMEOUT, WATCH
from newsarchive.fleet.watch import SETTING as REDIS_TIMEOUT_SETTING

logger = logging.getLogger(__name__)
STATS = "newsarchive/fleet/"
HEARTBEAT_SECONDS = 1.0
LOST = "redis_lost"  # the close reason of a worker's spiders when Redis stayed away
RUN_PREFIX = "fleet-"

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
        self.extensions: list[FleetWorker] = []
        self.run_id = ""
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
            "run": self.run_id,
            "redis_timeout": WATCH.timeout,
            "seen": time.time(),
        }
        if WATCH.lost:
            return
        try:
            pipe = self.server.pipeline(transaction=False)
            pipe.hset(self.keys.workers, self.worker_id, json.dumps(info))
            pipe.zadd(self.keys.heartbeats, {self.worker_id: time.time()})
            pipe.execute()
            for q in self.queues:
                q.renew()
        except RedisError as exc:  # leases lapse and are requeued, nothing lost
            WATCH.failed(exc)
            if WATCH.expired():
                self.lose()
        else:
            WATCH.ok()

    def lose(self) -> None:
        """Redis stayed away too long: close every spider of this process (WARC files
        closed, spool sealed). Held leases expire in Redis and other workers redo them."""
        WATCH.lost = True
        logger.error("fleet: %s; stopping this worker", WATCH.reason())
        for ext in list(self.extensions):
            engine = ext.crawler.engine
            if engine is not None and engine.spider is not None:
                deferred_from_coro(engine.close_spider_async(reason=LOST))

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if WATCH.lost:
            return
        try:
            self.server.zrem(self.keys.heartbeats, self.worker_id)
            self.server.hdel(self.keys.workers, self.worker_id)
        except RedisError:  # best effort at exit: the entry ages out
            pass


_STATE: WorkerState | None = None


class _Busy(Exception):
    """The outlet still has requests queued or leased somewhere in the fleet."""


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
            connect(url, WORKER_SOCKET_TIMEOUT),
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
            _STATE.run_id = self.crawler.settings.get("NEWSARCHIVE_RUN_ID") or ""
        _STATE.queues.append(self.queue)
        _STATE.extensions.append(self)
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
            errors = WATCH.errors
            try:
                await inner(result, request)
            finally:
                lease = request.meta.get(LEASE_META)
                if lease:
                    self._ack(lease, errors)

        scraper._scrape = scrape_then_ack

    def _ack(self, lease: str, errors: int) -> None:
        # A Redis error while the response was processed may have cost a follow-up request
        # (not queued): the lease is then left to expire and the request is done again.
        if WATCH.lost or WATCH.errors != errors:
            self.queue.held.discard(lease)
            self.stats.inc_value(STATS + "not_acked")
            return
        try:
            self.queue.ack(lease)
        except RedisError as exc:  # the lease expires: done twice, kept as a revisit
            WATCH.failed(exc)
            return
        self.stats.inc_value(STATS + "acked")

    def _reap(self) -> None:
        if WATCH.lost:
            return
        try:
            n = self.queue.reap()
        except RedisError as exc:  # try again next tick
            WATCH.failed(exc)
            return
        if n:
            self.stats.inc_value(STATS + "requeued", n)
            logger.info("fleet: requeued %d expired lease(s) of %s", n, self.crawler.spider.name)

    def response_received(self, response, request, spider) -> None:
        if _STATE is not None:
            _STATE.page()

    def spider_idle(self, spider) -> None:
        if WATCH.lost:
            return  # closing with reason redis_lost
        try:
            self._release_if_drained(spider)
        except _Busy:
            self.idle_since = None
            raise DontCloseSpider from None
        except RedisError as exc:  # without Redis nobody can tell the fleet is done
            WATCH.failed(exc)
            self.idle_since = None
            raise DontCloseSpider from None
        now = time.monotonic()
        if self.until_idle is None:
            raise DontCloseSpider
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.until_idle:
            raise DontCloseSpider

    def _release_if_drained(self, spider) -> None:
        if len(self.queue) or self.queue.leased():
            raise _Busy
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

    def spider_closed(self, spider, reason: str) -> None:
        if self._reaper is not None and self._reaper.running:
            self._reaper.stop()
        if _STATE is not None:
            if self in _STATE.extensions:
                _STATE.extensions.remove(self)
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
    run_id: str | None = None,
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
        # scrapy-redis' client (queue, seen-set) answers on the reactor thread too
        "REDIS_PARAMS": {
            "socket_timeout": WORKER_SOCKET_TIMEOUT,
            "socket_connect_timeout": WORKER_SOCKET_TIMEOUT,
        },
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
        # on its fetch_errors rows and in its WARC files' warcinfo (isPartOf)
        "NEWSARCHIVE_RUN_ID": run_id or fleet_run_id(worker_id, time.time()),
        **overrides,
    }


def new_worker_id() -> str:
    return f"{socket.gethostname().split('.')[0]}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def fleet_run_id(worker_id: str, started: float) -> str:
    """``fleet-<worker id>-<UTC start, to the second>``: a run's id names its worker."""
    stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{RUN_PREFIX}{worker_id}-{stamp}"


class FleetOutletRun(OutletRun):
    """An outlet as one worker saw it. Other workers may have taken all of its requests,
    so no response is no failure here; a spider stopped by SIGTERM (``shutdown``) is how
    a worker is stopped, not a failure either."""

    @property
    def failure(self) -> str | None:
        if self.reason in ("finished", "shutdown"):
            return None
        if self.reason == LOST:
            return None  # said once for the worker (FleetResult.failures)
        return super().failure


@dataclass
class FleetResult(CrawlResult):
    worker_id: str = ""
    lost: str | None = None  # why Redis was given up, when it was

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> dict[str, str]:
        out = super().failures
        if self.lost:
            out["redis"] = self.lost
        answered = sum(r.answered for r in self.outlets)
        errors = sum(sum(r.errors.values()) for r in self.outlets)
        if errors and not answered:
            out["worker"] = f"no successful response ({errors} errors)"
        return out


def _spool_run_row(spool, row: dict) -> str | None:
    """Append one ``crawl_runs`` row to the worker's spool and seal it (durable before
    anything else happens); None, or why it could not be written."""
    try:
        spool.append("crawl_runs", row)
        spool.seal()
    except OSError as exc:
        logger.error("fleet run %s: row not recorded: %s", row.get("id"), exc)
        return f"{exc.strerror or exc} ({spool.dir})"
    return None


def _seal_left_open(directory: Path) -> None:
    """Seal spool segments an earlier process of this worker id left open (it was killed:
    one process per worker id; a live writer, found by its pid, is left alone)."""
    from newsarchive.index.spool import _recover_orphans

    if directory.is_dir():
        try:
            _recover_orphans(directory)
        except OSError as exc:
            logger.error("fleet: could not seal segments left in %s: %s", directory, exc)


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
) -> FleetResult:
    """Run one worker over ``outlets`` until stopped (or idle ``until_idle`` seconds), and
    record the run in ``crawl_runs`` through the worker's spool."""
    from scrapy.core.engine import ExecutionEngine
    from scrapy.crawler import CrawlerProcess
    from scrapy.spiderloader import SpiderLoader

    from newsarchive.crawl import _one_line_logs, crawl_settings
    from newsarchive.index.db import now_utc
    from newsarchive.index.spool import Spool, jsonable
    from newsarchive.report import run_stats

    if env:
        os.environ.update(env)
    worker_id = worker_id or new_worker_id()
    started = time.time()
    extra = dict(overrides or {})
    if until_idle is not None:
        extra["NEWSARCHIVE_FLEET_UNTIL_IDLE"] = until_idle
    settings = crawl_settings(
        worker_settings(
            redis_url,
            worker_id,
            warc_dir,
            spool_dir,
            extra,
            prefix,
            fleet_run_id(worker_id, started),
        )
    )
    run_id = settings.get("NEWSARCHIVE_RUN_ID")
    WATCH.reset(settings.getfloat(REDIS_TIMEOUT_SETTING, DEFAULT_TIMEOUT))
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
    if not settings.getbool("NEWSARCHIVE_LOG_TRACEBACKS", True):
        _one_line_logs()
    spool = Spool(Path(spool_dir) / worker_id)
    _seal_left_open(spool.dir)
    host = socket.gethostname()
    _spool_run_row(
        spool,
        {
            "id": run_id,
            "started": datetime.fromtimestamp(started, UTC).isoformat(),
            "outlets": list(outlets),
            "status": "running",
            # who runs it: ingest closes a run whose worker is gone as killed
            "stats": {"worker": worker_id, "host": host, "pid": os.getpid()},
        },
    )
    result = FleetResult(run_id=run_id, started=started, finished=0.0, worker_id=worker_id)
    stats: dict[str, Any] = {"run_id": run_id, "ok": False, "worker": worker_id, "host": host}
    status = "failed"
    try:
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
        process.start()
        result.finished = time.time()
        if WATCH.lost:
            result.lost = WATCH.reason()
        fleet: dict[str, int] = {}
        for key, crawler in crawlers:
            cstats = crawler.stats.get_stats() if crawler.stats else {}
            reason = str(cstats.get("finish_reason", "not started"))
            result.outlets.append(FleetOutletRun(key, reason, dict(cstats)))
            for k, v in cstats.items():
                if k.startswith(STATS) and k.count("/") == 2 and isinstance(v, int):
                    fleet[k[len(STATS) :]] = fleet.get(k[len(STATS) :], 0) + v
        stats = {**run_stats(result), "worker": worker_id, "host": host, "fleet": fleet}
        status = "finished" if result.ok else "failed"
    except BaseException as exc:
        stats["reason"] = f"worker crashed: {type(exc).__name__}: {exc}"
        raise
    finally:
        _spool_run_row(
            spool,
            {
                "id": run_id,
                "finished": now_utc().isoformat(),
                "stats": jsonable(stats),
                "status": status,
            },
        )
    return result


class FleetSpiderMixin:
    """A worker's spider: its start requests come from the frontier, seeded elsewhere."""

    fleet_keys: FleetKeys = FleetKeys()

    async def start(self):
        return
        yield  # an async generator that yields nothing
