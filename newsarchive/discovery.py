"""Parsers for discovery sources: robots.txt, sitemaps, sitemap indexes, news sitemaps, feeds.

They take bytes and return plain entries; they never raise on bad input. Problems are
returned as a list of short error kinds so the spider can count them in its stats.
Scrapy's own sitemap helper drops the ``news:`` fields, so sitemaps are parsed here.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from lxml import etree

MAX_XML_BYTES = 64 * 1024 * 1024


@dataclass
class Entry:
    """One URL found in a sitemap or feed, with the dates and title the source gave."""

    url: str
    lastmod: datetime | None = None
    published: datetime | None = None
    title: str | None = None
    keywords: list[str] = field(default_factory=list)

    @property
    def date(self) -> datetime | None:
        """The date the max-age window applies to: newest of publication and lastmod."""
        dates = [d for d in (self.published, self.lastmod) if d]
        return max(dates) if dates else None


@dataclass
class Parsed:
    kind: str  # "sitemapindex" | "urlset" | "feed" | "invalid"
    entries: list[Entry]
    errors: list[str]


def parse_date(value: str | None) -> datetime | None:
    """Parse ISO 8601 (W3C datetime, dates alone) or RFC 822 dates; naive ones taken as UTC."""
    if not value:
        return None
    value = value.strip()
    if not value:
        return None
    dt = None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def maybe_gunzip(body: bytes, limit: int = MAX_XML_BYTES) -> tuple[bytes, str | None]:
    """Gunzip a ``.xml.gz`` body served as a file (not as Content-Encoding)."""
    if body[:2] != b"\x1f\x8b":
        return body, None
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as f:
            data = f.read(limit + 1)
    except (OSError, EOFError):
        return b"", "bad_gzip"
    if len(data) > limit:
        return data[:limit], "too_large"
    return data, None


def robots_sitemaps(body: bytes) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt, in order."""
    text = body.decode("utf-8", "replace")
    return [m.group(1).strip() for m in re.finditer(r"(?im)^\s*sitemap\s*:\s*(\S+)", text)]


def robots_crawl_delay(body: bytes, user_agent: str) -> float | None:
    """The Crawl-delay that applies to ``user_agent`` (its own group, else ``*``)."""
    from protego import Protego

    try:
        parser = Protego.parse(body.decode("utf-8", "replace"))
        delay = parser.crawl_delay(user_agent)
    except Exception:  # protego raises assorted errors on garbage; no delay then
        return None
    return float(delay) if delay else None


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _xml_root(body: bytes) -> tuple[etree._Element | None, list[str]]:
    body, gz_error = maybe_gunzip(body)
    errors = [gz_error] if gz_error else []
    stripped = body.lstrip()[:512].lower()
    if not stripped:
        return None, errors + ["empty"]
    if stripped.startswith((b"<!doctype html", b"<html")):
        return None, errors + ["html_not_xml"]
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
    )
    try:
        root = etree.fromstring(body, parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        return None, errors + ["malformed"]
    if parser.error_log and any(e.level >= 2 for e in parser.error_log):
        errors.append("malformed")
    return root, errors


def parse_sitemap(body: bytes) -> Parsed:
    """Parse a sitemap, sitemap index or Google News sitemap (partial entries kept)."""
    root, errors = _xml_root(body)
    if root is None:
        return Parsed("invalid", [], errors)
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        return Parsed("invalid", [], errors + ["not_sitemap"])
    entries = []
    item_tag = "url" if kind == "urlset" else "sitemap"
    for item in root:
        if _local(item.tag) != item_tag:
            continue
        loc = _text(_child(item, "loc"))
        if not loc:
            continue
        entry = Entry(loc, lastmod=parse_date(_text(_child(item, "lastmod"))))
        news = _child(item, "news")
        if news is not None:
            entry.published = parse_date(_text(_child(news, "publication_date")))
            entry.title = _text(_child(news, "title"))
            kw = _text(_child(news, "keywords"))
            entry.keywords = [k.strip() for k in kw.split(",") if k.strip()] if kw else []
        entries.append(entry)
    return Parsed(kind, entries, errors)


def parse_feed(body: bytes) -> Parsed:
    """Parse RSS 2.0, RSS 1.0 (RDF) or Atom; returns the item links with their dates."""
    root, errors = _xml_root(body)
    if root is None:
        return Parsed("invalid", [], errors)
    kind = _local(root.tag)
    entries: list[Entry] = []
    if kind in ("rss", "RDF"):
        items = root.iter("{*}item") if kind == "RDF" else root.iter("item")
        for item in items:
            link = _text(_child(item, "link"))
            guid = _child(item, "guid")
            if not link and guid is not None and guid.get("isPermaLink", "true") != "false":
                link = _text(guid)
            if not link:
                continue
            date = _child(item, "pubDate")
            if date is None:
                date = _child(item, "date")
            # atom:updated inside RSS items carries the last change, where outlets give it.
            entries.append(
                Entry(
                    link,
                    published=parse_date(_text(date)),
                    lastmod=parse_date(_text(_child(item, "updated"))),
                    title=_text(_child(item, "title")),
                )
            )
    elif kind == "feed":
        for item in root:
            if _local(item.tag) != "entry":
                continue
            link = None
            for c in item:
                if _local(c.tag) == "link" and c.get("rel", "alternate") == "alternate":
                    link = c.get("href")
                    break
            if not link:
                continue
            entries.append(
                Entry(
                    link.strip(),
                    published=parse_date(_text(_child(item, "published"))),
                    lastmod=parse_date(_text(_child(item, "updated"))),
                    title=_text(_child(item, "title")),
                )
            )
    else:
        return Parsed("invalid", [], errors + ["not_feed"])
    return Parsed("feed", entries, errors)
