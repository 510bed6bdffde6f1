"""The ``WarcWriter`` Scrapy extension: every downloaded response becomes WARC records.

It listens to ``response_downloaded``, which fires for every response the downloader
gets (robots.txt, redirects, error statuses included) before any downloader middleware
has decompressed or followed it, so the stored body is exactly what was received (minus
chunk framing, which Twisted removes). Per capture it writes a ``response`` (or
``revisit``) record, the ``request`` as sent and a ``metadata`` record with discovery info,
then sends ``capture_recorded`` with the record's pointer.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import uuid
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet import defer

from newsarchive import __version__
from newsarchive.signals import capture_recorded
from newsarchive.urls import canonicalize_url, primary_host_map
from newsarchive.warc.cdxj import CdxjEntry, cdxj_files, iter_cdxj, validators
from newsarchive.warc.discovery import discovery_fields
from newsarchive.warc.files import RotatingWarcFiles, WarcFile
from newsarchive.warc.records import (
    build_fields_record,
    build_http_record,
    build_not_modified,
    build_revisit,
    compressed_payload,
    inflates_past,
    request_head,
    response_head,
    sha1_b32,
    status_line,
    warc_date,
)

logger = logging.getLogger(__name__)

DEFAULTS = {
    "NEWSARCHIVE_WARC_ENABLED": True,
    "NEWSARCHIVE_WARC_DIR": "warc",
    "NEWSARCHIVE_WARC_PREFIX": "newsarchive",
    "NEWSARCHIVE_WARC_MAX_SIZE": 1_000_000_000,
    "NEWSARCHIVE_WARC_CDXJ": True,
    "NEWSARCHIVE_WARC_REVISITS": True,
    # Bound on URLs remembered from earlier runs for revisit detection.
    "NEWSARCHIVE_WARC_REVISIT_MAX_URLS": 2_000_000,
    # Digests, gzip and file writes in one writer thread instead of the reactor thread.
    "NEWSARCHIVE_WARC_THREAD": False,
}

_WRITERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INDEXED_DIRS: set[str] = set()  # WARC directories whose CDXJ files this process checked


def _on_reactor(fut: Future) -> defer.Deferred:
    """A Deferred fired in the reactor thread when a thread's future completes."""
    from twisted.internet import reactor

    d: defer.Deferred = defer.Deferred()

    def fire(f: Future) -> None:
        exc = f.exception()
        if exc is None:
            d.callback(f.result())
        else:
            d.errback(exc)

    fut.add_done_callback(lambda f: reactor.callFromThread(fire, f))
    return d


async def drained(crawler) -> None:
    """Wait until every response the crawler's WarcWriter accepted is written and its
    ``capture_recorded`` sent (the index pipeline awaits this before its final merge)."""
    writer = _WRITERS.get(crawler)
    if writer is not None:
        await maybe_deferred_to_future(writer.flushed())


def sync(crawler) -> bool:
    """fsync the WARC file the crawler's writer is appending to (the durability barrier:
    the index pipeline calls this before it seals a spool batch, so no committed row can
    point at WARC bytes still only in the page cache). False when the fsync failed."""
    writer = _WRITERS.get(crawler)
    return True if writer is None else writer.sync()


def revalidation(crawler, url: str) -> Prior | None:
    """The earlier capture of ``url`` a conditional request would revalidate: the latest full
    one, if it carried validators (None: fetch in full)."""
    writer = _WRITERS.get(crawler)
    if writer is None or not writer.revisits or not writer.index.revalidates:
        return None
    prior = writer.index.get(url)
    return prior if prior is not None and prior.validated and prior.filename else None


def archived_record(crawler, prior: Prior):
    """The stored record of ``prior`` (raises OSError / WarcFormatError when it is gone)."""
    from newsarchive.warc.scan import read_record

    return read_record(_WRITERS[crawler].directory / prior.filename, prior.offset, prior.length)


@dataclass(frozen=True, slots=True)
class Prior:
    """The latest full capture of a URL: what a revisit refers to, and how to revalidate it."""

    digest: str
    date: str  # WARC-Date of the original record
    record_id: str
    etag: str = ""
    modified: str = ""
    filename: str = ""  # where the record is, for answering a 304 from the archive
    offset: int = 0
    length: int = 0

    @property
    def validated(self) -> bool:
        return bool(self.etag or self.modified)


def _header_list(headers) -> list[tuple[bytes, bytes]]:
    """Scrapy headers as (name, value) pairs, repeated headers kept, in order."""
    return [(k, v) for k in headers for v in headers.getlist(k)]


