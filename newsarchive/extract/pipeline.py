"""``ExtractionPipeline``: page items -> article dicts, in worker processes.

Page items (``item["kind"] == "page"``, see docs/ARCHITECTURE.md) get ``item["article"]``
(the Article as a dict, or None when the page held no HTML) and lose ``body``; a failed
extraction sets ``item["extract_error"] = {"kind", "detail"}`` and the item still flows
on so that the index records it. Other items pass through untouched.

``process_item`` is a coroutine awaiting the pool's future on the asyncio reactor, so the
engine keeps crawling while pages are extracted (Scrapy 2.19 deprecates returning a
Deferred from pipelines; a coroutine is the supported form of the same thing).

Settings: NEWSARCHIVE_EXTRACT_ENABLED (True), NEWSARCHIVE_EXTRACT_WORKERS (cpu count;
0 = inline in the reactor thread, for comparison), NEWSARCHIVE_EXTRACT_MAX_TASKS (200),
NEWSARCHIVE_EXTRACT_TIMEOUT (30 s), NEWSARCHIVE_EXTRACT_TEST_HOOKS (False; tests only).
Stats: newsarchive/extract/{ok,none,timeout,crash,error,ms_total}.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from newsarchive.extract.pool import ExtractionError, ExtractionPool, extract_to_dict

STATS = "newsarchive/extract"


class ExtractionPipeline:
    def __init__(
        self, crawler: Crawler, workers: int, max_tasks: int, timeout: float, test_hooks: bool
    ) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.workers = workers
        self.max_tasks = max_tasks
        self.timeout = timeout
        self.test_hooks = test_hooks
        self.pool: ExtractionPool | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionPipeline:
        s = crawler.settings
        if not s.getbool("NEWSARCHIVE_EXTRACT_ENABLED", True):
            raise NotConfigured("NEWSARCHIVE_EXTRACT_ENABLED is off")
        workers = s.getint("NEWSARCHIVE_EXTRACT_WORKERS", os.cpu_count() or 1)
        if workers < 0:
            raise NotConfigured("NEWSARCHIVE_EXTRACT_WORKERS must be >= 0")
        pipe = cls(
            crawler,
            workers=workers,
            max_tasks=s.getint("NEWSARCHIVE_EXTRACT_MAX_TASKS", 200),
            timeout=s.getfloat("NEWSARCHIVE_EXTRACT_TIMEOUT", 30.0),
            test_hooks=s.getbool("NEWSARCHIVE_EXTRACT_TEST_HOOKS", False),
        )
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    def _pool(self) -> ExtractionPool:
        if self.pool is None:  # started on the first page: crawls without pages pay nothing
            self.pool = ExtractionPool(
                self.workers, self.max_tasks, self.timeout, test_hooks=self.test_hooks
            )
        return self.pool

    async def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        if adapter.get("kind") != "page" or "body" not in adapter:
            return item
        body = adapter.get("body")
        url = adapter.get("url") or ""
        outlet = adapter.get("outlet")
        encoding = adapter.get("encoding")
        t0 = time.perf_counter()
        try:
            if not isinstance(body, bytes | str):
                raise ExtractionError("error", f"page body is {type(body).__name__}, not bytes")
            if self.workers == 0:
                article = self._inline(body, url, outlet, encoding)
            else:
                fut = self._pool().submit(body, url, outlet, encoding)
                article = await asyncio.wrap_future(fut)
        except ExtractionError as exc:
            self.stats.inc_value(f"{STATS}/{exc.kind}")
            adapter["article"] = None
            adapter["extract_error"] = exc.as_dict()
        else:
            self.stats.inc_value(f"{STATS}/{'ok' if article is not None else 'none'}")
            adapter["article"] = article
        finally:
            self.stats.inc_value(f"{STATS}/ms_total", round((time.perf_counter() - t0) * 1000))
        del adapter["body"]
        return item

    def _inline(self, body: bytes, url: str, outlet: str | None, encoding: str | None):
        try:
            return extract_to_dict(body, url, outlet, encoding)
        except Exception as exc:  # noqa: BLE001 - recorded on the item, never lost
            raise ExtractionError("error", f"{type(exc).__name__}: {exc}") from exc

    def spider_closed(self) -> None:
        if self.pool is not None:
            self.pool.close(wait=False)
            self.pool = None
