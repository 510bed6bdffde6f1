"""One extraction pool per crawl process, shared by every spider, with back-pressure.

``crawl --all`` runs one Scrapy crawler per outlet in a single process. A pool per crawler
meant outlets × workers extraction processes on a machine with a handful of cores; here
all crawlers of a process lease the same :class:`ExtractionPool` (reference-counted, closed
when the last crawler lets go) and the same :class:`Backpressure` gate.

The gate counts pages handed to the pool and not yet answered. At most ``limit`` are in
the pool at once; pages beyond that wait in the pipeline, and while the gate is full the
:class:`ExtractionBackpressureMiddleware` holds new requests before they are downloaded, so
the downloader cannot outrun extraction by more than the requests already on the wire:
memory stays flat however many spiders run.

Everything here runs in the reactor thread (the asyncio loop): no locks are needed.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newsarchive.extract.pool import ExtractionPool


def default_workers() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Backpressure:
    """Counts in-flight extractions; ``room`` waits until one more may start."""

    def __init__(self, limit: int, queue: int | None = None) -> None:
        self.limit = max(1, limit)
        self.queue = max(1, self.limit if queue is None else queue)
        self.inflight = 0  # pages inside the pool
        self.waiting = 0  # pages held in the pipeline, waiting for room
        self.peak = 0
        self.peak_held = 0  # inflight + waiting: page bodies held in memory
        self.download_waits = 0
        self._items: deque[asyncio.Future] = deque()
        self._downloads: deque[asyncio.Future] = deque()

    @property
    def full(self) -> bool:
        """Enough pages wait for the pool: new downloads should wait too."""
        return self.waiting >= self.queue

    async def enter(self) -> None:
        """Wait for a slot in the pool, then take it (release with :meth:`leave`)."""
        self.waiting += 1
        self.peak_held = max(self.peak_held, self.inflight + self.waiting)
        try:
            while self.inflight >= self.limit:
                fut = asyncio.get_running_loop().create_future()
                self._items.append(fut)
                await fut
        finally:
            self.waiting -= 1
            self._wake_downloads()
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)

    def leave(self) -> None:
        self.inflight -= 1
        self._wake()

    async def download_room(self) -> None:
        """Hold a request while the gate is full (pages are waiting for extraction)."""
        if not self.full:
            return
        self.download_waits += 1
        while self.full:
            fut = asyncio.get_running_loop().create_future()
            self._downloads.append(fut)
            await fut

    def _wake(self) -> None:
        # Pages already downloaded go first: draining them is what frees memory.
        while self._items:
            fut = self._items.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self._wake_downloads()

    def download_done(self) -> None:
        """A download finished (page or not): let the next held request re-check. Without
        this, requests woken for queue room that turn out not to be pages (feeds, images)
        would leave the rest held with nothing left to wake them."""
        self._wake_downloads()

    def _wake_downloads(self) -> None:
        # As many requests as the queue has room for: waking all at once would let a burst
        # through before the pages of the first ones reach the pipeline.
        room = self.queue - self.waiting
        while room > 0 and self._downloads:
            fut = self._downloads.popleft()
            if not fut.done():
                fut.set_result(None)
                room -= 1


@dataclass
class _Lease:
    pool: ExtractionPool
    gate: Backpressure
    users: set[int] = field(default_factory=set)


# Keyed by pid: a forked child must never reuse its parent's pool (its workers and
# pebble's threads are not there).
_SHARED: dict[tuple, _Lease] = {}
_GATES: dict[tuple, Backpressure] = {}


def _key(config: dict[str, Any]) -> tuple:
    return (os.getpid(), *sorted(config.items()))


def extract_config(crawler: Crawler) -> dict[str, Any]:
    """The pool's configuration from a crawler's settings (raises NotConfigured when off)."""
    s = crawler.settings
    if not s.getbool("NEWSARCHIVE_EXTRACT_ENABLED", True):
        raise NotConfigured("NEWSARCHIVE_EXTRACT_ENABLED is off")
    workers = s.getint("NEWSARCHIVE_EXTRACT_WORKERS", default_workers())
    if workers < 0:
        raise NotConfigured("NEWSARCHIVE_EXTRACT_WORKERS must be >= 0")
    return {
        "workers": workers,
        "max_tasks": s.getint("NEWSARCHIVE_EXTRACT_MAX_TASKS", 200),
        "timeout": s.getfloat("NEWSARCHIVE_EXTRACT_TIMEOUT", 30.0),
        "test_hooks": s.getbool("NEWSARCHIVE_EXTRACT_TEST_HOOKS", False),
        # Pages in the pool at once: enough to keep every worker busy while results travel
        # back, few enough that bodies held in memory stay bounded.
        "inflight": s.getint("NEWSARCHIVE_EXTRACT_MAX_INFLIGHT", 0) or max(2, 2 * workers),
        # Downloaded pages allowed to wait for the pool before the downloader is held.
        "queue": s.getint("NEWSARCHIVE_EXTRACT_QUEUE", 0) or max(2, 2 * workers),
    }


def gate_for(config: dict[str, Any]) -> Backpressure:
    key = _key(config)
    gate = _GATES.get(key)
    if gate is None:
        gate = _GATES[key] = Backpressure(config["inflight"], config["queue"])
    return gate


def acquire(config: dict[str, Any], user: object) -> _Lease:
    """The process's pool for ``config`` (started on first use), leased to ``user``."""
    key = _key(config)
    lease = _SHARED.get(key)
    if lease is None:
        pool = ExtractionPool(
            config["workers"],
            config["max_tasks"],
            config["timeout"],
            test_hooks=config["test_hooks"],
        )
        lease = _SHARED[key] = _Lease(pool, gate_for(config))
    lease.users.add(id(user))
    return lease


def release(config: dict[str, Any], user: object) -> None:
    """Give the lease back; the last user closes the pool."""
    key = _key(config)
    lease = _SHARED.get(key)
    if lease is None:
        return
    lease.users.discard(id(user))
    if not lease.users:
        del _SHARED[key]
        lease.pool.close(wait=False)


def live_pools() -> int:
    """Pools open in this process (for tests and the benchmark)."""
    return sum(1 for k in _SHARED if k[0] == os.getpid())


class ExtractionBackpressureMiddleware:
    """Downloader middleware: requests wait while extraction is behind (see module doc)."""

    def __init__(self, crawler: Crawler, gate: Backpressure) -> None:
        self.crawler = crawler
        self.gate = gate

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionBackpressureMiddleware:
        if not crawler.settings.getbool("NEWSARCHIVE_EXTRACT_BACKPRESSURE", True):
            raise NotConfigured("NEWSARCHIVE_EXTRACT_BACKPRESSURE is off")
        config = extract_config(crawler)
        if config["workers"] == 0:
            raise NotConfigured("inline extraction holds the reactor: nothing to wait for")
        return cls(crawler, gate_for(config))

    async def process_request(self, request: Any, spider: Any = None) -> None:
        if self.gate.full:
            self.crawler.stats.inc_value("newsarchive/extract/backpressure_waits")
            await self.gate.download_room()
        return None

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        self.gate.download_done()
        return response

    def process_exception(self, request: Any, exception: Exception, spider: Any = None) -> None:
        self.gate.download_done()
        return None
