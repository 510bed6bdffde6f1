"""Building and parsing WARC 1.1 records, one gzip member each.

Building goes through warcio (digests, WARC headers), but the HTTP header block is handed
over as the exact bytes we want stored: warcio would otherwise re-encode headers (percent
encoding of non-ASCII values). Parsing is our own small reader so that ``check`` and
``repair`` can tell precisely which member is broken and why.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

WARC_VERSION = "1.1"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
# Headers never written into request records: they are credentials for our proxy, not
# part of the request the origin saw.
_SECRET_REQUEST_HEADERS = {b"proxy-authorization"}


class WarcFormatError(ValueError):
    """A WARC record (or gzip member) is malformed; the message says what is wrong."""


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def warc_date(dt: datetime) -> str:
    return datetime_to_iso_date(dt.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def parse_warc_date(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class _FixedHeaders(StatusAndHeaders):
    """StatusAndHeaders whose serialised form is given bytes, kept byte for byte."""

    def __init__(self, raw: bytes):
        super().__init__("", [])
        self._raw = raw
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter=None):  # noqa: D401 - warcio hook
        self.headers_buff = self._raw

    def __bool__(self) -> bool:  # warcio tests truthiness to decide whether headers exist
        return True


def _line(name: bytes, value: bytes) -> bytes:
    # A header value can never legally hold CR/LF; if one slipped through, fold it away
    # rather than let it break the header block.
    value = value.replace(b"\r", b" ").replace(b"\n", b" ")
    return name + b": " + value + b"\r\n"


def status_line(protocol: str | None, status: int) -> bytes:
    proto = protocol or "HTTP/1.1"
    if proto.lower() in ("h2", "http/2", "http/2.0"):
        proto = "HTTP/2"
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return f"{proto} {status} {reason}".encode("latin-1")


def response_head(
    protocol: str | None,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body_len: int,
    *,
    method: str = "GET",
) -> bytes:
    """The HTTP response head as stored: every header, but describing the stored body.

    Twisted has already removed chunk framing, so any Transfer-Encoding is dropped and
    Content-Length is made to match the stored (still content-encoded) bytes.
    """
    has_body = method != "HEAD" and status not in (204, 304) and not 100 <= status < 200
    out = [status_line(protocol, status) + b"\r\n"]
    seen_length = False
    for name, value in headers:
        low = name.lower()
        if low == b"transfer-encoding":
            continue
        if low == b"content-length" and has_body:
            if seen_length:
                continue
            seen_length = True
            if value.strip() != str(body_len).encode():
                out.append(_line(b"X-Newsarchive-Orig-Content-Length", value))
            value = str(body_len).encode()
        out.append(_line(name, value))
    if has_body and not seen_length:
        out.append(_line(b"Content-Length", str(body_len).encode()))
    out.append(b"\r\n")
    return b"".join(out)


def request_head(method: str, url: str, headers: list[tuple[bytes, bytes]], body_len: int) -> bytes:
    """The HTTP request head as sent to the origin: origin-form target, Host first."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or ""
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80)
        or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    out = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"), _line(b"Host", host.encode("idna"))]
    names = set()
    for name, value in headers:
        low = name.lower()
        if low in _SECRET_REQUEST_HEADERS or low == b"host":
            continue
        names.add(low)
        out.append(_line(name, value))
    if body_len and b"content-length" not in names:
        out.append(_line(b"Content-Length", str(body_len).encode()))
    out.append(b"\r\n")
    return b"".join(out)


# warcio compresses at level 9, which costs several times level 6 for a few percent, and most
# payloads are gzip-encoded by the server already: one member per record, at gzip's default.
GZIP_LEVEL = 6


# warcio gives metadata records a payload digest too, but a warc-fields block has no HTTP
# payload and `fastwarc check -p` rejects the record: such records keep the block digest only.
_NO_PAYLOAD_DIGEST = ("warcinfo", "revisit", "metadata")


def _writer(out, gzip: bool) -> WARCWriter:
    w = WARCWriter(out, gzip=gzip, warc_version=WARC_VERSION)
    w.NO_PAYLOAD_DIGEST_TYPES = _NO_PAYLOAD_DIGEST
    return w


