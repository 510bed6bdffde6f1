"""robots.txt fetched once per host per run.

Scrapy's ``RobotsTxtMiddleware`` fetches each host's robots.txt for its own use, and the
spider fetches it again to read ``Sitemap:`` lines: two captures a second apart, which
showed as duplicate TimeMap entries. ``RobotsOnceMiddleware`` (placed after Scrapy's, so
that one's fetch goes first) remembers the first robots.txt response per URL and answers
later requests for it from memory, so only one is downloaded and archived. (Scrapy's
middleware holds every request of a host until its own fetch is done, so the spider's
request always finds the answer here.)

Settings: ``NEWSARCHIVE_ROBOTS_ONCE`` (default True).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured
from scrapy.http import Response

STAT = "newsarchive/robots"


def _is_robots(url: str) -> bool:
    return urlsplit(url).path == "/robots.txt"


class RobotsOnceMiddleware:
    def __init__(self, stats) -> None:
        self.stats = stats
        self.done: dict[str, Response] = {}

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("NEWSARCHIVE_ROBOTS_ONCE", True):
            raise NotConfigured
        return cls(crawler.stats)

    def process_request(self, request):
        if request.method != "GET" or not _is_robots(request.url):
            return None
        cached = self.done.get(request.url)
        if cached is None:
            return None
        self.stats.inc_value(f"{STAT}/reused")
        return cached.replace(request=request)

    def process_response(self, request, response):
        if request.method == "GET" and _is_robots(request.url) and request.url not in self.done:
            self.stats.inc_value(f"{STAT}/fetched")
            self.done[request.url] = response
        return response
