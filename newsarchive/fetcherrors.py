"""Fetch faults, each recorded once with its own kind (see docs/FAULTS.md).

Three downloader middlewares, each where the fault is visible:

``RedirectLoopMiddleware`` (610, before Scrapy's RedirectMiddleware sees the 3xx)
    A redirect back to a URL of its own chain is a loop; Scrapy's duplicate filter would
    drop the repeated URL silently. Records ``redirect_loop`` (also for chains longer than
    ``REDIRECT_MAX_TIMES``) and drops the request.
``BoundedDecompressionMiddleware`` (590, replaces Scrapy's HttpCompressionMiddleware)
    Scrapy's decompression, which stops at ``DOWNLOAD_MAXSIZE``; the refusal is recorded
    as ``bomb``, an undecodable body as ``bad_encoding``.
``FetchErrorMiddleware`` (540, after RetryMiddleware: only final outcomes)
    Download exceptions: ``timeout`` (nothing received), ``slow`` (headers came, the body
    did not in time), ``reset`` (connection aborted mid-body), ``truncated`` (clean close
    before Content-Length), ``too_large`` (over ``DOWNLOAD_MAXSIZE``), ``no_response``,
    ``refused``, ``dns``, ``tunnel``, else ``download_<Exception>``. 200 responses: a binary
    body where a page was expected (``binary``) and anti-bot interstitials (``challenge``)
    are dropped before the spider, so they never become articles; ``charset_missing`` and
    ``charset_wrong`` are warnings: the page goes on, decoded with the detected charset.

Every record bumps ``newsarchive/fetcherrors/<kind>``, sets ``request.meta["fetch_error"]``
(the spider's errback then does not record the failure a second time) and sends the
``fetch_error`` signal, which the IndexPipeline turns into a ``fetch_errors`` row.

Settings: ``NEWSARCHIVE_FETCHERRORS_ENABLED`` (default True; off, the first and third
middlewares are not loaded and the second decompresses exactly like Scrapy's).
"""

from __future__ import annotations

import logging
import re
import weakref
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response, TextResponse

from newsarchive import signals as na_signals

logger = logging.getLogger(__name__)
STATS = "newsarchive/fetcherrors"
ENABLED = "NEWSARCHIVE_FETCHERRORS_ENABLED"
WARNINGS = ("charset_missing", "charset_wrong")  # recorded, but the page is kept

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = (*HTML_TYPES, "text/plain", "text/xml", "application/xml")
MAGIC = (
    b"%PDF-",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"OggS",
    b"ID3",
    b"\x00\x00\x00",
)
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
SINGLE_BYTE = re.compile(
    r"^(?:ascii|us-ascii|latin[-_]?1|iso[-_]?8859[-_]?\d+|cp125\d|windows-125\d)$"
)
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")
CHALLENGE_TITLE = re.compile(
    rb"just a moment|attention required|access denied|are you a robot|are you human|"
    rb"security check|verify you are human|checking your browser|captcha|bot verification|"
    rb"pardon our interruption|ddos protection|request blocked|^\s*403 forbidden"
)
TITLE_TAG = re.compile(rb"<title[^>]*>([^<]*)", re.I)
CHALLENGE_MARKERS = (
    b"cf-browser-verification",
    b"cf_chl_",
    b"challenge-platform",
    b"_chl_opt",
    b"px-captcha",
    b"datadome",
    b"g-recaptcha",
    b"h-captcha",
)
CHALLENGE_MAX_BYTES = 128 * 1024  # interstitials are a few KB to a few tens of KB


def record(
    crawler: Any, request: Request, kind: str, detail: str = "", *, warning: bool = False
) -> None:
    """Count one fetch fault, mark the request and send it to the index (``fetch_error``)."""
    if not warning:
        request.meta["fetch_error"] = kind
    crawler.stats.inc_value(f"{STATS}/{kind}")
    outlet = getattr(getattr(crawler, "spider", None), "outlet", None)
    error = {
        "url": request.url,
        "outlet": getattr(outlet, "key", None),
        "kind": kind,
        "detail": detail[:500],
        "time": datetime.now(UTC),
    }
    (logger.info if warning else logger.warning)("fetch %s at %s: %s", kind, request.url, detail)
    crawler.signals.send_catch_log(signal=na_signals.fetch_error, error=error)


def _mime(response: Response) -> str:
    ctype = response.headers.get(b"Content-Type") or b""
    return ctype.decode("latin-1").split(";")[0].strip().lower()


def _declared_charset(response: Response) -> str:
    ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", ctype, re.I)
    return m.group(1).lower() if m else ""


