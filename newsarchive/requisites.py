"""Page requisites: the images, stylesheets and scripts an archived article needs to render.

``RequisitesMiddleware`` is a downloader middleware. When an article page (a 200 HTML page
the outlet's registry entry calls an article) comes back, it finds the page's requisites and
downloads them through the engine (``download_async``), so each one passes every downloader
middleware like a page does: robots.txt, download-slot delays and Crawl-delay, retries,
redirects, and the WarcWriter, which archives it as a capture (a revisit when unchanged
since an earlier run). Requisites never reach the spider, so they never become articles.

What is fetched, per page (in page order, up to the cap):
    images       ``<img src>``, one ``srcset`` candidate (the widest), ``og:image``
    css          ``<link rel=stylesheet href>``
    scripts      ``<script src>``
only from the page's own outlet hosts and its ``cdn_hosts`` (seeds/outlets.toml); each URL
once per run, with ``Referer`` set to the page.

Settings:
    NEWSARCHIVE_REQUISITES                "images,css" (default), any of images, css, scripts;
                                          "" or "off" disables the component
    NEWSARCHIVE_REQUISITES_MAX_PER_PAGE   cap per page (default 40)
"""

from __future__ import annotations

import html
import logging
import re
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from newsarchive.classify import page_kind
from newsarchive.registry import Outlet, OutletByHost, load_outlets
from newsarchive.urls import canonicalize_url, primary_host_map

logger = logging.getLogger(__name__)

STAT = "newsarchive/requisites"
KINDS = ("images", "css", "scripts")
DEFAULT = "images,css"
SCAN_LIMIT = 2 * 1024 * 1024  # bytes of a page scanned for requisites

_TAG = re.compile(rb"<(img|link|meta|script|source)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(
    rb"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.DOTALL
)


def parse_kinds(value: str | None) -> tuple[str, ...]:
    """The requisite kinds a setting value asks for; raises ValueError on an unknown one."""
    if value is None:
        value = DEFAULT
    text = str(value).strip().lower()
    if text in ("", "off", "none", "false", "0"):
        return ()
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(
            f"NEWSARCHIVE_REQUISITES: unknown kind {bad[0]!r} (use {', '.join(KINDS)})"
        )
    return kinds


def _attrs(raw: bytes, wanted: frozenset[bytes]) -> dict[str, str]:
    """The ``wanted`` attributes of a tag (lower-case names), first occurrence of each.

    Every attribute is still matched, so that a quoted value never passes for a name; only
    the wanted ones are decoded and unescaped (most of a page's tags carry many others).
    """
    out: dict[str, str] = {}
    for m in _ATTR.finditer(raw):
        name = m.group(1).lower()
        if name not in wanted:
            continue
        key = name.decode("ascii")
        if key in out:
            continue
        dq, sq, bare = m.group(2, 3, 4)
        value = (dq if dq is not None else sq if sq is not None else bare).decode(
            "utf-8", "replace"
        )
        out[key] = (html.unescape(value) if "&" in value else value).strip()
    return out


# Per tag, the attributes find_requisites reads (names as bytes, lower case).
_WANTED = {
    b"img": frozenset((b"src", b"srcset")),
    b"source": frozenset((b"srcset",)),
    b"meta": frozenset((b"property", b"name", b"content")),
    b"link": frozenset((b"rel", b"href")),
    b"script": frozenset((b"src",)),
}
# A word the raw tag must hold to matter (unless it has entities): see find_requisites.
_NEEDS = {b"meta": b"og:image", b"link": b"stylesheet"}
# The tags each kind needs: tags no asked-for kind needs are skipped before any parsing.
_TAGS_OF = {"images": (b"img", b"source", b"meta"), "css": (b"link",), "scripts": (b"script",)}


def widest_candidate(srcset: str) -> str | None:
    """The URL of the widest (or highest-density) ``srcset`` candidate."""
    best, best_size = None, -1.0
    for part in srcset.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        size = 1.0
        if len(bits) > 1 and bits[1][:-1].replace(".", "", 1).isdigit():
            size = float(bits[1][:-1])
        if size > best_size:
            best, best_size = bits[0], size
    return best


