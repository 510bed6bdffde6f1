"""Sitemap, news sitemap, feed and robots parsers on good and broken input."""

import gzip
from datetime import UTC, datetime

from newsarchive.discovery import (
    parse_date,
    parse_feed,
    parse_sitemap,
    robots_crawl_delay,
    robots_sitemaps,
)
from newsarchive.urls import canonicalize_url, primary_host_map

NEWS = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>https://nypost.com/2026/11/20/harbour-vote/</loc>
  <news:news><news:publication><news:name>New York Post</news:name><news:language>en</news:language></news:publication>
   <news:publication_date>2026-11-20T09:30:00-05:00</news:publication_date>
   <news:title>Harbour vote</news:title><news:keywords>port, council</news:keywords></news:news>
 </url>
 <url><loc>https://nypost.com/2026/11/19/other/</loc><lastmod>2026-11-19</lastmod></url>
</urlset>"""


def test_news_sitemap_keeps_news_fields():
    parsed = parse_sitemap(NEWS)
    assert parsed.kind == "urlset" and not parsed.errors
    first = parsed.entries[0]
    assert first.title == "Harbour vote"
    assert first.keywords == ["port", "council"]
    assert first.published == datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    assert parsed.entries[1].lastmod == datetime(2026, 11, 19, tzinfo=UTC)


def test_gzipped_sitemap_index():
    body = gzip.compress(
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>https://a.test/s1.xml.gz</loc><lastmod>2026-11-20T00:00:00Z"
        b"</lastmod></sitemap></sitemapindex>"
    )
    parsed = parse_sitemap(body)
    assert parsed.kind == "sitemapindex"
    assert [e.url for e in parsed.entries] == ["https://a.test/s1.xml.gz"]


def test_broken_inputs_are_reported_not_raised():
    assert parse_sitemap(NEWS[:400]).errors == ["malformed"]
    assert parse_sitemap(NEWS[:400]).entries  # what parsed is kept
    assert parse_sitemap(b"<!DOCTYPE html><html><body>hi</body></html>").errors == ["html_not_xml"]
    assert parse_feed(b"<html><body>not a feed</body></html>").errors == ["html_not_xml"]
    assert parse_sitemap(b"").errors == ["empty"]
    assert parse_sitemap(b"\x1f\x8b\x08garbage").errors[0] == "bad_gzip"
    assert parse_feed(b"<foo/>").errors == ["not_feed"]
    assert parse_feed(b"\x00\xff" * 100).kind == "invalid"


def test_rss_and_atom():
    rss = parse_feed(
        b"<rss version='2.0'><channel><item><title>A</title>"
        b"<link>https://a.test/1</link><pubDate>Fri, 20 Nov 2026 10:00:00 +0000</pubDate>"
        b"</item><item><guid>https://a.test/2</guid></item></channel></rss>"
    )
    assert [e.url for e in rss.entries] == ["https://a.test/1", "https://a.test/2"]
    assert rss.entries[0].published == datetime(2026, 11, 20, 10, tzinfo=UTC)
    atom = parse_feed(
        b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>B</title>"
        b"<link rel='alternate' href='https://a.test/3'/>"
        b"<updated>2026-11-20T11:00:00Z</updated></entry></feed>"
    )
    assert atom.entries[0].url == "https://a.test/3"
    assert atom.entries[0].date == datetime(2026, 11, 20, 11, tzinfo=UTC)


def test_robots_lines():
    body = b"User-agent: *\nDisallow: /search/\nCrawl-delay: 3\nSitemap: https://a.test/s.xml\n"
    assert robots_sitemaps(body) == ["https://a.test/s.xml"]
    assert robots_crawl_delay(body, "newsarchive/0.1") == 3.0
    assert robots_crawl_delay(b"\xff\xfe garbage", "x") is None


def test_dates():
    assert parse_date("2026-11-20") == datetime(2026, 11, 20, tzinfo=UTC)
    assert parse_date("nonsense") is None and parse_date("") is None


def test_canonicalisation():
    hosts = primary_host_map({"m": ("www.mirror.co.uk", "mirror.co.uk")})
    variants = [
        "https://www.mirror.co.uk/news/a-123",
        "http://mirror.co.uk/news/a-123",
        "https://WWW.Mirror.co.uk/news/a-123#comments",
        "https://www.mirror.co.uk/news/a-123?utm_source=twitter&fbclid=xyz",
        "https://www.mirror.co.uk:443/news/a-123?gclid=1",
    ]
    assert {canonicalize_url(v, hosts) for v in variants} == {"https://www.mirror.co.uk/news/a-123"}
    assert canonicalize_url("https://x.test/p?b=2&a=1") == "https://x.test/p?a=1&b=2"