def looks_binary(body: bytes) -> bool:
    """True for bodies that are no text document: known magic numbers, or NUL bytes near
    the start (text in UTF-16 starts with a BOM and is let through)."""
    head = body[:1024]
    if not head or head.startswith(BOMS[1:]):
        return False
    return head.startswith(MAGIC) or b"\x00" in head


def classify_exception(exc: BaseException, headers_seen: bool) -> tuple[str, str]:
    """``(kind, detail)`` of a download exception that survived the retries."""
    from scrapy import exceptions as sx
    from twisted.internet import defer, error
    from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

    detail = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    if isinstance(exc, sx.DownloadTimeoutError | error.TimeoutError | error.TCPTimedOutError):
        return ("slow" if headers_seen else "timeout"), detail
    if isinstance(exc, sx.DownloadCancelledError | defer.CancelledError):
        return "too_large", f"{detail}: body over DOWNLOAD_MAXSIZE" if ":" not in detail else detail
    if isinstance(exc, sx.ResponseDataLossError):
        cause = exc.__cause__
        reasons = getattr(cause, "reasons", None) or []
        clean = any(r.check(error.ConnectionDone) for r in reasons if hasattr(r, "check"))
        lost = [str(r.value) for r in reasons if hasattr(r, "value") and str(r.value)]
        return ("truncated" if clean else "reset"), "; ".join(lost) or detail
    if isinstance(exc, ResponseFailed | error.ConnectionLost | error.ConnectionDone):
        return "reset", detail
    if isinstance(exc, ResponseNeverReceived):
        # An abort (RST) is a reset whether or not the headers had come; a clean close
        # before any response is a server that did not answer.
        reasons = getattr(exc, "reasons", None) or []
        if any(r.check(error.ConnectionLost) for r in reasons if hasattr(r, "check")):
            return "reset", detail
        return "no_response", detail
    if isinstance(exc, sx.DownloadConnectionRefusedError | error.ConnectionRefusedError):
        return "refused", detail
    if isinstance(exc, sx.CannotResolveHostError | error.DNSLookupError):
        return "dns", detail
    if type(exc).__name__ == "TunnelError":
        return "tunnel", detail
    return f"download_{type(exc).__name__}", detail


def _valid_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def charset_problem(response: Response) -> tuple[str, str, str | None] | None:
    """``(kind, detail, encoding to use)`` when a page's charset is absent or wrong."""
    body = response.body
    if not body or body.isascii() or body.startswith(BOMS):
        return None
    declared = _declared_charset(response)
    meta = META_CHARSET.search(body[:4096])
    meta_cs = meta.group(1).decode("ascii", "replace").lower() if meta else ""
    used = (getattr(response, "encoding", None) or "").lower().replace("_", "-")
    if used in ("utf-8", "utf8"):
        # Non-ASCII bytes without one UTF-8 sequence among them: a legacy charset.
        if not _valid_utf8(body) and not UTF8_MULTIBYTE.search(body):
            return "charset_wrong", "declared utf-8, body is not; decoded as cp1252", "cp1252"
    elif SINGLE_BYTE.match(used) and UTF8_MULTIBYTE.search(body) and _valid_utf8(body):
        return (
            "charset_wrong",
            f"declared {declared or meta_cs or used}, body is UTF-8; decoded as utf-8",
            "utf-8",
        )
    if not declared and not meta_cs:
        return "charset_missing", f"no charset declared; decoded as {used or '?'}", None
    return None


def _challenge_hint(body: bytes) -> bool:
    # Literal finds (the markers are lower-case identifiers) and one short title: a regex
    # over a whole page costs ~50 ms, lower-casing it ~0.5 ms.
    m = TITLE_TAG.search(body, 0, 65536)
    if m and CHALLENGE_TITLE.search(m.group(1)[:300].lower()):
        return True
    return any(marker in body for marker in CHALLENGE_MARKERS)


def is_challenge_page(body: bytes) -> bool:
    """An anti-bot interstitial served as a 200 page (the extractor's own test decides)."""
    if len(body) > CHALLENGE_MAX_BYTES or not _challenge_hint(body):
        return False
    import lxml.html

    from newsarchive.extract.detect import is_challenge

    try:
        tree = lxml.html.fromstring(body)
    except (ValueError, lxml.etree.ParserError):
        return False
    head = body[:65536].decode("utf-8", "replace")
    return is_challenge(tree, head)


