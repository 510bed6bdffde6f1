"""The :class:`Replica`: every registry outlet as a synthetic site behind one local proxy.

Routing maps an absolute URL onto a page of an outlet's :class:`Site`, a discovery document
(robots, sitemaps, feeds, section fronts), an image, a redirect or a 404, and applies the
wire policy (gzip, chunked, charset, cookies, conditional GET). Same seed and clock, same
bytes. ``handle()`` can be called directly, without sockets.
"""

from __future__ import annotations

import gzip
import hashlib
import ssl
import tempfile
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import trustme

from newsarchive.registry import Outlet, load_outlets
from newsarchive.replica import assets, markup, xmlfeeds
from newsarchive.replica.faults import FaultPlan
from newsarchive.replica.server import Response, SentResponse, start_server
from newsarchive.replica.site import ArticleTruth, Site

WINDOWS_1252_OUTLET = "standard"
COOKIE_OUTLET = "thesun"
REDIRECT_OUTLET = "dailymail"
RETRY_OUTLET = "express"
FEED_AS_HTML = "https://metro.co.uk/feed/"
_CA_LOCK = threading.Lock()
_CA: trustme.CA | None = None


def _shared_ca() -> trustme.CA:
    global _CA
    with _CA_LOCK:
        if _CA is None:
            _CA = trustme.CA(organization_name="newsarchive replica CA")
        return _CA


def _twin(host: str) -> str:
    return host[4:] if host.startswith("www.") else f"www.{host}"


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def fake_image(seed: str) -> bytes:
    """A small deterministic JPEG-shaped byte string (SOI, JFIF APP0, data, EOI)."""
    data = hashlib.shake_256(seed.encode()).digest(700)
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + b"\xff\xfe\x00\x12newsarchive-rep" + data + b"\xff\xd9"


