"""A pool of worker processes that run ``extract_article`` off the Twisted reactor.

Extraction is CPU-bound (lxml + trafilatura, tens of ms per page) and would stall the
crawl if run in the reactor thread. pebble's ``ProcessPool`` gives per-task timeouts
(the worker is killed and replaced) and survives crashed workers; workers are recycled
after ``max_tasks`` pages to bound memory growth in long crawls. Each submitted page
resolves to the Article dict (or None), or fails with :class:`ExtractionError` whose
``kind`` is "timeout", "crash" or "error" so that the caller can record it.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pebble import ProcessExpired, ProcessPool

# Test hooks are switched on only through the pool's constructor, which sets this flag
# inside the worker processes; production workers never look at the markers.
_TEST_HOOKS = False
HANG_MARKER = b"<!--newsarchive-test:hang-->"
CRASH_MARKER = b"<!--newsarchive-test:crash-->"
RAISE_MARKER = b"<!--newsarchive-test:raise-->"
PID_MARKER = b"<!--newsarchive-test:pid-->"
SLOW_MARKER = b"<!--newsarchive-test:slow-->"  # 0.25 s of "work", then a normal page


class ExtractionError(Exception):
    """A page whose extraction failed; ``kind`` is "timeout", "crash" or "error"."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


def _init_worker(test_hooks: bool) -> None:
    global _TEST_HOOKS
    _TEST_HOOKS = test_hooks


def _test_hook(body: bytes) -> dict | None:
    head = body[:64]
    if head.startswith(HANG_MARKER):
        time.sleep(3600)
    if head.startswith(CRASH_MARKER):
        os._exit(13)
    if head.startswith(RAISE_MARKER):
        raise RuntimeError("test hook asked for an exception")
    if head.startswith(PID_MARKER):
        return {"pid": os.getpid()}
    if head.startswith(SLOW_MARKER):
        time.sleep(0.25)
    return None


def extract_to_dict(
    body: bytes, url: str, outlet_key: str | None, encoding: str | None
) -> dict[str, Any] | None:
    """The worker function (module level so that it pickles)."""
    if _TEST_HOOKS and isinstance(body, bytes):
        hooked = _test_hook(body)
        if hooked is not None:
            return hooked
    from newsarchive.extract.core import extract_article

    article = extract_article(body, url, outlet=outlet_key, encoding=encoding)
    return article.to_dict() if article is not None else None


def classify_failure(exc: BaseException) -> ExtractionError:
    """Map what pebble raises onto the recorded failure kinds."""
    if isinstance(exc, ExtractionError):
        return exc
    if isinstance(exc, FutureTimeout):
        return ExtractionError(
            "timeout",
            f"extraction took longer than {exc.args[1]} s"
            if len(exc.args) > 1
            else "extraction timed out",
        )
    if isinstance(exc, ProcessExpired):
        return ExtractionError("crash", f"worker died (exit code {exc.exitcode})")
    if isinstance(exc, CancelledError):
        return ExtractionError("error", "cancelled (pool closed)")
    tb = getattr(exc, "traceback", None)  # pebble attaches the worker's traceback
    detail = f"{type(exc).__name__}: {exc}"
    if tb:
        detail += "\n" + str(tb)[-2000:]
    elif exc.__traceback__ is not None:
        detail += "\n" + "".join(traceback.format_tb(exc.__traceback__))[-2000:]
    return ExtractionError("error", detail)


class ExtractionPool:
    """Worker processes for extraction. ``submit`` returns a plain Future."""

    def __init__(
        self,
        workers: int | None = None,
        max_tasks: int = 200,
        timeout: float = 30.0,
        *,
        test_hooks: bool = False,
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.max_tasks = max_tasks
        self.timeout = timeout
        # forkserver: workers start from a clean, single-threaded process instead of
        # forking the crawler (whose reactor and thread pools must not be duplicated).
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["newsarchive.extract.core"])
        self._pool = ProcessPool(
            max_workers=self.workers,
            max_tasks=max_tasks,
            initializer=_init_worker,
            initargs=(test_hooks,),
            context=ctx,
        )
        self._closed = False

    def submit(self, body: bytes, url: str, outlet_key: str | None, encoding: str | None) -> Future:
        """Schedule one page; the Future gives the Article dict or None, or raises
        :class:`ExtractionError`."""
        out: Future = Future()
        if self._closed:
            out.set_exception(ExtractionError("error", "pool is closed"))
            return out
        try:
            inner = self._pool.schedule(
                extract_to_dict, args=(body, url, outlet_key, encoding), timeout=self.timeout
            )
        except RuntimeError as exc:  # pool no longer running
            out.set_exception(ExtractionError("error", str(exc)))
            return out

        def done(f: Future) -> None:
            try:
                out.set_result(f.result())
            except BaseException as exc:  # noqa: BLE001 - every failure is recorded
                out.set_exception(classify_failure(exc))

        inner.add_done_callback(done)
        return out

    def close(self, wait: bool = True) -> None:
        """Stop accepting pages; finish what is queued when ``wait``, else drop it."""
        if self._closed:
            return
        self._closed = True
        if wait:
            self._pool.close()
        else:
            self._pool.stop()
        self._pool.join()

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# One single-worker pool per process for callers outside a crawl (``reindex`` workers):
# the same per-page timeout and worker replacement as the crawl's pool.
_LOCAL: dict[tuple[int, float], ExtractionPool] = {}


def close_bounded() -> None:
    """Stop this process's :func:`extract_bounded` workers (a crawl start that extracted a
    few pages must not keep a spare worker for the whole crawl)."""
    for key in [k for k in _LOCAL if k[0] == os.getpid()]:
        _LOCAL.pop(key).close(wait=False)


def extract_bounded(
    body: bytes, url: str, outlet_key: str | None, encoding: str | None, timeout: float
) -> dict[str, Any] | None:
    """``extract_to_dict`` in this process's one-worker :class:`ExtractionPool`, so that a
    page taking longer than ``timeout`` seconds raises :class:`ExtractionError` ("timeout")
    and its worker is killed instead of the caller hanging."""
    key = (os.getpid(), timeout)
    pool = _LOCAL.get(key)
    if pool is None:
        from multiprocessing.util import Finalize

        pool = _LOCAL[key] = ExtractionPool(1, timeout=timeout)
        # Process-pool workers leave through os._exit: atexit would never stop this pool.
        Finalize(pool, pool.close, kwargs={"wait": False}, exitpriority=10)
    return pool.submit(body, url, outlet_key, encoding).result()
