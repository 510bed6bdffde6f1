"""WARC files written by warcio itself (not by our writer), in the shapes users bring:
uncompressed, gzip per record, gzip as one stream."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def warc_bytes(
    n: int = 35, gzip_records: bool = False, host: str = "nypost.com", pad: int = 0
) -> bytes:
    """A warcinfo record, then ``n`` response + request pairs of article pages (URLs that the
    registry's nypost outlet counts as articles)."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gzip_records)
    w.write_record(w.create_warcinfo_record("t.warc", {"software": "warcio test fixture"}))
    for i in range(n):
        path = f"/2024/05/{i % 28 + 1:02d}/story-number-{i}/"
        url = f"https://{host}{path}"
        body = (
            f"<html><head><title>Story {i}</title></head><body><article><h1>Story {i}</h1>"
            + "".join(
                f"<p>Paragraph {k} of story {i}: the harbour council voted on the new ferry "
                f"timetable after a long debate about winter crossings and fares.</p>"
                for k in range(6)
            )
            + "<!-- "
            + "x" * pad
            + " -->"
            + "</article></body></html>"
        ).encode()
        http = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )
        resp = w.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http, length=None
        )
        w.write_record(resp)
        req = w.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(b""),
            http_headers=StatusAndHeaders(
                f"GET {path} HTTP/1.1", [("Host", host)], is_http_request=True
            ),
        )
        w.write_record(req)
    return buf.getvalue()


def write_plain(path: Path, n: int = 35) -> Path:
    path.write_bytes(warc_bytes(n))
    return path


def write_per_record_gzip(path: Path, n: int = 35) -> Path:
    path.write_bytes(warc_bytes(n, gzip_records=True))
    return path


def write_whole_gzip(path: Path, n: int = 35) -> Path:
    path.write_bytes(gzip.compress(warc_bytes(n)))
    return path
