"""``ExtractionPipeline``: page items -> article dicts, in worker processes.

Page items (``item["kind"] == "page"``, see docs/ARCHITECTURE.md) get ``item["article"]``
(the Article as a dict, or None when the page held no HTML) and lose ``body``; a failed
extraction sets ``item["extract_error"] = {"kind", "detail"}`` and the item still flows
on so that the index records it. Other items pass through untouched.

``process_item`` is a coroutine awaiting the pool's future on the asyncio reactor, so the
engine keeps crawling while pages are extracted (Scrapy 2.19 deprecates returning a
Deferred from pipelines; a coroutine is the supported form of the same thing).

The worker pool is one per crawl process, shared by all spiders, with a bounded number of
pages in flight (``newsarchive.extract.shared``).

Settings: NEWSARCHIVE_EXTRACT_ENABLED (True), NEWSARCHIVE_EXTRACT_WORKERS (usable cores;
0 = inline in the reactor thread, for comparison), NEWSARCHIVE_EXTRACT_MAX_TASKS (200),
NEWSARCHIVE_EXTRACT_TIMEOUT (30 s), NEWSARCHIVE_EXTRACT_MAX_INFLIGHT (2 x workers),
NEWSARCHIVE_EXTRACT_QUEUE (2 x workers: pages waiting before downloads are held),
NEWSARCHIVE_EXTRACT_TEST_HOOKS (False; tests only).
Stats: newsarchive/extract/{ok,none,timeout,crash,error,ms_total,peak_inflight,peak_held},
newsarchive/extract/backpressure_waits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler

from newsarchive.extract import shared
from newsarchive.extract.pool import ExtractionError, ExtractionPool, extract_to_dict

STATS = "newsarchive/extract"


class ExtractionPipeline:
    def __init__(self, crawler: Crawler, config: dict[str, Any]) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.config = config
        self.workers = config["workers"]
        self.pool: ExtractionPool | None = None
        self.gate = shared.gate_for(config)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionPipeline:
        pipe = cls(crawler, shared.extract_config(crawler))
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    def _pool(self) -> ExtractionPool:
        # Leased on the first page (crawls without pages pay nothing); every crawler of
        # the process gets the same pool, see newsarchive.extract.shared.
        if self.pool is None:
            self.pool = shared.acquire(self.config, self).pool
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
                article = await self._extract(body, url, outlet, encoding)
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

    async def _extract(self, body: bytes, url: str, outlet: str | None, encoding: str | None):
        await self.gate.enter()
        try:
            fut = self._pool().submit(body, url, outlet, encoding)
            return await asyncio.wrap_future(fut)
        finally:
            self.gate.leave()
            self.stats.max_value(f"{STATS}/peak_inflight", self.gate.peak)
            self.stats.max_value(f"{STATS}/peak_held", self.gate.peak_held)

    def _inline(self, body: bytes, url: str, outlet: str | None, encoding: str | None):
        try:
            return extract_to_dict(body, url, outlet, encoding)
        except Exception as exc:  # noqa: BLE001 - recorded on the item, never lost
            raise ExtractionError("error", f"{type(exc).__name__}: {exc}") from exc

    def spider_closed(self) -> None:
        if self.pool is not None:
            shared.release(self.config, self)
            self.pool = None