class Replica:
    """Offline replica of the registry's outlets (see docs/ARCHITECTURE.md)."""

    def __init__(
        self,
        seed: int = 0,
        articles_per_outlet: int = 12,
        now: datetime | None = None,
        outlets: dict[str, Outlet] | None = None,
        crawl_delay: float | dict[str, float] | None = None,
        page_bodies: list[bytes] | None = None,
        faults: dict[str, list[str]] | None = None,
        stories: int = 0,
        latency: float = 0.0,
    ):
        if articles_per_outlet < 1:
            raise ValueError("articles_per_outlet must be at least 1")
        if now is None:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
        elif now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        self.seed = seed
        self.now = now.astimezone(UTC)
        self.outlets = outlets if outlets is not None else load_outlets()
        self.crawl_delay = crawl_delay
        # Benchmarks: seconds every response waits before it is sent (a distant server).
        self.latency = latency
        # Benchmarks only: serve these real-size HTML documents as the article pages (the
        # ground truth then no longer describes them), so extraction costs what it does live.
        self.page_bodies = page_bodies or []
        self._gzipped: dict[int, bytes] = {}
        self.sites = {
            k: Site(o, seed, articles_per_outlet, self.now) for k, o in self.outlets.items()
        }
        # Fault mode (see faults.py): outlet key -> its FaultPlan.
        self.fault_plans: dict[str, FaultPlan] = {}
        for key, names in (faults or {}).items():
            if key not in self.sites:
                raise ValueError(f"faults for unknown outlet {key!r}")
            self.fault_plans[key] = FaultPlan(self.sites[key], names, self.now)
        self.story_seed = seed
        self.place_stories(stories)
        self.hosts: dict[str, str] = {}
        for key, outlet in self.outlets.items():
            for d in outlet.domains:
                self.hosts.setdefault(d, key)
            for d in outlet.domains:
                self.hosts.setdefault(_twin(d), key)
            for d in outlet.cdn_hosts:
                self.hosts.setdefault(d, key)
        self.sent: list[SentResponse] = []
        self._lock = threading.RLock()
        self._routes: dict[str, dict[str, tuple]] = {}
        self._docs: dict[str, tuple[str, datetime]] = {}  # discovery documents, until a change
        self._retry_url = (
            self.sites[RETRY_OUTLET].url(articles_per_outlet - 1)
            if RETRY_OUTLET in self.sites
            else ""
        )
        self._retried: set[str] = set()
        # Tests: article URL -> "challenge" | "empty", served instead of the page until removed
        self.stand_ins: dict[str, str] = {}
        self._pub_seq = 0
        self._server = None
        self._thread = None
        self.proxy_url = ""
        self.ca = _shared_ca()
        self._ca_file: Path | None = None
        self._outlet_ctx: dict[str, ssl.SSLContext] = {}

    # ---- public API ------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._server is not None:
            return self.proxy_url
        # Clients that send no SNI get one certificate naming every host; the others get
        # their outlet's own (a few names, as real sites serve), so hostname checks cost
        # what they cost against the real sites, not ~80 names per handshake.
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*sorted(self.hosts)).configure_cert(ctx)
        ctx.sni_callback = self._pick_cert
        self._server, self._thread = start_server(
            host, port, self.handle, self.is_registered, ctx, self._record, self._hangs
        )
        bound = self._server.server_address
        self.proxy_url = f"http://{bound[0]}:{bound[1]}"
        return self.proxy_url

    def tunnels(self) -> dict[str, dict[str, int]]:
        """CONNECT tunnels with TLS up, per host: ``opened`` in all, ``open`` now, ``peak``."""
        if self._server is None:
            return {}
        with self._server._tunnel_lock:
            return {h: dict(t) for h, t in self._server.tunnels.items()}

    def outlet_context(self, host: str) -> ssl.SSLContext | None:
        """The TLS context serving ``host``: a leaf naming that outlet's hosts only."""
        key = self.hosts.get(host.lower())
        if key is None:
            return None
        with self._lock:
            ctx = self._outlet_ctx.get(key)
            if ctx is None:
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                names = sorted(h for h, k in self.hosts.items() if k == key)
                self.ca.issue_cert(*names).configure_cert(ctx)
                self._outlet_ctx[key] = ctx
            return ctx

    def _pick_cert(self, sslobj: ssl.SSLObject, name: str | None, _ctx) -> None:
        ctx = self.outlet_context(name) if name else None
        if ctx is not None:
            sslobj.context = ctx

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Replica:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        url = self.proxy_url or self.start()
        return {
            "http_proxy": url,
            "https_proxy": url,
            "HTTP_PROXY": url,
            "HTTPS_PROXY": url,
            "no_proxy": "",
            "NO_PROXY": "",
        }

    def ca_file(self) -> str:
        """Path of the CA certificate (PEM) that signs the replica's TLS certificate."""
        if self._ca_file is None:
            fd = tempfile.NamedTemporaryFile(
                "wb", suffix=".pem", prefix="replica-ca-", delete=False
            )
            fd.write(self.ca.cert_pem.bytes())
            fd.close()
            self._ca_file = Path(fd.name)
        return str(self._ca_file)

    def is_registered(self, host: str) -> bool:
        return host.lower() in self.hosts

    def _hangs(self, connect_target: str) -> bool:
        return any(plan.hangs(connect_target) for plan in self.fault_plans.values())

    def truth(self, outlet_key: str) -> list[ArticleTruth]:
        site = self.sites[outlet_key]
        with self._lock:
            return [site.truth(n) for n in site.numbers()]

    def truth_for(self, url: str) -> ArticleTruth | None:
        host = (urlsplit(url).hostname or "").lower()
        key = self.hosts.get(host)
        if key is None:
            return None
        num = self.sites[key].lookup(url)
        return None if num is None else self.sites[key].truth(num)

    def publish(self, outlet_key: str, n: int) -> list[ArticleTruth]:
        site = self.sites[outlet_key]
        with self._lock:
            nums = []
            for _ in range(n):
                self._pub_seq += 1
                when = self.now - timedelta(seconds=max(0, 3600 - self._pub_seq))
                # Never older than the newest page: number order stays publication order.
                when = max(when, site.published(site.total - 1) + timedelta(seconds=1))
                nums += site.publish(1, when)
            site._cache.clear()
            self._docs.clear()
            self._routes.pop(outlet_key, None)
            return [site.truth(num) for num in nums]

    def place_stories(self, n: int) -> None:
        """Serve ``n`` planned cross-outlet stories on the article slots (ground truth in
        :meth:`story_truth`)."""
        from newsarchive.replica.stories import place_stories

        for (outlet, num), art in place_stories(self.sites, self.story_seed, n).items():
            self.sites[outlet].stories[num] = art

    def story_truth(self) -> list[dict]:
        """Every served story article: url, outlet, story key (None: standalone), relation
        to the origin (origin, duplicate, syndicated, rewrite, single, negative), origin url,
        and for hard negatives the story they imitate."""
        out = []
        with self._lock:
            for key, site in self.sites.items():
                for num, art in site.stories.items():
                    origin = None
                    if art.origin_id:
                        o_outlet, o_num = art.origin_id.split(":")
                        origin = self.sites[o_outlet].url(int(o_num))
                    out.append(
                        {
                            "url": site.url(num),
                            "outlet": key,
                            "story": art.story,
                            "relation": art.relation,
                            "origin_url": origin,
                            "negative_of": art.negative_of,
                            "published": site.published(num),
                        }
                    )
        return sorted(out, key=lambda r: (r["published"], r["url"]))

    def publish_copy(self, outlet_key: str, origin_url: str, relation: str) -> ArticleTruth:
        """Publish on ``outlet_key`` a new duplicate or rewrite of the story article at
        ``origin_url`` (for a second crawl that must add members to an existing story)."""
        from newsarchive.replica.stories import copy_of

        host = (urlsplit(origin_url).hostname or "").lower()
        src_site = self.sites[self.hosts[host]]
        src = src_site.stories[src_site.lookup(origin_url)]
        truth = self.publish(outlet_key, 1)[0]
        site = self.sites[outlet_key]
        with self._lock:
            num = truth.number
            if site._index is not None:
                site._index.pop(truth.url, None)
            site.stories[num] = copy_of(src, relation, self.story_seed, outlet_key)
            site._add_to_index(num)
            site._cache.clear()
            self._docs.clear()
            self._routes.pop(outlet_key, None)
            return site.truth(num)

    def update(self, outlet_key: str, n: int) -> list[ArticleTruth]:
        site = self.sites[outlet_key]
        with self._lock:
            self._pub_seq += 1
            floor = self.now - timedelta(seconds=max(0, 3600 - self._pub_seq))
            picks = [num for num in site.newest(site.total) if site.in_window(num)][:n]
            for num in picks:
                rev = site.revision(num) + 1
                when = max(floor, site.modified(num) + timedelta(seconds=1))
                site.revisions[num] = (rev, when)
            site._cache.clear()
            self._docs.clear()
            return [site.truth(num) for num in picks]

    @property
    def edge_cases(self) -> dict[str, str]:
        ny, dm = self.sites.get("nypost"), self.sites.get(REDIRECT_OUTLET)
        cases: dict[str, str] = {}
        if ny:
            arts = [ny.url(n) for n in range(min(ny.total, 200))]
            cases["gzip"] = next(u for u in arts if self._gzip_policy(u))
            cases["chunked"] = next(u for u in arts if self._chunk_policy(u))
            cases["not_found"] = f"https://{ny.host}/no-such-page-{self.seed}/"
        if dm:
            num = dm.total - 1
            cases["redirect"] = f"https://{dm.host}/old{urlsplit(dm.url(num)).path}"
        if "reuters" in self.sites:
            cases["query_string"] = self.outlets["reuters"].sitemaps[0]
        if COOKIE_OUTLET in self.sites:
            cases["set_cookie_twice"] = self.sites[COOKIE_OUTLET].url(0)
        if WINDOWS_1252_OUTLET in self.sites:
            cases["windows_1252"] = self.sites[WINDOWS_1252_OUTLET].url(0)
        if ny:
            cases["binary"] = markup.img(ny, ny.truth(0), 0)
        if xmlfeeds.BROKEN_SITEMAP_OUTLET in self.sites:
            ex = self.sites[xmlfeeds.BROKEN_SITEMAP_OUTLET]
            kids = xmlfeeds.children(ex, 0)
            cases["malformed_sitemap"] = next(c.url for c in kids if c.kind == "malformed")
            cases["sitemap_404"] = next(c.url for c in kids if c.kind == "missing")
        if "metro" in self.sites:
            cases["feed_as_html"] = FEED_AS_HTML
            cases["sitemap_gz"] = next(
                c.url for c in xmlfeeds.children(self.sites["metro"], 0) if c.url.endswith(".gz")
            )
        if self._retry_url:
            cases["retry_after"] = self._retry_url
        if dm:
            for n in dm.extra_numbers:
                if dm.kind(n) in ("challenge", "paywall", "empty"):
                    cases[dm.kind(n)] = dm.url(n)
        return cases

    # ---- routing ---------------------------------------------------------------------------
    def _record(self, sent: SentResponse) -> None:
        with self._lock:
            self.sent.append(sent)

    def _routes_for(self, key: str) -> dict[str, tuple]:
        routes = self._routes.get(key)
        if routes is not None:
            return routes
        site = self.sites[key]
        outlet = site.outlet
        routes = {}
        for host, owner in self.hosts.items():
            if owner == key:
                routes[f"https://{host}/robots.txt"] = ("robots", host)
        for i, url in enumerate(outlet.news_sitemaps):
            routes[url] = ("news", i)
        for i, url in enumerate(outlet.sitemaps):
            routes[url] = ("index", i)
            for child in xmlfeeds.children(site, i):
                if child.kind != "missing":
                    routes[child.url] = ("child", child)
        for i, url in enumerate(outlet.feeds):
            routes[url] = ("feed", i)
        for i, url in enumerate(outlet.sections):
            routes[url] = ("section", i)
        self._routes[key] = routes
        return routes

    def handle(
        self, method: str, url: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        """Answer one request for an absolute URL (the proxy calls this per request)."""
        headers = headers or []
        if self.latency > 0:
            time.sleep(self.latency)  # one thread per connection: only this client waits
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        key = self.hosts.get(host)
        if key is None:
            from newsarchive.replica.server import refusal

            return refusal(host)
        if method not in ("GET", "HEAD"):
            return self._text(405, "text/plain", b"only GET and HEAD\n", url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if parts.scheme == "http":
            return self._redirect(301, f"https://{host}{target}")
        clean = f"https://{host}{target}"
        with self._lock:
            resp = self._route(key, host, clean, parts, headers)
        return self._revalidated(resp, headers) if method == "GET" else resp

    # Headers a 304 repeats from the 200 it stands for (RFC 9110 15.4.5).
    _KEPT_ON_304 = ("date", "server", "etag", "last-modified", "cache-control", "vary")

    def _revalidated(self, resp: Response, headers) -> Response:
        """Every 200 gets an ETag (its body's hash) and honours If-None-Match, and
        If-Modified-Since where it has a Last-Modified, as a real server or CDN does."""
        if resp.status != 200 or resp.action is not None:
            return resp
        etag = next((v for k, v in resp.headers if k.lower() == "etag"), None)
        if etag is None:
            etag = '"' + hashlib.sha1(resp.body).hexdigest()[:20] + '"'
            resp.headers.append(("ETag", etag))
        last_mod = next((v for k, v in resp.headers if k.lower() == "last-modified"), None)
        try:
            newest = parsedate_to_datetime(last_mod) if last_mod else None
        except (TypeError, ValueError):
            newest = None
        if not self._not_modified(headers, etag, newest):
            return resp
        kept = [(k, v) for k, v in resp.headers if k.lower() in self._KEPT_ON_304]
        return Response(304, kept)

    def _route(self, key: str, host: str, url: str, parts, headers) -> Response:
        site = self.sites[key]
        routes = self._routes_for(key)
        plan = self.fault_plans.get(key)
        if plan is not None:
            feed_text = None
            if url == plan.feed_url and "bad_feed" in plan.faults:
                feed_text = self._xml(site, "feed", 0)[0]
            faulty = plan.answer(url, feed_text)
            if faulty is not None:
                return faulty
        hit = routes.get(url)
        if hit:
            return self._document(site, hit, url, host, headers)
        num = site.lookup(url)
        if num is not None and url in self.stand_ins:
            body = (
                markup.challenge_page(site)
                if self.stand_ins[url] == "challenge"
                else "<!DOCTYPE html><html><head><title>Story</title></head><body>"
                "<article><h1>Story</h1><p>Loading.</p></article></body></html>\n"
            )
            return Response(
                200,
                [("Content-Type", "text/html; charset=utf-8"), *self._common()],
                body.encode("utf-8"),
            )
        if num is not None:
            if url == self._retry_url and url not in self._retried:
                self._retried.add(url)
                return Response(
                    429,
                    [("Retry-After", "1"), ("Content-Type", "text/plain"), *self._common()],
                    b"slow down\n",
                )
            return self._page(site, num, url, headers)
        path = parts.path
        if path.startswith("/img/") and path.endswith(".jpg"):
            return Response(
                200,
                [
                    ("Content-Type", "image/jpeg"),
                    *self._common(),
                    ("Cache-Control", "max-age=86400"),
                ],
                fake_image(f"{self.seed}:{url}"),
            )
        if path.startswith("/img/") and path.endswith(".png"):
            width = parse_qs(parts.query).get("w", [""])[0]
            size = (
                (int(width), assets.IMAGE_WIDTHS[int(width)])
                if width.isdigit() and (int(width) in assets.IMAGE_WIDTHS)
                else (480, 270)
            )
            return Response(
                200,
                [
                    ("Content-Type", "image/png"),
                    *self._common(),
                    ("Cache-Control", "max-age=86400"),
                ],
                assets.png_image(f"{self.seed}:{host}{path}", *size),
            )
        if path.startswith("/static/") and path.endswith((".css", ".js")):
            css = path.endswith(".css")
            body = assets.stylesheet(f"{key}{path}") if css else assets.script(f"{key}{path}")
            ctype = "text/css" if css else "application/javascript"
            resp = Response(
                200,
                [("Content-Type", ctype), *self._common(), ("Cache-Control", "max-age=3600")],
                body,
            )
            return self._encode(resp, url, headers)
        if path.startswith(("/search/", "/private/")):
            return self._html(
                site, url, markup.simple_page("Restricted", "Not for crawlers."), headers
            )
        if path.startswith("/old/"):
            target = f"https://{site.host}{path[4:]}"
            if site.lookup(target) is not None:
                return self._redirect(301, target)
        if key == "nypost" and path == "/" and "p" in parse_qs(parts.query):
            p = parse_qs(parts.query)["p"][0]
            if p.isdigit() and int(p) < site.total:
                return self._redirect(301, site.url(int(p)))
        if host != site.host:
            moved = url.replace(f"//{host}/", f"//{site.host}/", 1)
            if moved in routes or site.lookup(moved) is not None:
                return self._redirect(301, moved)
        return self._text(
            404,
            "text/html; charset=utf-8",
            markup.simple_page("Page not found", f"No page at {parts.path}.").encode(),
            url,
        )

    # ---- responses -----------------------------------------------------------------------
    def _common(self) -> list[tuple[str, str]]:
        return [("Date", format_datetime(self.now, usegmt=True)), ("Server", "newsarchive-replica")]

    def _text(self, status: int, ctype: str, body: bytes, url: str) -> Response:
        return Response(
            status,
            [("Content-Type", ctype), *self._common()],
            body,
            chunked=self._chunk_policy(url),
        )

    def _redirect(self, status: int, location: str) -> Response:
        body = f'<html><body>Moved to <a href="{location}">{location}</a></body></html>\n'.encode()
        return Response(
            status, [("Location", location), ("Content-Type", "text/html"), *self._common()], body
        )

    def _gzip_policy(self, url: str) -> bool:
        return _crc(url) % 2 == 0

    def _chunk_policy(self, url: str) -> bool:
        return (_crc(url) >> 3) % 3 == 0

    def _encode(self, resp: Response, url: str, headers) -> Response:
        accept = next((v for k, v in headers if k.lower() == "accept-encoding"), "")
        if "gzip" in accept.lower() and self._gzip_policy(url) and resp.body:
            resp.body = self._gzip(resp.body)
            resp.headers.append(("Content-Encoding", "gzip"))
            resp.headers.append(("Vary", "Accept-Encoding"))
        resp.chunked = self._chunk_policy(url)
        return resp

    def _gzip(self, body: bytes) -> bytes:
        # Benchmark page bodies repeat: compress each once, as a server's cache would.
        for i, page in enumerate(self.page_bodies):
            if page is body:
                if i not in self._gzipped:
                    self._gzipped[i] = gzip.compress(body, mtime=0)
                return self._gzipped[i]
        return gzip.compress(body, mtime=0)

    def _html(self, site: Site, url: str, text: str, headers, extra=()) -> Response:
        if site.key == WINDOWS_1252_OUTLET:
            body, ctype = (
                text.encode("cp1252", "xmlcharrefreplace"),
                "text/html; charset=windows-1252",
            )
        else:
            body, ctype = text.encode("utf-8"), "text/html; charset=utf-8"
        resp = Response(200, [("Content-Type", ctype), *self._common(), *extra], body)
        return self._encode(resp, url, headers)

    def _page(self, site: Site, num: int, url: str, headers) -> Response:
        truth = site.truth(num)
        extra = []
        if site.key == COOKIE_OUTLET:
            extra = [
                ("Set-Cookie", "sid=replica; Path=/; HttpOnly"),
                ("Set-Cookie", f"region={site.outlet.country}; Path=/; Max-Age=3600"),
            ]
        extra.append(
            ("Last-Modified", format_datetime(site.modified(num).astimezone(UTC), usegmt=True))
        )
        if self.page_bodies and truth.kind == "article":
            body = self.page_bodies[num % len(self.page_bodies)]
            resp = Response(
                200, [("Content-Type", "text/html; charset=utf-8"), *self._common(), *extra], body
            )
            return self._encode(resp, url, headers)
        return self._html(site, url, markup.render_page(site, truth), headers, extra)

    def _document(self, site: Site, hit: tuple, url: str, host: str, headers) -> Response:
        kind, arg = hit
        if kind == "robots":
            delay = (
                self.crawl_delay.get(site.key)
                if isinstance(self.crawl_delay, dict)
                else self.crawl_delay
            )
            text = xmlfeeds.robots(site, delay, host)
            if site.key in self.fault_plans:
                text += "".join(
                    f"{line}\n" for line in self.fault_plans[site.key].robots_lines(host)
                )
            body = text.encode()
            return self._encode(
                Response(
                    200, [("Content-Type", "text/plain; charset=utf-8"), *self._common()], body
                ),
                url,
                headers,
            )
        if kind == "section":
            return self._html(site, url, markup.section_page(site, arg, url), headers)
        if kind == "feed" and url == FEED_AS_HTML:
            page = markup.simple_page(
                f"{site.outlet.name} feeds", "Our feeds have moved; see the app."
            )
            return self._html(site, url, page, headers)
        cached = self._docs.get(url)
        if cached is None:
            cached = self._docs[url] = self._xml(site, kind, arg)
        text, newest = cached
        return self._xml_response(site, kind, url, text, newest, headers)

    def _xml(self, site: Site, kind: str, arg) -> tuple[str, datetime]:
        if kind == "news":
            text, newest = xmlfeeds.news_doc(site)
        elif kind == "index":
            text, newest = xmlfeeds.index_doc(site, arg)
        elif kind == "child":
            text, newest = xmlfeeds.child_doc(site, arg)
        else:
            text, newest = xmlfeeds.feed_doc(site, arg)
        return text, newest

    def _xml_response(
        self, site: Site, kind: str, url: str, text: str, newest: datetime, headers
    ) -> Response:
        body = text.encode("utf-8")
        if kind == "feed":
            ctype = (
                "application/atom+xml; charset=utf-8"
                if site.style.atom
                else "application/rss+xml; charset=utf-8"
            )
        else:
            ctype = "application/xml; charset=utf-8"
        gz = urlsplit(url).path.endswith(".gz")
        if gz:
            body, ctype = gzip.compress(body, mtime=0), "application/x-gzip"
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        last_mod = format_datetime(newest.astimezone(UTC).replace(microsecond=0), usegmt=True)
        validators = [("ETag", etag), ("Last-Modified", last_mod)]
        if self._not_modified(headers, etag, newest):
            return Response(304, [*self._common(), *validators])
        resp = Response(200, [("Content-Type", ctype), *self._common(), *validators], body)
        if gz:
            resp.chunked = self._chunk_policy(url)
            return resp
        return self._encode(resp, url, headers)

    @staticmethod
    def _not_modified(headers, etag: str, newest: datetime | None) -> bool:
        inm = next((v for k, v in headers if k.lower() == "if-none-match"), None)
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return etag in tags or "*" in tags
        ims = next((v for k, v in headers if k.lower() == "if-modified-since"), None)
        if ims and newest is not None:
            try:
                since = parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            return newest.replace(microsecond=0) <= since
        return False