def _last(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    """A header's last value, decoded as a stored record's reader decodes it."""
    for k, v in reversed(headers):
        if k.lower() == name:
            return v.decode("utf-8", "replace").strip()
    return None


def is_conditional(request) -> bool:
    """Whether ``request`` carries validators (a 304 answers it)."""
    return b"If-None-Match" in request.headers or b"If-Modified-Since" in request.headers


def _ts14_to_warc_date(ts: str) -> str:
    return f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"


class RevisitIndex:
    """URL -> latest full capture (digest, date, record id), from this and earlier runs."""

    revalidates = True  # its entries carry validators and positions (see ``revalidation``)

    def __init__(self, max_urls: int):
        self.max_urls = max_urls
        self.by_url: dict[str, Prior] = {}
        self.full = False

    def load(self, directory: Path) -> int:
        """Stream the CDXJ files of ``directory`` (oldest first); returns entries read."""
        n = 0
        for path in cdxj_files(directory):
            for e in iter_cdxj(path):
                # Entries of pywb-made indexes lack record_id: such revisits simply go
                # without WARC-Refers-To (it is recommended, not required).
                if e.is_revisit or not e.digest:
                    continue
                n += 1
                self.add(
                    e.url,
                    Prior(
                        e.digest,
                        _ts14_to_warc_date(e.timestamp),
                        e.record_id,
                        e.etag,
                        e.modified,
                        e.filename,
                        e.offset,
                        e.length,
                    ),
                )
        return n

    def add(self, url: str, prior: Prior) -> None:
        if url not in self.by_url and len(self.by_url) >= self.max_urls:
            self.full = True
            return
        self.by_url[url] = prior

    def get(self, url: str) -> Prior | None:
        return self.by_url.get(url)


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


class WarcWriter:
    """Scrapy extension writing WARC 1.1 files; see the module docstring."""

    def __init__(self, crawler):
        s = crawler.settings
        if not s.getbool("NEWSARCHIVE_WARC_ENABLED", DEFAULTS["NEWSARCHIVE_WARC_ENABLED"]):
            raise NotConfigured("NEWSARCHIVE_WARC_ENABLED is off")
        self.crawler = crawler
        self.stats = crawler.stats
        self.directory = Path(s.get("NEWSARCHIVE_WARC_DIR") or DEFAULTS["NEWSARCHIVE_WARC_DIR"])
        self.prefix = s.get("NEWSARCHIVE_WARC_PREFIX") or DEFAULTS["NEWSARCHIVE_WARC_PREFIX"]
        self.max_size = s.getint("NEWSARCHIVE_WARC_MAX_SIZE", DEFAULTS["NEWSARCHIVE_WARC_MAX_SIZE"])
        self.write_cdxj = s.getbool("NEWSARCHIVE_WARC_CDXJ", DEFAULTS["NEWSARCHIVE_WARC_CDXJ"])
        self.revisits = s.getbool(
            "NEWSARCHIVE_WARC_REVISITS", DEFAULTS["NEWSARCHIVE_WARC_REVISITS"]
        )
        self.index = RevisitIndex(
            s.getint(
                "NEWSARCHIVE_WARC_REVISIT_MAX_URLS", DEFAULTS["NEWSARCHIVE_WARC_REVISIT_MAX_URLS"]
            )
        )
        self.run_id = s.get("NEWSARCHIVE_RUN_ID")
        self.robots = "obey" if s.getbool("ROBOTSTXT_OBEY") else "ignore"
        self.user_agent = s.get("USER_AGENT", "")
        self.files: RotatingWarcFiles | None = None
        self.outlets_label = ""
        self._registry = None
        self._by_host = None
        self._hosts: dict[str, str] | None = None
        self._failed = False
        self.threaded = s.getbool("NEWSARCHIVE_WARC_THREAD", DEFAULTS["NEWSARCHIVE_WARC_THREAD"])
        self._executor: ThreadPoolExecutor | None = None
        self._pending = 0
        self._waiters: list[defer.Deferred] = []
        self._thread_stats: list[tuple[str, int]] = []

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.response_downloaded, signal=signals.response_downloaded)
        _WRITERS[crawler] = ext
        return ext

    # ------------------------------------------------------------------ lifecycle

    def spider_opened(self, spider) -> None:
        outlets = getattr(spider, "outlets", None) or [spider.name]
        self.outlets_label = ", ".join(str(o) for o in outlets)
        self.files = RotatingWarcFiles(
            self.directory, self.prefix, self.max_size, self._start_file, self.write_cdxj
        )
        self._recover_open_files()
        self._ensure_indexes()
        if self.revisits:
            n = self.index.load(self.directory)
            logger.info("WARC revisits: %d earlier captures known from %s", n, self.directory)
            if self.index.full:
                logger.warning("WARC revisit index capped at %d URLs", self.index.max_urls)

    def _recover_open_files(self) -> None:
        """Repair ``.open`` files a killed run left behind, so they validate and are indexed
        (CDXJ, hence revisits) before this run writes; files a live crawl holds are skipped."""
        from newsarchive.warc.scan import FileInUse, repair_file

        for path in sorted(Path(self.directory).glob("*.warc.gz.open")):
            try:
                result = repair_file(path)
            except FileInUse:
                continue
            except OSError as exc:
                logger.error("could not repair leftover WARC %s: %s", path, exc)
                continue
            self.stats.inc_value("newsarchive/warc/recovered_files")
            logger.warning(
                "repaired WARC left open by an earlier run: %s (%s)", result.path, result.message
            )

    def _ensure_indexes(self) -> None:
        """Every finished WARC gets its current CDXJ before revisits are read from them
        (once per directory and process: the spiders of one crawl share the directory)."""
        from newsarchive.warc.indexes import ensure_indexes

        key = os.path.realpath(self.directory)
        if key in _INDEXED_DIRS:
            return
        _INDEXED_DIRS.add(key)
        done = ensure_indexes(self.directory)
        if done.regenerated:
            self.stats.inc_value("newsarchive/warc/cdxj_regenerated", len(done.regenerated))
        if done.removed_tmp:
            self.stats.inc_value("newsarchive/warc/cdxj_tmp_removed", len(done.removed_tmp))
        if done.failed:
            self.stats.inc_value("newsarchive/warc/cdxj_errors", len(done.failed))

    def spider_closed(self, spider, reason):
        if self._executor is not None:
            # The writer thread closes the file after the records still queued before it.
            executor, self._executor = self._executor, None
            done = _on_reactor(executor.submit(self._close_files))
            done.addBoth(lambda r: (executor.shutdown(wait=False), r)[1])
            return done
        self._close_files()
        return None

    def _close_files(self) -> None:
        if self.files is None:
            return
        current = self.files.current
        try:
            self.files.rotate()
        except OSError as exc:
            # Each record was written whole (or cut): the file stays valid, and the next
            # start repairs it if still ``.open`` and writes its missing CDXJ.
            name = current.name if current is not None else self.directory
            self._note_write_error(exc)
            logger.error(
                "WARC file %s not closed cleanly (%s); the next crawl start finishes it",
                name,
                exc.strerror or exc,
            )
        for path in self.files.closed:
            logger.info("WARC file closed: %s", path)

    def _note_write_error(self, exc: OSError) -> None:
        """What the crawl summary says about a failed write (first one wins)."""
        key = "newsarchive/warc/write_error"
        if not self.stats.get_value(key):
            where = exc.filename or self.directory
            self.stats.set_value(key, f"{exc.strerror or exc} ({where})")

    def flushed(self) -> defer.Deferred:
        """Fires once nothing is queued for the writer thread."""
        d: defer.Deferred = defer.Deferred()
        if self._pending == 0:
            d.callback(None)
        else:
            self._waiters.append(d)
        return d

    def sync(self) -> bool:
        """fsync the current file (closed files were fsync'd at close); see :func:`sync`."""
        current = self.files.current if self.files is not None else None
        if current is None:
            return True
        try:
            synced = current.sync()
        except OSError as exc:
            # Not durable: stop like any failed write (runs on the reactor or at close).
            self._failed_capture(exc, current.name)
            return False
        if synced:
            self.stats.inc_value("newsarchive/warc/fsyncs")
        return True

    def _start_file(self, wf: WarcFile) -> None:
        fields = [
            (
                "software",
                f"newsarchive/{__version__} scrapy/{_version('scrapy')} "
                f"warcio/{_version('warcio')} python/{platform.python_version()}",
            ),
            ("hostname", socket.gethostname()),
            ("robots", self.robots),
            ("outlet", self.outlets_label),
            ("http-header-user-agent", self.user_agent),
            ("format", "WARC File Format 1.1"),
            (
                "conformsTo",
                "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            ),
        ]
        if self.run_id:
            fields.append(("isPartOf", str(self.run_id)))
        built = build_fields_record(
            "warcinfo",
            None,
            datetime.now(UTC),
            [(k, v) for k, v in fields if v],
            extra={"WARC-Filename": wf.name},
        )
        wf.append(built.member)
        self._inc("newsarchive/warc/files")
        self._inc("newsarchive/warc/records")

    def _inc(self, key: str, n: int = 1) -> None:
        if self.threaded:  # applied on the reactor thread, with the capture
            self._thread_stats.append((key, n))
        else:
            self.stats.inc_value(key, n)

    # ------------------------------------------------------------------ capture

    def response_downloaded(self, response, request, spider) -> None:
        if self._failed or self.files is None:
            return
        if not self.threaded:
            try:
                self._emit(self._capture(response, request))
            except Exception as exc:  # noqa: BLE001 - recorded, see _failed_capture
                self._failed_capture(exc, response.url)
            return
        # The spider needs the record id and date now (its page item carries them); the
        # record itself is built, compressed and written by the writer thread, in order.
        now = datetime.now(UTC)
        rid = f"<urn:uuid:{uuid.uuid4()}>"
        request.meta["warc_record"] = {"id": rid, "url": response.url, "fetched_at": now}
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="warc-writer")
        self._pending += 1
        # Snapshot the headers here: the decompression middleware edits them (drops
        # Content-Encoding) on the reactor while the writer thread may not have read them.
        headers = _header_list(response.headers)
        fut = self._executor.submit(self._capture, response, request, now, rid, headers)
        from twisted.internet import reactor

        fut.add_done_callback(lambda f: reactor.callFromThread(self._written, f, response.url))

    def _written(self, fut: Future, url: str) -> None:
        self._pending -= 1
        try:
            self._emit(fut.result())
        except Exception as exc:  # noqa: BLE001 - recorded, see _failed_capture
            self._failed_capture(exc, url)
        if self._pending == 0:
            waiters, self._waiters = self._waiters, []
            for d in waiters:
                d.callback(None)

    def _failed_capture(self, exc: BaseException, url: str) -> None:
        self.stats.inc_value("newsarchive/warc/errors")
        if isinstance(exc, OSError):
            if self._failed:
                return
            # The archive is the source of truth: stop rather than crawl on unrecorded.
            self._failed = True
            self._note_write_error(exc)
            logger.error("WARC write failed (%s); closing the spider", exc)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="warc_write_error"))
        else:
            logger.error("WARC capture of %s failed", url, exc_info=exc)

    def _emit(self, done: tuple[dict, object, list[tuple[str, int]]]) -> None:
        capture, request, incs = done
        for key, n in incs:
            self.stats.inc_value(key, n)
        meta = request.meta.get("warc_record")
        if isinstance(meta, dict) and meta.get("id") == capture["id"]:
            meta.update(capture)  # the same dict the spider may hold
        else:
            request.meta["warc_record"] = capture
        self.crawler.signals.send_catch_log(signal=capture_recorded, capture=capture)

    def _outlet(self, url: str) -> str | None:
        if self._registry is None:
            try:
                from newsarchive.registry import OutletByHost, load_outlets

                self._registry = load_outlets()
                self._by_host = OutletByHost(self._registry)
            except Exception as exc:  # noqa: BLE001 - no registry means no outlet names
                logger.warning("registry unavailable for WARC outlet names: %s", exc)
                self._registry = {}
            self._hosts = primary_host_map({k: o.domains for k, o in self._registry.items()})
        return self._by_host.key(url) if self._by_host is not None else None

    def _refused_body(self, response, request, headers: list[tuple[bytes, bytes]]) -> bool:
        """A content-encoded body that inflates past the crawl's decompression bound (the
        limit BoundedDecompressionMiddleware applies next): the crawl refuses it as a bomb."""
        encodings = [v.decode("latin-1") for k, v in headers if k.lower() == b"content-encoding"]
        if not encodings or not response.body or request.method == "HEAD":
            return False
        limit = request.meta.get(
            "download_maxsize", self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
        )
        if not limit:
            return False
        # No deflate stream inflates more than ~1032-fold: a small gzip body cannot pass the
        # limit (brotli, zstd and stacked codings can, so those are always measured).
        codings = [c.strip().lower() for v in encodings for c in v.split(",") if c.strip()]
        if codings in (["gzip"], ["x-gzip"], ["deflate"]) and len(response.body) * 1032 <= limit:
            return False
        return inflates_past(response.body, encodings, limit)

    def _capture(
        self,
        response,
        request,
        now: datetime | None = None,
        rid: str | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ):
        """Build and write the records of one capture (in the writer thread when threaded);
        returns the capture dict, the request and the stats to count."""
        if self._failed:
            raise OSError("an earlier WARC write failed")
        now = now or datetime.now(UTC)
        self._thread_stats = []
        incs = self._thread_stats
        url = response.url
        body = response.body
        status = int(response.status)
        if headers is None:
            headers = _header_list(response.headers)
        refused = self._refused_body(response, request, headers)
        if refused:
            body = b""  # see docs/SAFETY.md "Refused bodies"
        head = response_head(response.protocol, status, headers, len(body), method=request.method)
        digest = sha1_b32(body)
        extra: dict[str, str] = {"WARC-Record-ID": rid} if rid else {}
        if response.ip_address is not None:
            extra["WARC-IP-Address"] = str(response.ip_address)
        flags = response.flags or []
        if refused:
            extra["WARC-Truncated"] = "length"
        elif "dataloss" in flags:
            extra["WARC-Truncated"] = "disconnect"
        elif "download_stopped" in flags:
            extra["WARC-Truncated"] = "unspecified"

        prior = self.index.get(url) if self.revisits else None
        not_modified = status == 304 and prior is not None and is_conditional(request)
        if not_modified:
            main = build_not_modified(url, now, prior.record_id or None, prior.date, extra)
            rec_type = "revisit"
        elif prior is not None and body and status == 200 and prior.digest == digest:
            # Only a 200's body is deduplicated: an error page is small, and its status is
            # the news; a revisit of it would be nearly as large.
            main = build_revisit(
                url, now, head, digest, prior.record_id or None, url, prior.date, extra
            )
            rec_type = "revisit"
        else:
            main = build_http_record(
                "response", url, now, head, body, extra, compressed=compressed_payload(headers)
            )
            rec_type = "response"
            prior = None

        req_headers = [(k, v) for k in request.headers for v in request.headers.getlist(k)]
        req_body = request.body or b""
        req = build_http_record(
            "request",
            url,
            now,
            request_head(request.method, url, req_headers, len(req_body)),
            req_body,
            {"WARC-Concurrent-To": main.record_id},
        )
        discovery = request.meta.get("discovery")
        outlet = self._outlet(url)
        referer = request.headers.get(b"Referer")
        via = referer.decode("utf-8", "replace") if referer else None
        fields = discovery_fields(discovery, outlet, via)
        if not_modified:  # the 304 as received; its revisit record's block is empty
            fields.append(("not-modified", status_line(response.protocol, status).decode()))
            fields += [
                ("not-modified-header", f"{k.decode('latin-1')}: {v.decode('latin-1')}")
                for k, v in headers
            ]
        meta = build_fields_record(
            "metadata", url, now, fields, extra={"WARC-Concurrent-To": main.record_id}
        )

        group = (main.member, req.member, meta.member)
        wf = self.files.for_group(sum(len(m) for m in group))
        (offset, length), _, _ = wf.append_group(group)

        ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        mime = "" if not_modified else ctype.decode("latin-1").split(";")[0].strip().lower()
        valid = {}
        if rec_type == "response" and "WARC-Truncated" not in extra:  # a cut body: ask in full
            valid = validators(status, _last(headers, b"etag"), _last(headers, b"last-modified"))
        wf.entries.append(
            CdxjEntry(
                url=url,
                timestamp=now.strftime("%Y%m%d%H%M%S"),
                mime="warc/revisit" if rec_type == "revisit" else mime,
                status=None if not_modified else status,
                digest="" if not_modified else digest,
                length=length,
                offset=offset,
                filename=wf.name,
                record_id=main.record_id,
                **valid,
            )
        )
        if rec_type == "response" and body:
            self.index.add(
                url,
                Prior(
                    digest,
                    warc_date(now),
                    main.record_id,
                    valid.get("etag", ""),
                    valid.get("modified", ""),
                    wf.name,
                    offset,
                    length,
                ),
            )

        incs.append(("newsarchive/warc/records", 3))
        incs.append((f"newsarchive/warc/{rec_type}s", 1))
        incs.append(("newsarchive/warc/bytes", sum(len(m) for m in group)))
        if isinstance(discovery, dict) and discovery.get("source") == "requisite":
            incs.append(("newsarchive/warc/requisite_bytes", sum(len(m) for m in group)))

        capture = {
            "id": main.record_id,
            "url": url,
            "canonical_url": canonicalize_url(url, self._hosts),
            "outlet": outlet,
            "fetched_at": now,
            "status": status,
            "mime": mime,
            "payload_digest": None if not_modified else digest,
            "record_type": rec_type,
            "refers_to": (prior.record_id or None) if prior else None,
            "warc_filename": wf.name,
            "warc_offset": offset,
            "warc_length": length,
            "discovered_via": discovery if isinstance(discovery, dict) else None,
        }
        return capture, request, incs
