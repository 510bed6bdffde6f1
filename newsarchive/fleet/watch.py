"""Whether this worker process can reach Redis, and for how long it has not.

Every Redis call of a worker that can fail without losing work (heartbeat, lease renewal,
pops, pushes, acknowledgements, politeness, the revisit map) reports its failure here
instead of raising into Scrapy. The heartbeat, once a second, reports success or failure
and asks :meth:`RedisWatch.expired`: after ``NEWSARCHIVE_FLEET_REDIS_TIMEOUT`` seconds
without Redis the worker stops (``newsarchive.fleet.worker``), recorded as failed.

``errors`` only ever grows: a response whose processing saw it change does not
acknowledge its lease, so the request goes back to the queue by lease expiry and is done
again (a follow-up request that could not be queued is queued then).
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
SETTING = "NEWSARCHIVE_FLEET_REDIS_TIMEOUT"


class RedisWatch:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.errors = 0
        self.down_since: float | None = None
        self.last_error = ""
        self.lost = False  # the timeout passed: the worker is stopping, Redis is not tried
        self._lock = threading.Lock()  # the WARC writer thread reports too

    def reset(self, timeout: float) -> None:
        with self._lock:
            self.timeout = timeout
            self.errors = 0
            self.down_since = None
            self.last_error = ""
            self.lost = False

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            first = self.down_since is None
            if first:
                self.down_since = time.monotonic()
        if first:
            logger.warning(
                "fleet: Redis unreachable (%s); going on for up to %.0f s",
                self.last_error,
                self.timeout,
            )

    def ok(self) -> None:
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None and not self.lost:
            logger.warning("fleet: Redis reachable again after %.1f s", time.monotonic() - since)

    def down_for(self) -> float:
        since = self.down_since
        return time.monotonic() - since if since is not None else 0.0

    def expired(self) -> bool:
        return self.down_since is not None and self.down_for() >= self.timeout

    def reason(self) -> str:
        return " ".join(f"lost Redis for {self.timeout:g} s ({self.last_error})".split())


WATCH = RedisWatch()
