"""Fault mode of the replica: an outlet's site misbehaves the ways real servers do.

``Replica(faults={"nypost": ["reset", "slow"]})`` (or ``newsarchive replica --faults
nypost:reset,nypost:slow``, ``nypost:all``) gives that outlet a :class:`FaultPlan`. Every
fault lives at its own URL, reachable by discovery: the outlet's robots.txt lists three
extra sitemaps (a urlset of the article-shaped fault URLs, a malformed sitemap, and a
sitemap on a port whose CONNECT never completes); the feed fault breaks the outlet's first
registry feed. The other pages of the outlet are served as usual.

Each :class:`FaultPage` says which ``fetch_errors`` kind a crawler should record for it
(``expect``); docs/FAULTS.md lists them. Big bodies (the 50 MB page, the gzip bomb's
members) are streamed or shared, never built whole per request.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import urlsplit

from newsarchive.replica import markup
from newsarchive.replica.server import Response, Wire
from newsarchive.replica.site import ArticleTruth, Site, iso
from newsarchive.replica.urlmaps import url_fields
from newsarchive.urls import canonicalize_url

# fault name -> the fetch_errors kind the crawler records for it
FAULTS: dict[str, str] = {
    "timeout": "timeout",
    "reset": "reset",
    "slow": "slow",
    "http_5xx": "http_503",
    "http_429": "http_429",
    "truncated": "truncated",
    "charset_missing": "charset_missing",
    "charset_wrong": "charset_wrong",
    "bomb": "bomb",
    "huge": "too_large",
    "binary": "binary",
    "redirect_loop": "redirect_loop",
    "bad_sitemap": "sitemap_malformed",
    "bad_feed": "feed_malformed",
    "challenge": "challenge",
}
GROUPS = {"all": tuple(FAULTS), "charset": ("charset_missing", "charset_wrong")}
# Faults whose URL is an article URL listed in the fault sitemap.
ARTICLE_FAULTS = tuple(f for f in FAULTS if f not in ("timeout", "bad_sitemap", "bad_feed"))
# Pages that still become articles (the charset is repaired; a warning is recorded).
STILL_ARTICLES = ("charset_missing", "charset_wrong")

UNREACHABLE_PORT = 8443  # CONNECT host:8443 of a faulted outlet never completes
BURST = 6  # the 5xx fault answers 503 to this many requests, then the page
HUGE_BYTES = 50 * 1024 * 1024
BOMB_INFLATED = 1024 * 1024 * 1024  # what the gzip bomb inflates to
TRICKLE = (16, 0.5)  # the slow page sends 16 bytes every 0.5 s
TRICKLE_FOR = 120.0  # ... for at most this long
NON_ASCII = " — café naïve, “quoted” (€5)"


def expand(names: Iterable[str]) -> list[str]:
    """Fault names with groups (``all``, ``charset``) expanded; raises ValueError on unknown."""
    out: list[str] = []
    for name in names:
        name = name.strip().lower().replace("-", "_")
        if not name:
            continue
        picked = GROUPS.get(name) or ((name,) if name in FAULTS else None)
        if picked is None:
            known = ", ".join([*FAULTS, *GROUPS])
            raise ValueError(f"unknown fault {name!r} (known: {known})")
        out += [f for f in picked if f not in out]
    return out


def parse_spec(spec: str) -> dict[str, list[str]]:
    """``"nypost:reset,nypost:slow,cbc:all"`` -> ``{"nypost": [...], "cbc": [...]}``."""
    faults: dict[str, list[str]] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        outlet, sep, name = item.partition(":")
        if not sep or not outlet.strip():
            raise ValueError(f"--faults wants OUTLET:FAULT items, got {item!r}")
        faults.setdefault(outlet.strip(), [])
        faults[outlet.strip()] += expand([name])
    return faults


@dataclass(frozen=True)
class FaultPage:
    fault: str
    url: str
    expect: str  # fetch_errors kind a crawler should record
    title: str = ""  # for pages that must still extract: the title to find


@lru_cache(maxsize=1)
def _bomb_body() -> bytes:
    # Concatenated gzip members inflate to their sum: one 1 MiB member of zeros, repeated.
    member = gzip.compress(b"\0" * (1 << 20), compresslevel=9, mtime=0)
    return member * (BOMB_INFLATED >> 20)


def _binary_body(seed: str) -> bytes:
    data = hashlib.shake_256(seed.encode()).digest(48_000)
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nstream\n" + data


class FaultPlan:
    """The faults of one outlet's site: their URLs and how each is answered."""

    def __init__(self, site: Site, faults: Iterable[str], now: datetime) -> None:
        self.site = site
        self.now = now
        self.faults = expand(faults)
        outlet = site.outlet
        self.home = outlet.domains[0]
        if not outlet.robots_sitemaps and any(f != "bad_feed" for f in self.faults):
            raise ValueError(
                f"outlet {site.key}: its registry entry ignores robots.txt sitemaps, "
                "where the replica lists its fault URLs"
            )
        if "bad_feed" in self.faults and not outlet.feeds:
            raise ValueError(f"outlet {site.key} has no feed to break (fault bad_feed)")
        base = f"https://{self.home}/replica-faults"
        self.sitemap_url = f"{base}/articles.xml"
        self.malformed_url = f"{base}/malformed.xml"
        self.unreachable_url = f"https://{self.home}:{UNREACHABLE_PORT}/replica-faults/sitemap.xml"
        self.feed_url = outlet.feeds[0] if outlet.feeds else ""
        self.pages: dict[str, FaultPage] = {}
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()
        for i, fault in enumerate(self.faults):
            if fault == "timeout":
                url = self.unreachable_url
            elif fault == "bad_sitemap":
                url = self.malformed_url
            elif fault == "bad_feed":
                url = self.feed_url
            else:
                url = self._article_url(fault, i)
            title = ""
            if fault in STILL_ARTICLES:
                title = self.truth(url).title
            self.pages[url] = FaultPage(fault, url, FAULTS[fault], title)
        self.loop_partner = ""
        if "redirect_loop" in self.faults:
            self.loop_partner = self._article_url("redirect_loop_b", len(FAULTS))

    # ---- URLs --------------------------------------------------------------------------
    def _article_url(self, fault: str, i: int) -> str:
        site = self.site
        slug = "replica-fault-" + fault.replace("_", "-")
        hexid = hashlib.md5(f"fault:{site.seed}:{site.key}:{fault}".encode()).hexdigest()
        when = self.now - timedelta(minutes=30 + i)
        fields = url_fields(site.host, site.section(0), slug, 96_000_000 + i, when, hexid)
        url = site.style.url.format(**fields)
        if not site.outlet.is_article_url(canonicalize_url(url)):
            raise ValueError(f"outlet {site.key}: fault URL {url} is not an article URL")
        return url

    def by_fault(self, fault: str) -> FaultPage | None:
        return next((p for p in self.pages.values() if p.fault == fault), None)

    def robots_lines(self, host: str) -> list[str]:
        if host != self.home:
            return []
        lines = []
        if any(f in ARTICLE_FAULTS for f in self.faults):
            lines.append(f"Sitemap: {self.sitemap_url}")
        if "bad_sitemap" in self.faults:
            lines.append(f"Sitemap: {self.malformed_url}")
        if "timeout" in self.faults:
            lines.append(f"Sitemap: {self.unreachable_url}")
        return lines

    def hangs(self, connect_target: str) -> bool:
        return "timeout" in self.faults and connect_target.lower() == (
            f"{self.home}:{UNREACHABLE_PORT}"
        )

    # ---- answers -----------------------------------------------------------------------
    def _common(self) -> list[tuple[str, str]]:
        return [("Date", format_datetime(self.now, usegmt=True)), ("Server", "newsarchive-replica")]

    def truth(self, url: str) -> ArticleTruth:
        """What the page at fault URL ``url`` holds, when it holds an article."""
        # A real article of the site, served at the fault URL under a title with non-ASCII text.
        base = self.site.truth(self.site.total - 1)
        slug = urlsplit(url).path
        title = f"{base.title}{NON_ASCII} {hashlib.md5(slug.encode()).hexdigest()[:6]}"
        return dataclasses.replace(base, url=url, title=title)

    def _page_html(self, url: str) -> str:
        return markup.render_page(self.site, self.truth(url))

    def answer(self, url: str, feed_text: str | None = None) -> Response | None:
        """The fault answer for ``url``, or None when the URL is not a fault of this plan."""
        if url == self.sitemap_url and any(f in ARTICLE_FAULTS for f in self.faults):
            return self._xml(self._fault_sitemap())
        if url == self.loop_partner:
            return self._redirect(self.by_fault("redirect_loop").url)
        page = self.pages.get(url)
        if page is None:
            return None
        return getattr(self, f"_{page.fault}")(page, feed_text)

    def _xml(self, text: str, ctype: str = "application/xml; charset=utf-8") -> Response:
        return Response(200, [("Content-Type", ctype), *self._common()], text.encode("utf-8"))

    def _redirect(self, location: str) -> Response:
        return Response(
            302, [("Location", location), ("Content-Type", "text/html"), *self._common()], b""
        )

    def _fault_sitemap(self) -> str:
        rows = [
            f"<url><loc>{p.url}</loc><lastmod>{iso(self.now - timedelta(minutes=20))}</lastmod>"
            "</url>"
            for p in self.pages.values()
            if p.fault in ARTICLE_FAULTS
        ]
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(rows)
            + "\n</urlset>\n"
        )

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        from newsarchive.replica.server import REASONS

        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
        lines += [f"{k}: {v}" for k, v in [*headers, *self._common(), ("Connection", "close")]]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    # One method per fault: _<fault>(page, feed_text) -> Response.
    def _timeout(self, page, _feed) -> Response:  # only reached without the CONNECT hang
        return Response(504, [("Content-Type", "text/plain"), *self._common()], b"timeout\n")

    def _reset(self, page, _feed) -> Response:
        body = self._page_html(page.url).encode("utf-8")
        head = self._head(
            200,
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )

        def act(wire: Wire) -> None:
            if wire.write(head + body[: len(body) // 3]):
                time.sleep(0.5)  # so the client has read the headers before the RST
            wire.reset()

        return Response(200, [], action=act)

    def _slow(self, page, _feed) -> Response:
        body = self._page_html(page.url).encode("utf-8")
        head = self._head(
            200,
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        step, pause = TRICKLE

        def act(wire: Wire) -> None:
            if not wire.write(head):
                return
            stop = time.monotonic() + TRICKLE_FOR
            for i in range(0, len(body), step):
                if time.monotonic() > stop or not wire.write(body[i : i + step]):
                    return
                time.sleep(pause)

        return Response(200, [], action=act)

    def _http_5xx(self, page, _feed) -> Response:
        with self._lock:
            n = self._hits[page.url] = self._hits.get(page.url, 0) + 1
        if n <= BURST:
            body = markup.simple_page("Service unavailable", "Back soon.").encode()
            return Response(
                503, [("Content-Type", "text/html; charset=utf-8"), *self._common()], body
            )
        return self._html(self._page_html(page.url).encode("utf-8"))

    def _http_429(self, page, _feed) -> Response:
        return Response(
            429,
            [("Retry-After", "1"), ("Content-Type", "text/plain"), *self._common()],
            b"slow down\n",
        )

    def _truncated(self, page, _feed) -> Response:
        body = self._page_html(page.url).encode("utf-8")
        head = self._head(
            200,
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body) + 4096)),
            ],
        )

        def act(wire: Wire) -> None:
            if wire.write(head + body):
                wire.close()  # a clean close, 4096 bytes short of the Content-Length

        return Response(200, [], action=act)

    def _html(self, body: bytes, ctype: str = "text/html; charset=utf-8") -> Response:
        return Response(200, [("Content-Type", ctype), *self._common()], body)

    def _charset_missing(self, page, _feed) -> Response:
        text = re.sub(r'<meta charset="[^"]*">', "", self._page_html(page.url), count=1)
        return self._html(text.encode("utf-8"), "text/html")

    def _charset_wrong(self, page, _feed) -> Response:
        text = re.sub(r'<meta charset="[^"]*">', "", self._page_html(page.url), count=1)
        return self._html(text.encode("utf-8"), "text/html; charset=iso-8859-1")

    def _bomb(self, page, _feed) -> Response:
        resp = self._html(_bomb_body())
        resp.headers.append(("Content-Encoding", "gzip"))
        return resp

    def _huge(self, page, _feed) -> Response:
        head = self._head(
            200, [("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")]
        )
        para = ("<p>" + "All work and no play makes a very long page. " * 20 + "</p>\n").encode()
        block = para * max(1, 65536 // len(para))
        chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"

        def act(wire: Wire) -> None:
            if not wire.write(head):
                return
            for _ in range(HUGE_BYTES // len(block) + 1):
                if not wire.write(chunk):
                    return
            wire.write(b"0\r\n\r\n")

        return Response(200, [], action=act)

    def _binary(self, page, _feed) -> Response:
        return self._html(_binary_body(page.url))  # labelled text/html: the server lies

    def _redirect_loop(self, page, _feed) -> Response:
        return self._redirect(self.loop_partner)

    def _bad_sitemap(self, page, _feed) -> Response:
        rows = "".join(
            f"<url><loc>https://{self.site.host}/replica-faults/x{i}</loc><lastmod>{iso(self.now)}"
            for i in range(3)
        )
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{rows}<url><loc>a & b</url></urlset>"
        )
        return self._xml(text)

    def _bad_feed(self, page, feed_text) -> Response:
        # The real feed, cut in the middle of an item, with a bare "&" and no closing tags.
        text = feed_text or "<rss><channel><item><title>x</title></item>"
        cut = text.rfind("<item") if "<item" in text else text.rfind("<entry")
        text = text[: max(cut, len(text) // 2)] + "<item><title>Fish & chips</title><link>"
        return self._xml(text, "application/rss+xml; charset=utf-8")

    def _challenge(self, page, _feed) -> Response:
        return self._html(markup.challenge_page(self.site).encode("utf-8"))
