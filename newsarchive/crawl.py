"""Run outlet spiders in one process and summarise the run per outlet.

Used by ``newsarchive crawl`` and ``newsarchive demo``. The spiders, the WARC writer, the
extraction pool and the index pipeline are all switched on by settings; this module only
assembles the settings, runs the reactor once and reads back the stats.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader


@dataclass
class OutletRun:
    outlet: str
    reason: str
    stats: dict[str, Any]

    @property
    def pages(self) -> int:
        return int(self.stats.get("downloader/response_count", 0))

    @property
    def articles(self) -> int:
        return int(self.stats.get("newsarchive/discovery/pages/article", 0))

    @property
    def bytes(self) -> int:
        return int(self.stats.get("downloader/response_bytes", 0))

    @property
    def errors(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for prefix in ("newsarchive/discovery/error/", "newsarchive/fetcherrors/"):
            for k, v in self.stats.items():
                if k.startswith(prefix) and isinstance(v, int):
                    out[k[len(prefix) :]] = out.get(k[len(prefix) :], 0) + v
        return out


@dataclass
class CrawlResult:
    run_id: str
    started: float
    finished: float
    outlets: list[OutletRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.reason == "finished" for r in self.outlets)

    @property
    def duration(self) -> float:
        return self.finished - self.started


def crawl_settings(overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    settings.setmodule("newsarchive.settings", priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def run_crawl(
    outlets: list[str], overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> CrawlResult:
    """Crawl ``outlets`` (registry keys) in this process; returns per-outlet stats."""
    if env:
        os.environ.update(env)
    run_id = (overrides or {}).get("NEWSARCHIVE_RUN_ID") or uuid.uuid4().hex[:12]
    settings = crawl_settings({**(overrides or {}), "NEWSARCHIVE_RUN_ID": run_id})
    loader = SpiderLoader.from_settings(settings)
    process = CrawlerProcess(settings)
    crawlers = []
    for key in outlets:
        crawler = process.create_crawler(loader.load(key))
        crawlers.append((key, crawler))
        process.crawl(crawler)
    result = CrawlResult(run_id=run_id, started=time.time(), finished=0.0)
    process.start()
    result.finished = time.time()
    for key, crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        reason = str(stats.get("finish_reason", "not started"))
        result.outlets.append(OutletRun(key, reason, dict(stats)))
    return result
