"""``IndexPipeline``: captures (from the ``capture_recorded`` signal) and extracted articles
(from page items) into the DuckDB archive, in batches, through the durable spool.

Settings: ``NEWSARCHIVE_INDEX_ENABLED`` (default True), ``NEWSARCHIVE_DB``,
``NEWSARCHIVE_INDEX_BATCH_SIZE`` (rows, default 500), ``NEWSARCHIVE_INDEX_BATCH_SECONDS``
(default 5), ``NEWSARCHIVE_INDEX_CLOSE_TIMEOUT`` (seconds to wait for the lock at close,
default 60), ``NEWSARCHIVE_INDEX_FTS`` (rebuild the fts-extension side file at close, default
False: the query index of :mod:`newsarchive.query` is kept up to date at every merge instead),
``NEWSARCHIVE_RUN_ID`` (crawl run id stamped on fetch errors),
``NEWSARCHIVE_INDEX_MERGE_INTERVAL`` (seconds, default 10: the least time between two merges
into the DuckDB file; rows wait durably in the spool meanwhile, and plain DuckDB readers can
open the file between merges; 0 merges every sealed batch at once).

When a merge finds the file held by another process (a reader), the pipeline logs that it
waits and for whom (pid and command line, from /proc/locks), and retries with backoff.

Besides page items it accepts ``{"kind": "fetch_error", "url", "outlet", "error_kind",
"detail", "time"}``
items, recorded in ``fetch_errors``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import duckdb
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import task, threads

from newsarchive import signals as na_signals
from newsarchive.index.db import ArchiveError, resolve_db_path
from newsarchive.index.rows import article_row, capture_row, error_row, utc_iso
from newsarchive.index.spool import WRITER_LOCK, Spool

logger = logging.getLogger(__name__)
STATS = "newsarchive/index/"
_OPEN: dict[str, int] = {}  # open pipelines per archive path in this process
# Start of the last merge per archive path in this process: a merge takes every sealed
# segment of every spider, so the spacing is shared by the process's pipelines.
_LAST_MERGE: dict[str, float] = {}


class IndexPipeline:
    def __init__(
        self,
        crawler: Any,
        db_path: Any,
        batch_size: int = 500,
        batch_seconds: float = 5.0,
        close_timeout: float = 60.0,
        fts: bool = True,
        run_id: str | None = None,
        merge_interval: float = 0.0,
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.db_path = db_path
        self.batch_size = max(1, batch_size)
        self.batch_seconds = max(0.01, batch_seconds)
        self.close_timeout = close_timeout
        self.fts = fts
        self.run_id = run_id
        self.merge_interval = max(0.0, merge_interval)
        self._waiting_since: float | None = None
        self._wait_logged = 0.0
        self._locked = False
        self._merge_error: str | None = None
        self._write_failed = False
        self.spool = Spool(db_path)
        self.merge_stats: dict[str, int] = {}
        self._backoff = 0.0
        self._next_merge = 0.0
        self._loop: task.LoopingCall | None = None
        # Merges run in a thread: DuckDB releases the GIL, and the reactor keeps crawling.
        self._merge_done = threading.Event()
        self._merge_done.set()

    @classmethod
    def from_crawler(cls, crawler: Any) -> IndexPipeline:
        s = crawler.settings
        if not s.getbool("NEWSARCHIVE_INDEX_ENABLED", True):
            raise NotConfigured("NEWSARCHIVE_INDEX_ENABLED is off")
        pipe = cls(
            crawler,
            resolve_db_path(None, s),
            batch_size=s.getint("NEWSARCHIVE_INDEX_BATCH_SIZE", 500),
            batch_seconds=s.getfloat("NEWSARCHIVE_INDEX_BATCH_SECONDS", 5.0),
            close_timeout=s.getfloat("NEWSARCHIVE_INDEX_CLOSE_TIMEOUT", 60.0),
            fts=s.getbool("NEWSARCHIVE_INDEX_FTS", False),
            run_id=s.get("NEWSARCHIVE_RUN_ID"),
            merge_interval=s.getfloat("NEWSARCHIVE_INDEX_MERGE_INTERVAL", 10.0),
        )
        crawler.signals.connect(pipe.capture_recorded, signal=na_signals.capture_recorded)
        crawler.signals.connect(pipe.fetch_error_recorded, signal=na_signals.fetch_error)
        return pipe

    # -- Scrapy hooks ---------------------------------------------------------------------

    def open_spider(self) -> None:
        _OPEN[str(self.db_path)] = _OPEN.get(str(self.db_path), 0) + 1
        self._loop = task.LoopingCall(self._tick)
        self._loop.start(min(1.0, self.batch_seconds / 2), now=False)

    def capture_recorded(self, capture: dict, **_: Any) -> None:
        row = capture_row(capture)
        if not row["id"]:
            self.stats.inc_value(STATS + "bad_captures")
            return
        self._append("captures", row)

    def fetch_error_recorded(self, error: dict, **_: Any) -> None:
        """A fault recorded by a downloader middleware (``newsarchive.fetcherrors``)."""
        self._append(
            "fetch_errors",
            error_row(
                error.get("url"),
                error.get("kind") or "fetch",
                error.get("detail"),
                error.get("outlet"),
                self.run_id,
                error.get("time"),
            ),
        )

    def process_item(self, item: Any) -> Any:
        kind = item.get("kind") if hasattr(item, "get") else None
        if kind == "page":
            self._page(item)
        elif kind == "fetch_error":
            self._append(
                "fetch_errors",
                error_row(
                    item.get("url"),
                    item.get("error_kind") or item.get("error") or "fetch",
                    item.get("detail"),
                    item.get("outlet"),
                    self.run_id,
                    item.get("time"),
                ),
            )
        return item

    async def close_spider(self) -> None:
        from newsarchive.warc.writer import drained

        # Captures still in the WARC writer thread reach the spool before the final merge.
        await drained(self.crawler)
        self._stop_timer()
        synced = self._sync_warcs()
        # The final merge and the full-text rebuild take seconds: off the reactor, so the
        # other spiders of the process and their connections close on time meanwhile.
        await maybe_deferred_to_future(threads.deferToThread(self._finish, synced))

    def finish(self) -> None:
        """Stop the batch timer, merge what is left and rebuild FTS (blocking, no reactor)."""
        self._stop_timer()
        self._finish(self._sync_warcs())

    def _stop_timer(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def _finish(self, synced: bool = True) -> None:
        self._merge_done.wait(self.close_timeout)
        with WRITER_LOCK:  # pipelines of one process finish one after another
            if synced and self._seal():
                self.stats.inc_value(STATS + "batches")
            key = str(self.db_path)
            if _OPEN.get(key, 1) > 1:
                # Another spider of this process still runs: its merges (spaced by the
                # merge interval) and its final one take these rows too, so the crawl's end
                # opens the file once, not once per spider.
                _OPEN[key] -= 1
                self.stats.set_value(STATS + "final_merge_deferred", True)
                self._sync_stats()
                return
            merged = self._try_merge(self.close_timeout)
            self._merged(merged)
            _OPEN[key] = _OPEN.get(key, 1) - 1
            if not merged:
                if self._merge_error:
                    why = f"merging failed: {self._merge_error}"
                else:
                    from newsarchive.locks import describe_holders

                    why = (
                        f"{self.db_path} stayed locked by {describe_holders(self.db_path)} "
                        f"for {self.close_timeout:g} s"
                    )
                why = " ".join(why.split())  # a holder's command line may span lines
                logger.error(
                    "index: rows could not reach the archive (%s); they wait in %s and are "
                    "merged by the next writer open",
                    why,
                    self.spool.dir,
                )
                self.stats.set_value(STATS + "left_in_spool", why)
            elif self.fts and _OPEN[key] <= 0:
                # Many spiders in one crawl: the full-text index is rebuilt once, by the last.
                self._rebuild_fts()
        self._sync_stats()

    # -- internals ------------------------------------------------------------------------

    def _page(self, item: Any) -> None:
        page = {
            k: item.get(k)
            for k in ("capture_id", "url", "canonical_url", "outlet", "discovered_via")
        }
        if not page["capture_id"]:
            self.stats.inc_value(STATS + "pages_without_capture")
            return
        error = item.get("extract_error")
        if error:
            if isinstance(error, dict):
                ekind, detail = error.get("kind") or "extract", error.get("detail")
            elif isinstance(error, list | tuple) and error:
                ekind, detail = str(error[0]), (error[1] if len(error) > 1 else None)
            else:
                ekind, detail = "extract", error
            self._append(
                "fetch_errors",
                error_row(
                    page["url"],
                    f"extract:{ekind}" if ekind != "extract" else ekind,
                    detail,
                    page["outlet"],
                    self.run_id,
                ),
            )
            self.stats.inc_value(STATS + "extract_errors")
            return
        if "article" not in item:
            self.stats.inc_value(STATS + "pages_not_extracted")
            return
        row = article_row(page, item.get("article"))
        if not row["is_article"]:
            self.stats.inc_value(STATS + f"flagged/{row['page_type'] or 'non_article'}")
        elif row["paywalled"]:  # full text visible under paywall markup: an article
            self.stats.inc_value(STATS + "paywalled")
        row["_fetched_at"] = utc_iso(item.get("fetched_at"))  # for the seen-set; not a column
        self._append("articles", row)

    def _append(self, table: str, row: dict) -> None:
        if self._write_failed:
            self.stats.inc_value(STATS + f"unspooled/{table}")
            return
        try:
            self.spool.append(table, row)
        except OSError as exc:
            self.stats.inc_value(STATS + f"unspooled/{table}")
            self._spool_failed(exc)
            return
        self.stats.inc_value(STATS + f"spooled/{table}")
        if self.spool.pending >= self.batch_size:
            self._flush()

    def _spool_failed(self, exc: OSError) -> None:
        """The spool cannot be written (disk full): stop the crawl, as a failed WARC write
        does. Rows already spooled are kept; the pages whose rows are missing are not in the
        seen-set, so the next run fetches and indexes them."""
        if self._write_failed:
            return
        self._write_failed = True
        where = f"{exc.strerror or exc} ({self.spool.dir})"
        self.stats.set_value(STATS + "write_error", where)
        logger.error("index: spool write failed: %s; closing the spider", where)
        engine = getattr(self.crawler, "engine", None)
        if engine is not None and getattr(engine, "running", False):
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason="index_write_error"))

    def _seal(self) -> int:
        try:
            return self.spool.seal()
        except OSError as exc:
            from twisted.internet import reactor

            if threading.current_thread() is threading.main_thread() or not reactor.running:
                self._spool_failed(exc)
            else:
                reactor.callFromThread(self._spool_failed, exc)
            return 0

    def _tick(self) -> None:
        first = self.spool.first_pending_at
        if first is not None and time.monotonic() - first >= self.batch_seconds:
            self.stats.inc_value(STATS + "time_flushes")
            self._flush()
        elif self.spool.has_sealed() and self._merge_due():
            self._merge_in_thread()

    def _sync_warcs(self) -> bool:
        """The durability barrier: the WARC records the pending rows point at are fsync'd
        before those rows are sealed (and so may be committed). One fsync per batch."""
        if not self.spool.pending:
            return True
        from newsarchive.warc.writer import sync

        return sync(self.crawler)

    def _flush(self, timeout: float = 0.0) -> None:
        # Unsynced rows stay in the open segment: merged after this process is gone, by
        # which time the WARC file was closed (fsync'd) or repaired to what is on disk.
        if self._sync_warcs() and self._seal():
            self.stats.inc_value(STATS + "batches")
        if timeout:
            self._merged(self._try_merge(timeout))
        elif self._merge_due():
            self._merge_in_thread()

    def _merge_due(self) -> bool:
        # Merges are spaced out so the file is free for outside readers most of the time.
        now = time.monotonic()
        last = _LAST_MERGE.get(str(self.db_path), float("-inf"))
        return now >= self._next_merge and now >= last + self.merge_interval

    def _merge_in_thread(self) -> None:
        from twisted.internet import reactor

        if not reactor.running:  # used without a crawl (tests, tools): merge right here
            self._merged(self._try_merge(0.0))
            return
        if not self._merge_done.is_set():
            return  # one merge at a time; the next tick picks up what was sealed meanwhile
        self._merge_done.clear()

        def work() -> bool:
            try:
                return self._try_merge(0.0)
            finally:
                self._merge_done.set()

        threads.deferToThread(work).addCallbacks(self._merged, self._merge_crashed)

    def _merge_crashed(self, failure: Any) -> None:
        logger.error("index: merge thread failed: %s (rows stay in the spool)", failure.value)
        self.stats.inc_value(STATS + "merge_errors")
        self._merged(False)

    def _try_merge(self, timeout: float) -> bool:
        _LAST_MERGE[str(self.db_path)] = time.monotonic()
        self._locked = False
        self._merge_error = None
        started = time.monotonic()
        try:
            ok = self.spool.try_merge(timeout=timeout, stats=self.merge_stats)
            self._locked = not ok
            if ok:  # the write-lock window outside readers wait for
                window = round(time.monotonic() - started, 3)
                key = STATS + "merge_window_max_s"
                self.stats.max_value(key, window)
            return ok
        except (ArchiveError, duckdb.Error, OSError) as exc:
            self._merge_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            logger.error("index: merge failed: %s (rows stay in the spool)", exc)
            self.stats.inc_value(STATS + "merge_errors")
            return False

    def _note_wait(self, ok: bool) -> None:
        now = time.monotonic()
        if ok or not self._locked:
            if self._waiting_since is not None:
                waited = now - self._waiting_since
                logger.warning("index: archive free again after waiting %.1f s", waited)
                self.stats.inc_value(STATS + "lock_wait_seconds", round(waited, 3))
                self._waiting_since = None
            return
        if self._waiting_since is None:
            self._waiting_since = now
        elif now - self._wait_logged < 30.0:
            return
        from newsarchive.locks import describe_holders

        self._wait_logged = now
        logger.warning(
            "index: waiting for the archive %s, held by %s (for %.0f s so far); rows wait "
            "in the spool and nothing is lost",
            self.db_path,
            describe_holders(self.db_path),
            now - self._waiting_since,
        )

    def _merged(self, ok: bool) -> None:
        self._note_wait(ok)
        if ok:
            self._backoff = 0.0
            self._next_merge = 0.0
        else:
            # A reader holds the file: try again later, without blocking the reactor.
            self.stats.inc_value(STATS + "lock_waits")
            self._backoff = min(2.0, self._backoff * 2 or 0.05)
            self._next_merge = time.monotonic() + self._backoff
        self._sync_stats()

    def _sync_stats(self) -> None:
        for k, v in self.merge_stats.items():
            self.stats.set_value(STATS + k, v)

    def _rebuild_fts(self) -> None:
        from newsarchive.index.fts import rebuild_fts

        started = time.monotonic()
        try:
            with WRITER_LOCK:
                built = rebuild_fts(self.db_path, timeout=self.close_timeout)
        except Exception as exc:  # the archive itself is complete; search can rebuild later
            logger.error("index: full-text rebuild failed: %s", exc)
            self.stats.inc_value(STATS + "fts_errors")
            return
        if built:
            self.stats.set_value(STATS + "fts_seconds", round(time.monotonic() - started, 3))


def utcnow() -> datetime:
    return datetime.now(UTC)
