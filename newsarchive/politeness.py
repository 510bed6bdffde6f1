"""Politeness Scrapy leaves out: robots.txt ``Crawl-delay`` and ``Retry-After``.

``PolitenessMiddleware`` watches robots.txt responses as they pass through the downloader
and raises that host's download-slot delay to its Crawl-delay (never randomised below it,
capped by ``NEWSARCHIVE_CRAWL_DELAY_MAX``). On a 429 or 503 with ``Retry-After`` it holds
every further request to that host until the time has passed and retries the request,
up to ``NEWSARCHIVE_RETRY_AFTER_TIMES`` times, waiting at most ``NEWSARCHIVE_RETRY_AFTER_MAX``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured

from newsarchive.discovery import robots_crawl_delay


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_dt = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return max(0.0, (when - now_dt).total_seconds())


class PolitenessMiddleware:
    """Downloader middleware enforcing robots Crawl-delay and Retry-After per host."""

    def __init__(self, crawler, delay_max: float, retry_max: float, retry_times: int) -> None:
        self.crawler = crawler
        self.delay_max = delay_max
        self.retry_max = retry_max
        self.retry_times = retry_times
        self.crawl_delays: dict[str, float] = {}
        self.paused_until: dict[str, float] = {}
        self.user_agent = crawler.settings.get("USER_AGENT", "")
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        if not s.getbool("NEWSARCHIVE_POLITENESS_ENABLED", True):
            raise NotConfigured
        mw = cls(
            crawler,
            delay_max=s.getfloat("NEWSARCHIVE_CRAWL_DELAY_MAX", 60.0),
            retry_max=s.getfloat("NEWSARCHIVE_RETRY_AFTER_MAX", 600.0),
            retry_times=s.getint("NEWSARCHIVE_RETRY_AFTER_TIMES", 3),
        )
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    def spider_opened(self, spider) -> None:
        self.user_agent = getattr(spider, "user_agent", None) or self.user_agent

    def _slot(self, request):
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        return downloader.slots.get(key)

    async def process_request(self, request):
        host = urlsplit(request.url).hostname or ""
        delay = self.crawl_delays.get(host)
        if delay:
            slot = self._slot(request)
            if slot is not None:
                slot.delay = max(slot.delay, delay)
                slot.jitter = 0.0
        wait = self.paused_until.get(host, 0) - time.time()
        if wait > 0:
            self.stats.inc_value("newsarchive/politeness/retry_after_waits")
            await asyncio.sleep(wait)
        return None

    def process_response(self, request, response):
        host = urlsplit(request.url).hostname or ""
        if urlsplit(request.url).path == "/robots.txt" and response.status == 200:
            delay = robots_crawl_delay(response.body, self.user_agent)
            if delay:
                delay = min(delay, self.delay_max) if self.delay_max else 0.0
                if delay:
                    self.crawl_delays[host] = delay
                    self.stats.set_value(f"newsarchive/politeness/crawl_delay/{host}", delay)
        if response.status in (429, 503):
            after = parse_retry_after(response.headers.get(b"Retry-After"))
            tries = request.meta.get("retry_after_times", 0)
            if after is not None and tries < self.retry_times:
                after = min(after, self.retry_max)
                self.paused_until[host] = max(self.paused_until.get(host, 0), time.time() + after)
                self.stats.inc_value(f"newsarchive/politeness/retry_after/{response.status}")
                retry = request.replace(dont_filter=True)
                retry.meta["retry_after_times"] = tries + 1
                retry.priority = request.priority + 1
                return retry
        return response


__all__ = ["PolitenessMiddleware", "parse_retry_after"]
