"""robots.txt, sitemaps (Google News, indexes, children) and RSS/Atom feeds of a replica site.

Each document is returned with the newest date it describes, which the server turns into
``Last-Modified`` (and, with the content hash, ``ETag``) for conditional GET.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape
from urllib.parse import urlsplit

from newsarchive.replica.site import EXTRAS, NEWS_LIMIT, Site, iso

SM_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
BROKEN_SITEMAP_OUTLET = "express"


def x(text: str) -> str:
    return escape(text, quote=False)


@dataclass(frozen=True)
class Child:
    url: str
    kind: str  # "articles" | "media" | "tags" | "malformed" | "missing"
    chunk: int = 0


def chunk_size(site: Site) -> int:
    return min(1000, max(4, math.ceil(site.count / 3)))


def _base(index_url: str) -> tuple[str, str]:
    parts = urlsplit(index_url)
    directory = parts.path.rsplit("/", 1)[0] + "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{directory}", query


def children(site: Site, index_pos: int) -> list[Child]:
    """The child sitemaps listed by the outlet's ``index_pos``-th sitemap index."""
    base, query = _base(site.outlet.sitemaps[index_pos])
    prefix = f"s{index_pos}-" if index_pos else ""
    yoast = site.style.sitemap_names == "yoast"
    cs = chunk_size(site)
    out = []
    for k in range(math.ceil(site.total / cs)):
        ext = ".xml.gz" if k % 3 == 1 else ".xml"
        year = site.published(k * cs).year
        name = f"post-sitemap{k + 1}{ext}" if yoast else f"sitemap-articles-{year}-{k}{ext}"
        out.append(Child(f"{base}{prefix}{name}{query}", "articles", k))
    media = "video-sitemap.xml" if yoast else "sitemap-video.xml"
    tags = "post_tag-sitemap.xml" if yoast else "sitemap-tags.xml"
    out.append(Child(f"{base}{prefix}{media}{query}", "media"))
    out.append(Child(f"{base}{prefix}{tags}{query}", "tags"))
    if site.key == BROKEN_SITEMAP_OUTLET and index_pos == 0:
        year = site.now.year
        out.append(Child(f"{base}sitemap-articles-{year}-truncated.xml", "malformed"))
        out.append(Child(f"{base}sitemap-articles-{year}-gone.xml", "missing"))
    return out


def child_items(site: Site, child: Child) -> list[int]:
    if child.kind == "articles":
        cs = chunk_size(site)
        nums = list(range(child.chunk * cs, min(site.total, (child.chunk + 1) * cs)))
        if site.style.deny and child.chunk == 0:
            nums.append(site.extra_numbers[len(EXTRAS)])
        return nums
    if child.kind == "media":
        return [n for n in site.extra_numbers if site.kind(n) in ("video", "gallery", "live")]
    if child.kind == "tags":
        return [n for n in site.extra_numbers if site.kind(n) == "tag"]
    return []


def urlset(site: Site, nums: list[int]) -> tuple[str, datetime]:
    rows = []
    newest = site.now.replace(year=2000)
    for n in nums:
        mod = site.modified(n)
        newest = max(newest, mod)
        rows.append(f"<url><loc>{x(site.url(n))}</loc><lastmod>{iso(mod)}</lastmod></url>")
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SM_NS}">\n'
        + "\n".join(rows)
        + "\n</urlset>\n"
    )
    return body, newest


def child_doc(site: Site, child: Child) -> tuple[str, datetime]:
    if child.kind == "malformed":
        body, newest = urlset(site, child_items(site, Child("", "articles", 0)))
        return body[: len(body) * 2 // 3], newest  # cut mid-document: not well-formed XML
    return urlset(site, child_items(site, child))


def index_doc(site: Site, index_pos: int) -> tuple[str, datetime]:
    rows = []
    newest = site.now.replace(year=2000)
    for child in children(site, index_pos):
        nums = child_items(site, child) or child_items(site, Child("", "articles", 0))
        # Broken children are listed as fresh, so a crawler honouring lastmod still meets them.
        fresh = child.kind in ("malformed", "missing") or not nums
        mod = site.now if fresh else max(site.modified(n) for n in nums)
        newest = max(newest, mod)
        rows.append(f"<sitemap><loc>{x(child.url)}</loc><lastmod>{iso(mod)}</lastmod></sitemap>")
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{SM_NS}">\n'
        + "\n".join(rows)
        + "\n</sitemapindex>\n"
    )
    return body, newest


