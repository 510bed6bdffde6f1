"""One progress line per outlet during a crawl, instead of Scrapy's INFO stream.

``newsarchive crawl`` switches it on (and Scrapy's log down to WARNING) unless ``-v`` is
given. Each outlet prints a line when its counts changed since the last one, at most every
``NEWSARCHIVE_PROGRESS_INTERVAL`` seconds, and a final line when it closes::

    nypost: 41 pages, 30 articles, 0 errors
    nypost: done (finished): 52 pages, 38 articles, 1 error

Settings: ``NEWSARCHIVE_PROGRESS`` (default False), ``NEWSARCHIVE_PROGRESS_INTERVAL``
(seconds, default 5).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet import task

ERROR_PREFIX = "newsarchive/discovery/error/"


class ProgressLine:
    def __init__(self, crawler: Any, interval: float, out: TextIO | None = None) -> None:
        self.crawler = crawler
        self.interval = interval
        self.out = out
        self.name = "?"
        self._last: tuple[int, int, int] | None = None
        self._loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressLine:
        s = crawler.settings
        if not s.getbool("NEWSARCHIVE_PROGRESS", False):
            raise NotConfigured
        ext = cls(crawler, max(0.2, s.getfloat("NEWSARCHIVE_PROGRESS_INTERVAL", 5.0)))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def counts(self) -> tuple[int, int, int]:
        stats = self.crawler.stats.get_stats()
        errors = sum(v for k, v in stats.items() if k.startswith(ERROR_PREFIX) and type(v) is int)
        return (
            int(stats.get("downloader/response_count", 0)),
            int(stats.get("newsarchive/discovery/pages/article", 0)),
            errors,
        )

    def line(self, counts: tuple[int, int, int], prefix: str = "") -> str:
        pages, articles, errors = counts
        return (
            f"{self.name}: {prefix}{pages} pages, {articles} articles, "
            f"{errors} error{'' if errors == 1 else 's'}"
        )

    def _write(self, text: str) -> None:
        out = self.out or sys.stderr
        try:
            print(text, file=out, flush=True)
        except (BrokenPipeError, ValueError):  # a closed pipe must not stop the crawl
            pass

    def spider_opened(self, spider: Any) -> None:
        self.name = spider.name
        self._loop = task.LoopingCall(self.tick)
        self._loop.start(self.interval, now=False)

    def tick(self) -> None:
        counts = self.counts()
        if counts != self._last:
            self._last = counts
            self._write(self.line(counts))

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._write(self.line(self.counts(), prefix=f"done ({reason}): "))
