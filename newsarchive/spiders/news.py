"""The generic news spider: discovery from robots.txt, sitemaps, news sitemaps, feeds, sections.

One class serves every outlet; :mod:`newsarchive.spiders.outlets` makes a subclass per
registry entry, named by its key. The spider only discovers and hands pages on: capture,
extraction and indexing happen in the extension and pipelines.

Settings:
    NEWSARCHIVE_MAX_AGE_DAYS   dated entries older than this are skipped (default 3)
    NEWSARCHIVE_SECTIONS       "fallback" (only when no sitemap or feed answers usefully),
                               "always" or "never"
    NEWSARCHIVE_MAX_ARTICLES   stop discovering after this many article requests (0 = no limit)
    NEWSARCHIVE_SEEN           use the index's seen-set to skip archived articles (default True)
    NEWSARCHIVE_RETRY_BLOCKED  ask again for URLs that gave only a challenge, paywall or empty
                               page, with backoff (default True; NEWSARCHIVE_RETRY_BASE_HOURS
                               1, doubled per attempt; NEWSARCHIVE_RETRY_MAX 6 fetches)
    NEWSARCHIVE_NOW            pin "now" for the max-age window (ISO time; see clock.py)
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from newsarchive import clock
from newsarchive.classify import page_kind
from newsarchive.conditional import NOT_MODIFIED
from newsarchive.discovery import Entry, parse_feed, parse_sitemap, robots_sitemaps
from newsarchive.registry import Outlet, load_outlets
from newsarchive.urls import canonicalize_url, primary_host_map

STAT = "newsarchive/discovery"
SITEMAP_MAXSIZE = 52_428_800 + 1024 * 1024


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt else None


class NewsSpider(scrapy.Spider):
    """Discovers an outlet's new articles and yields a page item per fetched article."""

    outlet_key: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        outlets = load_outlets()
        self.outlet: Outlet = outlets[self.outlet_key or self.name]
        self.primary_hosts = primary_host_map({k: o.domains for k, o in outlets.items()})
        # CDN hosts too: Scrapy's robots.txt requests for them must not be filtered as offsite.
        self.allowed_domains = list(self.outlet.domains) + list(self.outlet.cdn_hosts)
        self.discovered: set[str] = set()
        self.sources_seen: set[str] = set()
        self.canonical_seen: set[str] = set()
        self.seen: dict[str, datetime] = {}
        self.articles_requested = 0
        self.dated_answers = 0  # sitemap/feed answers that parsed or were unchanged (304)
        self.sections_done = False
        self.retries: list[str] = []

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        s = crawler.settings
        spider.max_age = timedelta(days=s.getfloat("NEWSARCHIVE_MAX_AGE_DAYS", 3.0))
        spider.sections_mode = s.get("NEWSARCHIVE_SECTIONS", "fallback")
        spider.max_articles = s.getint("NEWSARCHIVE_MAX_ARTICLES", 0)
        spider.now = clock.now(s)  # NEWSARCHIVE_NOW pins it, as it pins the replica's
        if s.getbool("NEWSARCHIVE_SEEN", True):
            spider.seen = _load_seen(s.get("NEWSARCHIVE_DB"), spider.outlet.key, spider.logger)
        if s.getbool("NEWSARCHIVE_RETRY_BLOCKED", True):
            spider.retries = _load_retries(spider, s)
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        return spider

    # -- helpers -------------------------------------------------------------------------
    def canonical(self, url: str) -> str:
        return canonicalize_url(url, self.primary_hosts)

    def count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(f"{STAT}/{key}", n)
        self.crawler.stats.inc_value(f"{STAT}/{self.outlet.key}/{key}", n)

    def problem(self, kind: str, url: str, detail: str = "") -> dict:
        """Count a discovery problem and return a fetch_error item for the index."""
        self.count(f"error/{kind}")
        self.logger.warning("discovery problem %s at %s %s", kind, url, detail)
        return {
            "kind": "fetch_error",
            "url": url,
            "outlet": self.outlet.key,
            "time": datetime.now(UTC),
            "error_kind": kind,
            "detail": detail,
        }

    def source_request(self, url: str, callback, source: str, **meta: Any) -> scrapy.Request | None:
        if url in self.sources_seen:
            return None
        self.sources_seen.add(url)
        self.count(f"requests/{source}")
        if source in ("sitemap", "news_sitemap"):
            # The sitemap protocol allows 50 MB uncompressed, above DOWNLOAD_MAXSIZE.
            meta.setdefault("download_maxsize", SITEMAP_MAXSIZE)
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            priority=10,
            meta={"discovery": {"source": source, "source_url": url}, **meta},
        )

    # -- start ---------------------------------------------------------------------------
    async def start(self):
        o = self.outlet
        if o.robots_sitemaps:
            req = self.source_request(o.robots_url, self.parse_robots, "robots")
            if req:
                yield req
        for url in o.news_sitemaps:
            if req := self.source_request(url, self.parse_sitemap, "news_sitemap"):
                yield req
        for url in o.sitemaps:
            if req := self.source_request(url, self.parse_sitemap, "sitemap"):
                yield req
        for url in o.feeds:
            if req := self.source_request(url, self.parse_feed, "feed"):
                yield req
        if self.sections_mode == "always":
            for req in self.section_requests():
                yield req
        for url in self.retries:
            if self.canonical(url) in self.discovered or not self.outlet.is_article_url(url):
                continue
            self.discovered.add(self.canonical(url))
            self.count("articles/retry")
            yield scrapy.Request(
                url,
                callback=self.parse_article,
                errback=self.on_error,
                meta={"discovery": {"source": "retry"}, "update": False},
            )

    def section_requests(self) -> list[scrapy.Request]:
        self.sections_done = True
        reqs = (self.source_request(u, self.parse_section, "section") for u in self.outlet.sections)
        return [r for r in reqs if r]

    def spider_idle(self, spider) -> None:
        if spider is not self or self.sections_done or self.sections_mode != "fallback":
            return
        if self.dated_answers or not self.outlet.sections:
            return
        self.count("sections_fallback")
        for req in self.section_requests():
            self.crawler.engine.crawl(req)
        raise DontCloseSpider

    # -- discovery callbacks -------------------------------------------------------------
    def parse_robots(self, response: Response):
        if response.status != 200:
            yield self.problem(f"http_{response.status}", response.url, "robots.txt")
            return
        for url in robots_sitemaps(response.body):
            if not self.outlet.owns(url):
                self.count("skipped/foreign_sitemap")
                continue
            source = "news_sitemap" if url in self.outlet.news_sitemaps else "sitemap"
            if req := self.source_request(url, self.parse_sitemap, source):
                yield req

    def parse_sitemap(self, response: Response):
        source = response.meta["discovery"]["source"]
        if response.status == 304:
            self.dated_answers += 1
            self.count("not_modified")
            return
        if NOT_MODIFIED in response.flags:  # answered from the archive: read it again
            self.count("not_modified")
        if response.status != 200:
            yield self.problem(f"http_{response.status}", response.url, source)
            return
        parsed = parse_sitemap(response.body)
        for err in parsed.errors:
            yield self.problem(f"sitemap_{err}", response.url)
        if parsed.entries:
            self.dated_answers += 1
        if parsed.kind == "sitemapindex":
            for entry in parsed.entries:
                if not self.outlet.follows_sitemap(entry.url):
                    self.count("skipped/sitemap_filter")
                elif entry.lastmod and entry.lastmod < self.now - self.max_age:
                    self.count("skipped/sitemap_old")
                elif req := self.source_request(entry.url, self.parse_sitemap, source):
                    yield req
        else:
            for entry in parsed.entries:
                yield from self.article_request(entry, source, response.url)

    def parse_feed(self, response: Response):
        if response.status == 304:
            self.dated_answers += 1
            self.count("not_modified")
            return
        if NOT_MODIFIED in response.flags:
            self.count("not_modified")
        if response.status != 200:
            yield self.problem(f"http_{response.status}", response.url, "feed")
            return
        parsed = parse_feed(response.body)
        for err in parsed.errors:
            yield self.problem(f"feed_{err}", response.url)
        if parsed.entries:
            self.dated_answers += 1
        for entry in parsed.entries:
            yield from self.article_request(entry, "feed", response.url)

    def parse_section(self, response: Response):
        if response.status != 200 or not hasattr(response, "css"):
            yield self.problem(f"http_{response.status}", response.url, "section")
            return
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if url.startswith(("http://", "https://")):
                yield from self.article_request(Entry(url), "section", response.url)

    # -- articles ------------------------------------------------------------------------
    def article_request(self, entry: Entry, source: str, source_url: str):
        if not self.outlet.owns(entry.url):
            self.count("skipped/foreign")
            return
        url = self.canonical(entry.url)
        if url in self.discovered:
            self.count("skipped/duplicate")
            return
        if not self.outlet.is_article_url(url):
            self.count("skipped/not_article_url")
            return
        date = entry.date
        if date and date < self.now - self.max_age:
            self.count("skipped/too_old")
            return
        self.discovered.add(url)
        seen_at = self.seen.get(url)
        if seen_at and not (date and date > seen_at):
            self.count("skipped/seen")
            return
        if self.max_articles and self.articles_requested >= self.max_articles:
            self.count("skipped/max_articles")
            return
        self.articles_requested += 1
        self.count(f"articles/{source}")
        discovery = {
            "source": source,
            "source_url": source_url,
            "lastmod": _iso(entry.lastmod),
            "published": _iso(entry.published),
            "title": entry.title,
            "keywords": entry.keywords or None,
        }
        yield scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            meta={"discovery": discovery, "update": bool(seen_at)},
        )

    def parse_article(self, response: Response):
        mime = response.headers.get(b"Content-Type", b"").decode("latin-1").split(";")[0].lower()
        url = self.canonical(response.url)
        kind = page_kind(self.outlet, url, response.status, mime)
        if response.status == 304 or NOT_MODIFIED in response.flags:
            # Unchanged since the capture the archive holds (and extracted then); a bare
            # 304 is one the archive could not answer (logged by the middleware).
            self.count("pages/not_modified")
            return
        if response.status != 200:
            yield self.problem(f"http_{response.status}", response.url, "article")
            return
        if kind != "article":
            self.count(f"pages/{kind}")
            return
        rel = canonical_link(response.body)
        if rel:
            rel_url = self.canonical(response.urljoin(rel.strip()))
            if self.outlet.owns(rel_url) and rel_url != url:
                self.count("canonical_differs")
                url = rel_url
        if url in self.canonical_seen:
            self.count("skipped/duplicate_canonical")
            return
        self.canonical_seen.add(url)
        capture = response.meta.get("warc_record") or {}
        self.count("pages/article")
        self.count("articles_updated" if response.meta.get("update") else "articles_new")
        yield {
            "kind": "page",
            "url": response.url,
            "canonical_url": url,
            "outlet": self.outlet.key,
            "capture_id": capture.get("id"),
            "fetched_at": capture.get("fetched_at") or datetime.now(UTC),
            "status": response.status,
            "body": response.body,
            "encoding": response.encoding,
            "discovered_via": response.meta.get("discovery"),
            "update": response.meta.get("update", False),
        }

    def on_error(self, failure):
        request = failure.request
        if request.meta.get("fetch_error"):
            return  # newsarchive.fetcherrors has recorded it, with its kind
        kind = type(failure.value).__name__
        yield self.problem(f"download_{kind}", request.url, str(failure.value)[:500])