def _member(writer_record, stored: bytes | None = None) -> bytes:
    """The record as one gzip member. ``stored``: the record's payload, already compressed
    (see :func:`compressed_payload`), which goes into the member as stored deflate blocks."""
    buf = io.BytesIO()
    _writer(buf, gzip=False).write_record(writer_record)
    data = buf.getvalue()
    if stored is not None and len(stored) >= STORE_MIN:
        end = len(data) - len(_RECORD_END)
        start = end - len(stored)
        view = memoryview(data)
        if start > 0 and view[start:end] == stored and view[end:] == _RECORD_END:
            return _member_stored(view, start, end)
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return packer.compress(data) + packer.flush()


# Deflating what is compressed already (gzip/br bodies, JPEG, PNG, WOFF2...) costs ~20 ms per
# MB at level 6 and saves ~0.3%. Such a payload is kept in stored blocks (~0.1 ms per MB),
# between the headers deflated as usual: one gzip member per record as before, every reader
# inflates it alike (a raw deflate stream may switch compressors at a full flush, as pigz
# does), and the record inside is byte for byte the same.
STORE_MIN = 1024
_RECORD_END = b"\r\n\r\n"
# gzip header as zlib writes it at level 6: no name, mtime 0, XFL 0, OS 3 (Unix)
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
_COMPRESSED_CODINGS = {"gzip", "x-gzip", "deflate", "br", "zstd", "compress", "x-compress"}
_COMPRESSED_TYPES = {
    "image/jpeg",
    "image/jpg",
    "image/pjpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heic",
    "font/woff",
    "font/woff2",
    "application/font-woff",
    "application/font-woff2",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/zstd",
    "application/x-7z-compressed",
}