def news_items(site: Site) -> list[int]:
    nums = [n for n in site.extra_numbers if site.in_news_sitemap(n)]
    for n in site.newest(NEWS_LIMIT):
        if not site.in_news_sitemap(n):
            break
        nums.append(n)
    return nums


def news_doc(site: Site) -> tuple[str, datetime]:
    rows = []
    newest = site.now.replace(year=2000)
    for n in news_items(site):
        t = site.truth(n)
        newest = max(newest, site.modified(n))
        rows.append(
            f"<url><loc>{x(t.url)}</loc><news:news><news:publication><news:name>"
            f"{x(site.outlet.name)}</news:name><news:language>{site.outlet.language}"
            f"</news:language></news:publication><news:publication_date>{t.published}"
            f"</news:publication_date><news:title>{x(t.title)}</news:title><news:keywords>"
            f"{x(', '.join(t.tags))}</news:keywords></news:news><lastmod>{t.modified}</lastmod></url>"
        )
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SM_NS}" '
        f'xmlns:news="{NEWS_NS}">\n' + "\n".join(rows) + "\n</urlset>\n"
    )
    return body, newest


def feed_doc(site: Site, feed_pos: int) -> tuple[str, datetime]:
    url = site.outlet.feeds[feed_pos]
    nums = site.feed_items(feed_pos)
    newest = max((site.modified(n) for n in nums), default=site.now)
    if site.style.atom:
        entries = []
        for n in nums:
            t = site.truth(n)
            authors = "".join(f"<author><name>{x(a)}</name></author>" for a in t.authors)
            entries.append(
                f'<entry><title>{x(t.title)}</title><link rel="alternate" href="{x(t.url)}"/>'
                f"<id>{x(t.url)}</id><published>{t.published}</published><updated>{t.modified}"
                f"</updated>{authors}<summary>{x(t.subtitle)}</summary></entry>"
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{x(site.outlet.name)}</title><id>{x(url)}</id><updated>{iso(newest)}"
            f'</updated><link rel="self" href="{x(url)}"/>\n' + "\n".join(entries) + "\n</feed>\n"
        )
        return body, newest
    items = []
    for n in nums:
        t = site.truth(n)
        pub = format_datetime(site.published(n))
        cats = "".join(f"<category>{x(tag)}</category>" for tag in t.tags)
        items.append(
            f"<item><title>{x(t.title)}</title><link>{x(t.url)}</link>"
            f'<guid isPermaLink="true">{x(t.url)}</guid><pubDate>{pub}</pubDate>'
            f"<atom:updated>{t.modified}</atom:updated>"
            f"<dc:creator>{x(', '.join(t.authors))}</dc:creator>{cats}"
            f"<description>{x(t.subtitle)}</description></item>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>{x(site.outlet.name)}</title><link>{x(site.outlet.home)}</link>"
        f'<atom:link href="{x(url)}" rel="self" type="application/rss+xml"/>'
        f"<description>Latest stories</description><lastBuildDate>{format_datetime(newest)}"
        "</lastBuildDate>\n" + "\n".join(items) + "\n</channel></rss>\n"
    )
    return body, newest


def robots(site: Site, crawl_delay: float | None, host: str) -> str:
    lines = ["User-agent: *", "Disallow: /search/", "Disallow: /private/"]
    if crawl_delay is not None:
        lines.append(f"Crawl-delay: {crawl_delay:g}")
    lines.append("")
    if site.outlet.robots_sitemaps:
        sitemaps = list(site.outlet.news_sitemaps) + list(site.outlet.sitemaps)
        if site.key == BROKEN_SITEMAP_OUTLET:
            sitemaps.append(f"https://{site.host}/sitemaps/sitemap-missing.xml")
        for url in sitemaps:
            if host == site.host or urlsplit(url).hostname == host:
                lines.append(f"Sitemap: {url}")
    return "\n".join(lines) + "\n"
