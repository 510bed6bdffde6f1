"""Conditional GET for feeds and sitemaps: an unchanged source costs a 304 and nothing more.

``ConditionalGetMiddleware`` remembers the ``ETag`` and ``Last-Modified`` of every feed,
sitemap and news sitemap it sees answered with 200, and sends them back as ``If-None-Match``
/ ``If-Modified-Since`` next time. Validators live in a small JSON file per outlet beside the
index (``.<db>.state/validators-<outlet>.json``), written atomically when the spider closes
cleanly: a killed run keeps the old validators, so its sources are read again in full.
Article pages are never made conditional; the seen-set decides whether they are fetched.

Settings: ``NEWSARCHIVE_CONDITIONAL_ENABLED`` (default True), ``NEWSARCHIVE_STATE_DIR``
(default: beside ``NEWSARCHIVE_DB``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured

SOURCES = ("feed", "sitemap", "news_sitemap")
STAT = "newsarchive/conditional"


def state_dir(settings) -> Path:
    explicit = settings.get("NEWSARCHIVE_STATE_DIR")
    if explicit:
        return Path(explicit)
    db = Path(settings.get("NEWSARCHIVE_DB") or "archive.duckdb")
    return db.parent / f".{db.name}.state"


class ConditionalGetMiddleware:
    """Downloader middleware adding validators to feed and sitemap requests."""

    def __init__(self, crawler, path_dir: Path) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.dir = path_dir
        self.validators: dict[str, dict[str, str]] = {}
        self.path: Path | None = None

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("NEWSARCHIVE_CONDITIONAL_ENABLED", True):
            raise NotConfigured
        mw = cls(crawler, state_dir(crawler.settings))
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_opened(self, spider) -> None:
        self.path = self.dir / f"validators-{spider.name}.json"
        try:
            self.validators = json.loads(self.path.read_text())
        except FileNotFoundError:
            self.validators = {}
        except (OSError, ValueError) as exc:
            spider.logger.warning("ignoring unreadable validators %s: %s", self.path, exc)
            self.validators = {}

    def spider_closed(self, spider, reason: str) -> None:
        if reason != "finished" or self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.validators, indent=0, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError as exc:  # e.g. a full disk: the old validators stay, nothing is lost
            tmp.unlink(missing_ok=True)
            spider.logger.warning(
                "conditional GET validators not saved (%s); sources are read in full next time",
                exc.strerror or exc,
            )

    def process_request(self, request):
        source = (request.meta.get("discovery") or {}).get("source")
        if source not in SOURCES:
            return None
        known = self.validators.get(request.url)
        if not known:
            return None
        if known.get("etag") and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = known["etag"]
        if known.get("last_modified") and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = known["last_modified"]
        self.stats.inc_value(f"{STAT}/requests")
        return None

    def process_response(self, request, response):
        source = (request.meta.get("discovery") or {}).get("source")
        if source not in SOURCES:
            return response
        if response.status == 304:
            self.stats.inc_value(f"{STAT}/not_modified")
        elif response.status == 200:
            etag = response.headers.get(b"ETag")
            modified = response.headers.get(b"Last-Modified")
            if etag or modified:
                self.validators[request.url] = {
                    k: v.decode("latin-1")
                    for k, v in (("etag", etag), ("last_modified", modified))
                    if v
                }
        return response
