"""Run bookkeeping for spiders started without ``newsarchive crawl`` (scrapy crawl, scrapyd).

``newsarchive crawl`` takes the per-outlet locks and writes the ``crawl_runs`` row itself
and passes its run id down as ``NEWSARCHIVE_RUN_ID``. A spider started any other way gets
the same guarantees from this extension: it takes its outlet's lock (closing at once with
reason ``locked`` when another job holds it) and records one ``crawl_runs`` row.

Setting: ``NEWSARCHIVE_JOBS_ENABLED`` (default True).
"""

from __future__ import annotations

import logging
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured

from newsarchive.locks import LockHeld, OutletLocks

logger = logging.getLogger(__name__)


class RunRecorder:
    def __init__(self, crawler, db: Path) -> None:
        self.crawler = crawler
        self.db = db
        self.locks: OutletLocks | None = None
        self.run_id: str | None = None

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        if not s.getbool("NEWSARCHIVE_JOBS_ENABLED", True) or s.get("NEWSARCHIVE_RUN_ID"):
            raise NotConfigured
        ext = cls(crawler, Path(s.get("NEWSARCHIVE_DB") or "archive.duckdb"))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider) -> None:
        locks = OutletLocks(self.db.parent / f".{self.db.name}.locks", [spider.name])
        try:
            locks.acquire()
        except LockHeld as exc:
            logger.error("refused: %s; not starting a second run", exc)
            self.crawler.stats.set_value("newsarchive/jobs/refused", str(exc))
            self.crawler.engine.close_spider(spider, "locked")
            return
        self.locks = locks
        from newsarchive.index.db import start_run

        self.run_id = start_run([spider.name], self.db)
        self.crawler.stats.set_value("newsarchive/jobs/run_id", self.run_id)

    def spider_closed(self, spider, reason: str) -> None:
        if self.locks is None:
            return
        try:
            from newsarchive.crawl import OutletRun
            from newsarchive.index.db import finish_run

            stats = dict(self.crawler.stats.get_stats())
            # the same rule as `newsarchive crawl`: no successful response is a failure
            failure = OutletRun(spider.name, reason, stats).failure
            if failure:
                stats["reason"] = f"{spider.name}: {failure}"
            finish_run(self.run_id, stats, "failed" if failure else "finished", self.db)
        finally:
            self.locks.release()
