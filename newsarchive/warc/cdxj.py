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

from surt import surt as _surt


def surt(url: str) -> str:
    """The index key of ``url``, exactly as pywb and cdxj-indexer compute it.

    Both call the ``surt`` package (IA's canonicaliser: lower-cased, ``www`` dropped, query
    sorted, default ports and fragments removed, escapes normalised); any home-made
    approximation disagreed with them on unusual URLs, and pywb then missed the capture.
    """
    try:
        return _surt(url)
    except Exception:  # noqa: BLE001 - pywb falls back to the URL itself for odd schemes
        return url


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
    # The response's validators (ETag, Last-Modified): the next run revalidates with them.
    etag: str = ""
    modified: str = ""

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
        if self.etag:
            data["etag"] = self.etag
        if self.modified:
            data["modified"] = self.modified
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
            etag=d.get("etag", ""),
            modified=d.get("modified", ""),
        )


def validators(status: int | None, etag: str | None, modified: str | None) -> dict[str, str]:
    """The ``etag``/``modified`` fields of a capture's entry: a 200's validators, else none
    (the writer and a rebuild from the WARC must agree byte for byte)."""
    if status != 200:
        return {}
    out = {}
    if etag and etag.strip():
        out["etag"] = etag.strip()
    if modified and modified.strip():
        out["modified"] = modified.strip()
    return out


TMP_SUFFIX = ".tmp"


def tmp_name(path: Path) -> Path:
    """Where ``path`` is written before its rename: one name per process, so two crawls
    sharing a WARC directory never write into the same temp file."""
    return path.with_name(f"{path.name}.{os.getpid()}{TMP_SUFFIX}")


def write_cdxj(path: str | os.PathLike, entries: Iterable[CdxjEntry]) -> Path:
    """Write a sorted CDXJ file atomically (temp file, fsync, rename); a failed write (disk
    full) leaves no temp file behind."""
    path = Path(path)
    lines = sorted(e.line() for e in entries)
    tmp = tmp_name(path)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")
            fh.flush()
            # Durable before the rename: after a power loss the index is whole or absent,
            # never an empty file that looks current.
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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