def find_requisites(body: bytes, page_url: str, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(url, kind)`` of every requisite of a page, absolute, in page order, unique."""
    base = page_url
    found: list[tuple[str, str]] = []
    tags = {t for kind in kinds for t in _TAGS_OF.get(kind, ())}
    for m in _TAG.finditer(body, 0, SCAN_LIMIT):
        tag = m.group(1).lower()
        if tag not in tags:
            continue
        raw = m.group(2)
        # Most <meta> and <link> tags are neither og:image nor a stylesheet; without an
        # entity ("&") their words appear as such in the raw tag, so skip them unparsed.
        if tag in _NEEDS and b"&" not in raw and _NEEDS[tag] not in raw.lower():
            continue
        a = _attrs(raw, _WANTED[tag])
        if tag in (b"img", b"source") and "images" in kinds:
            if tag == b"img" and a.get("src"):
                found.append((a["src"], "images"))
            if a.get("srcset") and (cand := widest_candidate(a["srcset"])):
                found.append((cand, "images"))
        elif tag == b"meta" and "images" in kinds:
            prop = (a.get("property") or a.get("name") or "").lower()
            if prop in ("og:image", "og:image:url", "og:image:secure_url") and a.get("content"):
                found.append((a["content"], "images"))
        elif tag == b"link":
            rel = (a.get("rel") or "").lower().split()
            if "stylesheet" in rel and "css" in kinds and a.get("href"):
                found.append((a["href"], "css"))
        elif tag == b"script" and "scripts" in kinds and a.get("src"):
            found.append((a["src"], "scripts"))
    out, seen, seen_raw = [], set(), set()
    for raw, kind in found:
        if raw in seen_raw:  # the same reference again (og:image and <img>, srcset and src)
            continue
        seen_raw.add(raw)
        url = urljoin(base, raw).split("#", 1)[0]
        if urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        out.append((url, kind))
    return out


class RequisitesMiddleware:
    """Downloader middleware fetching article pages' requisites; see the module docstring."""

    def __init__(self, crawler, kinds: tuple[str, ...], max_per_page: int) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.kinds = kinds
        self.max_per_page = max_per_page
        self.seen: set[str] = set()
        self.outlets: dict[str, Outlet] = load_outlets()
        self._by_host = OutletByHost(self.outlets)
        self.hosts = primary_host_map({k: o.domains for k, o in self.outlets.items()})
        self.pending: set = set()

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        try:
            kinds = parse_kinds(s.get("NEWSARCHIVE_REQUISITES", DEFAULT))
        except ValueError as exc:
            raise NotConfigured(str(exc)) from None
        if not kinds:
            raise NotConfigured("NEWSARCHIVE_REQUISITES is off")
        return cls(crawler, kinds, s.getint("NEWSARCHIVE_REQUISITES_MAX_PER_PAGE", 40))

    def _outlet(self, url: str) -> Outlet | None:
        return self._by_host.outlet(url)

    def _allowed(self, outlet: Outlet, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return outlet.owns(url) or host in outlet.cdn_hosts

    def process_response(self, request, response):
        if request.meta.get("requisite") or response.status != 200:
            return response
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1")
        outlet = self._outlet(response.url)
        if outlet is None:
            return response
        url = canonicalize_url(response.url, self.hosts)
        if page_kind(outlet, url, response.status, ctype) != "article":
            return response
        self.stats.inc_value(f"{STAT}/pages")
        queued = 0
        for req_url, kind in find_requisites(response.body, response.url, self.kinds):
            if not self._allowed(outlet, req_url):
                self.stats.inc_value(f"{STAT}/skipped/foreign_host")
                continue
            if req_url in self.seen:
                self.stats.inc_value(f"{STAT}/skipped/duplicate")
                continue
            if queued >= self.max_per_page:
                self.stats.inc_value(f"{STAT}/skipped/page_cap")
                continue
            self.seen.add(req_url)
            queued += 1
            self._fetch(req_url, kind, response.url)
        return response

    def _fetch(self, url: str, kind: str, page_url: str) -> None:
        req = Request(
            url,
            headers={"Referer": page_url},
            meta={
                "requisite": kind,
                "allow_offsite": True,
                "discovery": {"source": "requisite", "source_url": page_url},
            },
        )
        self.stats.inc_value(f"{STAT}/requests/{kind}")
        d = deferred_from_coro(self.crawler.engine.download_async(req))
        self.pending.add(d)
        d.addCallbacks(self._done, self._failed, callbackArgs=(kind,), errbackArgs=(url,))
        d.addBoth(self._forget, d)

    def _done(self, response, kind: str) -> None:
        self.stats.inc_value(f"{STAT}/responses/{kind}/{response.status}")

    def _failed(self, failure, url: str) -> None:
        if failure.check(IgnoreRequest):
            self.stats.inc_value(f"{STAT}/ignored")  # robots.txt forbids it, mostly
            return
        self.stats.inc_value(f"{STAT}/errors")
        logger.warning("requisite %s failed: %s", url, failure.getErrorMessage())

    def _forget(self, _result, d) -> None:
        self.pending.discard(d)