def compressed_payload(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a response's payload (as sent: before any decoding) is compressed already,
    by its Content-Encoding or its media type (images, fonts, archives, audio, video)."""
    for name, value in headers:
        low = name.lower()
        if low == b"content-encoding":
            codings = value.decode("latin-1").lower().replace(",", " ").split()
            if any(c in _COMPRESSED_CODINGS for c in codings):
                return True
        elif low == b"content-type":
            mime = value.decode("latin-1").split(";")[0].strip().lower()
            if mime in _COMPRESSED_TYPES or mime.startswith(("video/", "audio/")):
                return True
    return False


def _member_stored(data: memoryview, start: int, end: int) -> bytes:
    head = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc = zlib.crc32(data)
    return b"".join(
        (
            _GZIP_HEADER,
            head.compress(data[:start]),
            head.flush(zlib.Z_FULL_FLUSH),
            body.compress(data[start:]),
            body.flush(),
            struct.pack("<II", crc, len(data) & 0xFFFFFFFF),
        )
    )


def _builder() -> WARCWriter:
    return _writer(io.BytesIO(), gzip=True)


@dataclass
class Built:
    """One serialised record: its gzip member plus the headers callers need."""

    member: bytes
    record_id: str
    payload_digest: str | None = None


def build_http_record(
    rec_type: str,
    url: str,
    date: datetime,
    head: bytes,
    payload: bytes,
    extra: dict[str, str] | None = None,
    compressed: bool = False,
) -> Built:
    """A response or request record; digests computed on the given (de-chunked) bytes.
    ``compressed``: the payload is compressed already (:func:`compressed_payload`)."""
    b = _builder()
    headers = {"WARC-Date": warc_date(date), **(extra or {})}
    rec = b.create_warc_record(
        url,
        rec_type,
        payload=io.BytesIO(payload),
        length=len(payload),
        http_headers=_FixedHeaders(head),
        warc_headers_dict=headers,
    )
    rid = rec.rec_headers.get_header("WARC-Record-ID")
    digest = rec.rec_headers.get_header("WARC-Payload-Digest")
    return Built(_member(rec, payload if compressed else None), rid, digest)


def build_revisit(
    url: str,
    date: datetime,
    head: bytes,
    payload_digest: str,
    refers_to: str | None,
    refers_to_uri: str,
    refers_to_date: str,
    extra: dict[str, str] | None = None,
) -> Built:
    b = _builder()
    headers = {"WARC-Date": warc_date(date), **(extra or {})}
    if refers_to:
        headers["WARC-Refers-To"] = refers_to
    rec = b.create_revisit_record(
        url,
        payload_digest,
        refers_to_uri,
        refers_to_date,
        http_headers=_FixedHeaders(head),
        warc_headers_dict=headers,
    )
    return Built(_member(rec), rec.rec_headers.get_header("WARC-Record-ID"), payload_digest)


def build_not_modified(
    url: str,
    date: datetime,
    refers_to: str | None,
    refers_to_date: str,
    extra: dict[str, str] | None = None,
) -> Built:
    """A ``server-not-modified`` revisit: the server answered our conditional request with
    304, so the payload is the referred-to record's. The block is empty and there is no
    WARC-Payload-Digest (WARC 1.1 6.7.3 requires neither): with the 304's own headers in the
    block, pywb and wabac.js would replay a 304 instead of the page. The 304's status line
    and headers go into the capture's metadata record instead."""
    b = _builder()
    headers = {
        "WARC-Date": warc_date(date),
        "WARC-Profile": NOT_MODIFIED_PROFILE,
        "WARC-Refers-To-Target-URI": url,
        "WARC-Refers-To-Date": refers_to_date,
        **(extra or {}),
    }
    if refers_to:
        headers["WARC-Refers-To"] = refers_to
    rec = b.create_warc_record(
        url, "revisit", payload=io.BytesIO(b""), length=0, warc_headers_dict=headers
    )
    return Built(_member(rec), rec.rec_headers.get_header("WARC-Record-ID"), None)


def warc_fields(fields: list[tuple[str, str]]) -> bytes:
    lines = []
    for name, value in fields:
        value = " ".join(str(value).split())  # no CR/LF inside a field value
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("utf-8")


def build_fields_record(
    rec_type: str,
    url: str | None,
    date: datetime,
    fields: list[tuple[str, str]],
    extra: dict[str, str] | None = None,
) -> Built:
    """A warcinfo or metadata record with an ``application/warc-fields`` block."""
    b = _builder()
    body = warc_fields(fields)
    headers = {
        "WARC-Date": warc_date(date),
        "Content-Type": "application/warc-fields",
        **(extra or {}),
    }
    rec = b.create_warc_record(
        url or "",
        rec_type,
        payload=io.BytesIO(body),
        length=len(body),
        warc_content_type="application/warc-fields",
        warc_headers_dict=headers,
    )
    return Built(_member(rec), rec.rec_headers.get_header("WARC-Record-ID"))


# ---------------------------------------------------------------------------- reading


@dataclass
class Record:
    """A parsed WARC record. ``payload`` is the HTTP body as stored (content-encoded)."""

    warc_headers: list[tuple[str, str]]
    block: bytes
    http_status_line: str | None = None
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    payload: bytes = b""
    http_head: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        for k, v in self.warc_headers:
            if k.lower() == low:
                return v
        return default

    def http_header(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        for k, v in reversed(self.http_headers):
            if k.lower() == low:
                return v
        return default

    def http_header_list(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.http_headers if k.lower() == low]

    @property
    def type(self) -> str:
        return self.header("WARC-Type", "") or ""

    @property
    def id(self) -> str:
        return self.header("WARC-Record-ID", "") or ""

    @property
    def url(self) -> str:
        return self.header("WARC-Target-URI", "") or ""

    @property
    def date(self) -> datetime:
        return parse_warc_date(self.header("WARC-Date", ""))

    @property
    def status(self) -> int | None:
        if not self.http_status_line:
            return None
        parts = self.http_status_line.split(" ", 2)
        try:
            return int(parts[1])
        except (IndexError, ValueError):
            return None

    def decoded_payload(self, limit: int | None = None) -> bytes:
        """The body with Content-Encoding removed (what a browser would parse), at most
        ``limit`` bytes (default ``DECODE_LIMIT``; a bigger body raises BodyTooLarge)."""
        return decode_content(
            self.payload, self.http_header_list("Content-Encoding"), limit or DECODE_LIMIT
        )

    @property
    def truncated(self) -> str | None:
        """``WARC-Truncated``: why the stored block is shorter than what was received."""
        return self.header("WARC-Truncated")


def _parse_header_lines(lines: list[bytes]) -> list[tuple[str, str]]:
    out = []
    for raw in lines:
        if not raw:
            continue
        if raw[:1] in (b" ", b"\t") and out:  # obsolete folding
            k, v = out[-1]
            out[-1] = (k, v + " " + raw.strip().decode("utf-8", "replace"))
            continue
        if b":" not in raw:
            raise WarcFormatError(f"header line without colon: {raw[:60]!r}")
        k, v = raw.split(b":", 1)
        out.append((k.strip().decode("utf-8", "replace"), v.strip().decode("utf-8", "replace")))
    return out


def _content_length(rec: Record) -> int:
    value = rec.header("Content-Length", "") or ""
    if not value.isdigit():  # also refuses a sign, spaces inside and non-ASCII digits
        raise WarcFormatError(f"missing or bad WARC Content-Length {value[:40]!r}")
    return int(value)


def header_problem(rec: Record) -> None:
    """Raise :class:`WarcFormatError` when a mandatory WARC header is missing or unusable
    (WARC 1.1 section 5): the one check every reader relies on, so that no reader meets a
    record whose date, type or id it cannot use."""
    for name in ("WARC-Record-ID", "WARC-Type", "WARC-Date"):
        if not rec.header(name):
            raise WarcFormatError(f"no {name} header")
    date = rec.header("WARC-Date") or ""
    try:
        parse_warc_date(date)
    except (ValueError, OverflowError):
        raise WarcFormatError(f"WARC-Date {date[:40]!r} is not a date") from None
    if rec.type in ("response", "revisit", "request") and not rec.url:
        raise WarcFormatError(f"{rec.type} record without WARC-Target-URI")


def parse_records(data: bytes) -> list[Record]:
    """Parse the uncompressed bytes of one gzip member into its record(s)."""
    records = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            raise WarcFormatError("WARC header block is incomplete")
        lines = data[pos:end].split(b"\r\n")
        if not lines[0].startswith(b"WARC/"):
            raise WarcFormatError(f"not a WARC record (starts with {lines[0][:20]!r})")
        headers = _parse_header_lines(lines[1:])
        rec = Record(warc_headers=headers, block=b"")
        length = _content_length(rec)
        header_problem(rec)
        start = end + 4
        block = data[start : start + length]
        if len(block) != length:
            raise WarcFormatError(f"block is {len(block)} bytes, Content-Length says {length}")
        if data[start + length : start + length + 4] != b"\r\n\r\n":
            raise WarcFormatError("record does not end with CRLF CRLF")
        rec.block = block
        ctype = (rec.header("Content-Type", "") or "").lower()
        if rec.type in ("response", "revisit", "request") and ctype.startswith("application/http"):
            head_end = block.find(b"\r\n\r\n")
            if head_end < 0:
                if rec.type != "revisit" or block.strip():
                    raise WarcFormatError("HTTP header block is incomplete")
                head_end = len(block) - 4 if block.endswith(b"\r\n\r\n") else len(block)
            head_lines = block[:head_end].split(b"\r\n")
            rec.http_status_line = head_lines[0].decode("latin-1")
            rec.http_headers = _parse_header_lines(head_lines[1:])
            rec.http_head = block[: head_end + 4]
            rec.payload = block[head_end + 4 :]
        else:
            rec.payload = block
        records.append(rec)
        pos = start + length + 4
    return records


class BodyTooLarge(WarcFormatError):
    """Decoding a body would pass the caller's size limit (e.g. a gzip bomb)."""


_STEP = 1 << 20


def _crawl_limit() -> int:
    from newsarchive.settings import DOWNLOAD_MAXSIZE

    return DOWNLOAD_MAXSIZE


# What any reader of the archive inflates at most: the crawl's own bound, so a body the crawl
# refused is refused by every tool too, and one it accepted decodes everywhere.
DECODE_LIMIT = _crawl_limit()


def _codings(encodings: list[str] | tuple[str, ...]) -> list[str]:
    return [c.strip().lower() for v in encodings for c in v.split(",") if c.strip()]


def iter_decoded(body: bytes, encodings: list[str]) -> Iterator[bytes]:
    """Undo Content-Encoding (gzip, deflate, br, zstd; last applied first) as a stream of
    chunks of at most about 1 MiB: callers decide how much of a body they will hold."""
    stream: Iterator[bytes] = iter([body] if body else [])
    for coding in reversed(_codings(encodings)):
        if coding in ("identity", ""):
            continue
        decoder = _DECODERS.get(coding)
        if decoder is None:
            raise WarcFormatError(f"unknown Content-Encoding {coding!r}")
        stream = decoder(stream)
    return stream


def decode_content(body: bytes, encodings: list[str], limit: int | None = DECODE_LIMIT) -> bytes:
    """The decoded body, refused with :class:`BodyTooLarge` (without inflating the rest)
    once it passes ``limit`` bytes; ``limit`` 0 or None means no bound."""
    if not _codings(encodings):
        return body
    out = bytearray()
    for chunk in iter_decoded(body, encodings):
        out += chunk
        if limit and len(out) > limit:
            raise BodyTooLarge(f"body inflates past {limit} bytes (decompression limit)")
    return bytes(out)


def inflates_past(body: bytes, encodings: list[str], limit: int) -> bool:
    """Whether the decoded body is longer than ``limit`` bytes, found by streaming (nothing
    is kept). A body that does not decode is not "past": other checks report it."""
    size = 0
    try:
        for chunk in iter_decoded(body, encodings):
            size += len(chunk)
            if size > limit:
                return True
    except Exception:  # noqa: BLE001 - undecodable is not oversized
        return False
    return False


def _inflate(chunks: Iterator[bytes], wbits: int) -> Iterator[bytes]:
    """zlib/gzip/raw deflate, every gzip member in turn, ``_STEP`` bytes of output at a time."""
    d = zlib.decompressobj(wbits)
    for data in chunks:
        while data:
            if d.eof:
                # gzip: another member follows, unless what is left is trailing junk
                # (which browsers and Scrapy ignore too). deflate: one stream only.
                if wbits <= zlib.MAX_WBITS or not data.startswith(b"\x1f\x8b"):
                    return
                d = zlib.decompressobj(wbits)
            out = d.decompress(data, _STEP)
            data = d.unused_data if d.eof else d.unconsumed_tail
            if out:
                yield out
        while not d.eof:  # output still pending for the input already given
            out = d.decompress(b"", _STEP)
            if not out:
                break
            yield out
    if not d.eof:
        raise zlib.error("compressed body is truncated")


def _gunzip_stream(chunks: Iterator[bytes]) -> Iterator[bytes]:
    return _inflate(chunks, 16 + zlib.MAX_WBITS)


def _deflate_stream(chunks: Iterator[bytes]) -> Iterator[bytes]:
    # "deflate" is a zlib stream by the RFC but raw deflate from some servers: sniff the header.
    first = next(chunks, b"")
    zlib_wrapped = (
        len(first) >= 2 and first[0] & 0x0F == 8 and ((first[0] << 8) | first[1]) % 31 == 0
    )
    rest = itertools.chain([first], chunks)
    return _inflate(rest, zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)


def _brotli_stream(chunks: Iterator[bytes]) -> Iterator[bytes]:
    import brotli

    d = brotli.Decompressor()
    for data in chunks:
        out = d.process(data, output_buffer_limit=_STEP)
        while True:
            if out:
                yield out
            if d.can_accept_more_data():
                break
            out = d.process(b"", output_buffer_limit=_STEP)
    if not d.is_finished():
        raise WarcFormatError("brotli body is truncated")


def _zstd_stream(chunks: Iterator[bytes]) -> Iterator[bytes]:
    from backports import zstd  # type: ignore[import-not-found]

    d = zstd.ZstdDecompressor()
    for data in chunks:
        while data or not d.needs_input:
            if d.eof:
                return
            out = d.decompress(data, max_length=_STEP)
            data = b""
            if out:
                yield out
            elif d.needs_input:
                break
    if not d.eof:
        raise WarcFormatError("zstd body is truncated")


_DECODERS = {
    "gzip": _gunzip_stream,
    "x-gzip": _gunzip_stream,
    "deflate": _deflate_stream,
    "br": _brotli_stream,
    "zstd": _zstd_stream,
}
