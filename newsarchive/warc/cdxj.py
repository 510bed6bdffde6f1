"""CDXJ indexes in pywb's format, written beside each WARC file (``<file>.cdxj``).

A line is ``SURT timestamp {json}`` with pywb's keys (url, mime, status, digest without the
``sha1:`` prefix, length, offset, filename) plus ``record_id`` (the WARC-Record-ID), which
pywb carries along untouched and which revisits need for ``WARC-Refers-To``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit


def surt(url: str) -> str:
    """Sort-friendly URI key, as pywb computes it for common http(s) URLs."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # "http://[::1", a port past 65535: no host to reverse, keep as is
        return url.strip().lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www") and "." in host:
        head, rest = host.split(".", 1)
        if head[3:].isdigit() or head == "www":
            host = rest
    key = ",".join(reversed(host.split(".")))  # pywb reverses IP addresses too
    if port and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        key += f":{port}"
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = ""
    if parts.query:
        query = "?" + urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return (key + ")" + path + query).lower()


@dataclass
class CdxjEntry:
    url: str
    timestamp: str  # 14 digits
    mime: str
    status: int | None
    digest: str  # "sha1:BASE32"
    length: int
    offset: int
    filename: str
    record_id: str = ""

    @property
    def is_revisit(self) -> bool:
        return self.mime == "warc/revisit"

    def line(self) -> str:
        data = {"url": self.url, "mime": self.mime}
        if self.status is not None:
            data["status"] = str(self.status)
        data["digest"] = self.digest.removeprefix("sha1:")
        data["length"] = str(self.length)
        data["offset"] = str(self.offset)
        data["filename"] = self.filename
        if self.record_id:
            data["record_id"] = self.record_id
        return f"{surt(self.url)} {self.timestamp} {json.dumps(data, separators=(', ', ': '))}"

    @classmethod
    def parse(cls, line: str) -> CdxjEntry:
        key, ts, rest = line.rstrip("\n").split(" ", 2)
        d = json.loads(rest)
        digest = d.get("digest", "")
        if digest and ":" not in digest:
            digest = "sha1:" + digest
        status = d.get("status")
        return cls(
            url=d["url"],
            timestamp=ts,
            mime=d.get("mime", ""),
            status=int(status) if status not in (None, "", "-") else None,
            digest=digest,
            length=int(d["length"]),
            offset=int(d["offset"]),
            filename=d["filename"],
            record_id=d.get("record_id", ""),
        )


def write_cdxj(path: str | os.PathLike, entries: Iterable[CdxjEntry]) -> Path:
    """Write a sorted CDXJ file atomically (temp file, then rename)."""
    path = Path(path)
    lines = sorted(e.line() for e in entries)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
    os.replace(tmp, path)
    return path


def iter_cdxj(path: str | os.PathLike) -> Iterator[CdxjEntry]:
    """Stream the entries of a CDXJ file; malformed lines are skipped."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip() or line.startswith("!"):
                continue
            try:
                yield CdxjEntry.parse(line)
            except (ValueError, KeyError):
                continue


def cdxj_files(directory: str | os.PathLike) -> list[Path]:
    return sorted(Path(directory).glob("*.cdxj"))