LINK_TAG = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
REL_CANONICAL = re.compile(rb"""\brel\s*=\s*["']?canonical\b""", re.IGNORECASE)
HREF = re.compile(rb"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def canonical_link(body: bytes, limit: int = 256 * 1024) -> str | None:
    """The href of ``<link rel=canonical>``, found without parsing the page: extraction
    parses it later in a worker, and a full parse here would cost the reactor ~2 ms a page."""
    for tag in LINK_TAG.finditer(body, 0, limit):
        if REL_CANONICAL.search(tag.group(0)):
            m = HREF.search(tag.group(0))
            if m:
                raw = next(g for g in m.groups() if g is not None)
                return html.unescape(raw.decode("utf-8", "replace")).strip() or None
    return None


def _load_retries(spider: NewsSpider, s) -> list[str]:
    """URLs due for another try after a stand-in page (see ``index.seen.load_retries``)."""
    from newsarchive.index.seen import load_retries

    try:
        return load_retries(
            s.get("NEWSARCHIVE_DB") or "archive.duckdb",
            [spider.outlet.key],
            spider.now,
            s.getfloat("NEWSARCHIVE_RETRY_BASE_HOURS", 1.0),
            s.getint("NEWSARCHIVE_RETRY_MAX", 6),
        )
    except Exception as exc:  # an unreadable index must not stop discovery
        spider.logger.warning("retry list unavailable (%s)", exc)
        return []


def _load_seen(db_path: str | None, outlet: str, logger) -> dict[str, datetime]:
    """Archived article URLs and their latest capture time, from the index's seen-set."""
    try:
        from newsarchive.index.seen import load_seen
    except ImportError:
        return {}
    try:
        return load_seen(db_path or "archive.duckdb", [outlet])
    except Exception as exc:  # an unreadable index must not stop discovery
        logger.warning("seen-set unavailable (%s); every discovered article is fetched", exc)
        return {}