class FetchErrorMiddleware:
    """Final download failures and bad 200 bodies, each recorded with its kind."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self._headers_seen: weakref.WeakSet[Request] = weakref.WeakSet()

    @classmethod
    def from_crawler(cls, crawler: Any) -> FetchErrorMiddleware:
        if not crawler.settings.getbool(ENABLED, True):
            raise NotConfigured(f"{ENABLED} is off")
        mw = cls(crawler)
        crawler.signals.connect(mw.headers_received, signal=signals.headers_received)
        return mw

    def headers_received(self, headers: Any, body_length: Any, request: Request, **_: Any) -> None:
        self._headers_seen.add(request)

    def process_exception(self, request: Request, exception: BaseException) -> None:
        if isinstance(exception, IgnoreRequest):
            return None  # robots.txt, offsite...: decided on purpose, not a fault
        kind, detail = classify_exception(exception, request in self._headers_seen)
        record(self.crawler, request, kind, detail)
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status != 200 or request.method == "HEAD":
            return response
        outlet = getattr(getattr(self.crawler, "spider", None), "outlet", None)
        fault = body_fault(response, outlet)
        if fault:
            record(self.crawler, request, *fault)
            raise IgnoreRequest(f"{fault[0]} at {response.url}")
        problem = charset_problem(response) if _is_html(response, outlet) else None
        if problem:
            kind, detail, encoding = problem
            record(self.crawler, request, kind, detail, warning=True)
            if encoding:
                response = response.replace(encoding=encoding)
        return response


def _is_html(response: Response, outlet: Any) -> bool:
    mime = _mime(response)
    if not isinstance(response, TextResponse):
        return False
    return mime in HTML_TYPES or (not mime and bool(outlet and outlet.is_article_url(response.url)))


def body_fault(response: Response, outlet: Any = None) -> tuple[str, str] | None:
    """``("binary"|"challenge", detail)`` for a 200 body that must not reach extraction.

    Used by the crawl (FetchErrorMiddleware) and by ``reindex``, so both decide alike."""
    mime = _mime(response)
    body = response.body
    article_url = bool(outlet and outlet.is_article_url(response.url))
    page_expected = article_url or not mime or mime in TEXT_TYPES or mime.startswith("text/")
    gz_file = urlsplit(response.url).path.endswith(".gz")
    if page_expected and not gz_file and looks_binary(body):
        return "binary", f"{len(body)} bytes of binary labelled {mime or 'nothing'}: {body[:8]!r}"
    if (mime in HTML_TYPES or (article_url and not mime)) and is_challenge_page(body):
        return "challenge", f"anti-bot interstitial, {len(body)} B"
    return None


class RedirectLoopMiddleware:
    """Catches redirect loops before Scrapy follows them (and its dupefilter hides them)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.max_times = crawler.settings.getint("REDIRECT_MAX_TIMES", 20)

    @classmethod
    def from_crawler(cls, crawler: Any) -> RedirectLoopMiddleware:
        if not crawler.settings.getbool(ENABLED, True):
            raise NotConfigured(f"{ENABLED} is off")
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if not (300 <= response.status < 400) or request.meta.get("dont_redirect"):
            return response
        location = response.headers.get(b"Location")
        if not location:
            return response
        target = urljoin(request.url, location.decode("latin-1").strip()).split("#")[0]
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if target in [u.split("#")[0] for u in chain]:
            path = " -> ".join([*chain, target])
            record(self.crawler, request, "redirect_loop", path)
            raise IgnoreRequest(f"redirect loop: {path}")
        if request.meta.get("redirect_times", 0) >= self.max_times:
            record(self.crawler, request, "redirect_loop", f"more than {self.max_times} redirects")
            raise IgnoreRequest("max redirections reached")
        return response


class BoundedDecompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decompression (bounded by ``DOWNLOAD_MAXSIZE``) with its refusals recorded."""

    def __init__(self, stats: Any = None, *, crawler: Any = None) -> None:
        super().__init__(stats=stats, crawler=crawler)
        self._crawler = crawler
        self._record = bool(crawler and crawler.settings.getbool(ENABLED, True))

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            if self._record:
                size = getattr(exc.__cause__, "decompressed_size", None)
                record(
                    self._crawler,
                    request,
                    "bomb",
                    f"{len(response.body)} B inflate past DOWNLOAD_MAXSIZE"
                    + (f" ({size} B so far)" if size else ""),
                )
            raise
        except (OSError, EOFError, ValueError) as exc:
            if self._record:
                record(self._crawler, request, "bad_encoding", f"{type(exc).__name__}: {exc}")
            raise IgnoreRequest(f"undecodable body at {response.url}") from exc
