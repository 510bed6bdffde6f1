"""WARC files written by warcio itself (not by our writer), in the shapes users bring:
uncompressed, gzip per record, gzip as one stream."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def warc_bytes(n: int = 35, gzip_records: bool = False, host: str = "example.com") -> bytes:
    """A warcinfo record, then ``n`` response + request pairs of HTML pages."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gzip_records)
    w.write_record(w.create_warcinfo_record("t.warc", {"software": "warcio test fixture"}))
    for i in range(n):
        url = f"https://{host}/news/story-{i}.html"
        body = (
            f"<html><head><title>Story {i}</title></head><body><article><h1>Story {i}</h1>"
            + f"<p>Paragraph {i} of a test page with enough words to extract. </p>" * 5
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
                f"GET /news/story-{i}.html HTTP/1.1", [("Host", host)], is_http_request=True
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
