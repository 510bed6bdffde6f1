"""Finding captures of a URL through the CDXJ files of a WARC directory.

Used by ``newsarchive show``: choose the capture closest to a timestamp (else the latest)
and resolve a revisit to the record that holds its payload.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsarchive.warc.cdxj import CdxjEntry, iter_cdxj, surt
from newsarchive.warc.files import final_name
from newsarchive.warc.records import Record
from newsarchive.warc.scan import index_file, is_warc_name, read_record


def all_entries(directory: str | os.PathLike) -> list[CdxjEntry]:
    """Entries of every CDXJ file, plus in-memory indexes of WARCs that have none yet."""
    from newsarchive.warc.indexes import ensure_indexes

    d = Path(directory)
    ensure_indexes(d)  # where it cannot write (read-only copy), the fallback below reads
    entries: list[CdxjEntry] = []
    indexed = set()
    for path in sorted(d.glob("*.cdxj")):
        indexed.add(path.name[: -len(".cdxj")])
        entries.extend(iter_cdxj(path))
    for path in sorted(d.iterdir()) if d.is_dir() else []:
        name = path.name
        if is_warc_name(name):
            if final_name(path) not in indexed:
                entries.extend(index_file(path))
    return entries


def parse_at(value: str) -> datetime:
    """A 1-14 digit WARC timestamp (padded) or an ISO 8601 date/time."""
    digits = value.strip()
    if digits.isdigit():
        digits = (digits + "0101000000")[:14] if len(digits) < 6 else digits.ljust(14, "0")
        return datetime.strptime(digits[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    dt = datetime.fromisoformat(digits.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _ts(entry: CdxjEntry) -> datetime:
    return datetime.strptime(entry.timestamp[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _canonical(url: str) -> str:
    from newsarchive.urls import canonicalize_url

    try:
        return canonicalize_url(url)
    except ValueError:  # e.g. a port that is not a number
        return url


def find_capture(
    entries: list[CdxjEntry], url: str, at: datetime | None = None
) -> CdxjEntry | None:
    exact = [e for e in entries if e.url == url]
    if not exact:
        key = surt(url)
        exact = [e for e in entries if surt(e.url) == key]
    if not exact:  # as the crawler sees it: no tracking parameters, sorted query, ...
        key = _canonical(url)
        exact = [e for e in entries if _canonical(e.url) == key]
    if not exact:
        return None
    if at is None:
        return max(exact, key=lambda e: (e.timestamp, e.offset))
    return min(exact, key=lambda e: (abs((_ts(e) - at).total_seconds()), -int(e.timestamp)))


@dataclass
class Capture:
    entry: CdxjEntry
    record: Record  # the response or revisit record itself
    payload_record: Record  # the record holding the body (the original, for revisits)

    @property
    def payload(self) -> bytes:
        return self.payload_record.payload

    @property
    def head(self) -> Record:
        """The record whose HTTP headers go with the payload: the capture's own, or the
        original's for a server-not-modified revisit (its block is empty)."""
        return self.record if self.record.http_head else self.payload_record


def load_capture(
    directory: str | os.PathLike, entries: list[CdxjEntry], entry: CdxjEntry
) -> Capture:
    d = Path(directory)
    record = read_record(d / entry.filename, entry.offset, entry.length)
    if record.type != "revisit":
        return Capture(entry, record, record)
    refers = record.header("WARC-Refers-To")
    digest = record.header("WARC-Payload-Digest", "")
    target = record.header("WARC-Refers-To-Target-URI", record.url)
    originals = [e for e in entries if not e.is_revisit and refers and e.record_id == refers]
    if not originals:
        originals = [
            e for e in entries if not e.is_revisit and e.url == target and e.digest == digest
        ]
    if not originals:
        raise LookupError(f"revisit {record.id}: original record {refers or digest} not found")
    orig = originals[0]
    return Capture(entry, record, read_record(d / orig.filename, orig.offset, orig.length))
