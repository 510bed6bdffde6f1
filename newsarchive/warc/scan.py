"""Reading WARC files member by member: read a pointer, index, check, repair.

Every function here walks gzip members itself (zlib), so it knows each member's exact
offset and length, can say which one is torn, and can resynchronise on the next gzip
header after garbage.
"""

from __future__ import annotations

import fcntl
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.warc.cdxj import CdxjEntry, write_cdxj
from newsarchive.warc.files import OPEN_SUFFIX, final_name
from newsarchive.warc.records import (
    DECODE_LIMIT,
    BodyTooLarge,
    Record,
    WarcFormatError,
    decode_content,
    parse_records,
    sha1_b32,
)

_GZIP_MAGIC = b"\x1f\x8b\x08"
_CHUNK = 1 << 20


@dataclass
class Member:
    offset: int
    length: int
    records: list[Record] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def resolve_path(path: str | os.PathLike) -> Path:
    """A WARC path, falling back to its ``.open`` twin while it is still being written."""
    p = Path(path)
    if not p.exists():
        alt = p.with_name(p.name + OPEN_SUFFIX)
        if alt.exists():
            return alt
    return p


def read_record(path: str | os.PathLike, offset: int, length: int) -> Record:
    """Read the single record stored in the gzip member at (offset, length)."""
    with open(resolve_path(path), "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    if len(data) != length:
        raise WarcFormatError(f"{path}: only {len(data)} of {length} bytes at offset {offset}")
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        raw = d.decompress(data)
    except zlib.error as exc:
        raise WarcFormatError(f"{path}@{offset}: not a gzip member ({exc})") from None
    if not d.eof:
        raise WarcFormatError(f"{path}@{offset}: gzip member is truncated")
    records = parse_records(raw)
    if len(records) != 1:
        raise WarcFormatError(f"{path}@{offset}: member holds {len(records)} records, not 1")
    return records[0]


def _find_magic(fh, start: int) -> int | None:
    fh.seek(start)
    pos = start
    tail = b""
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            return None
        data = tail + chunk
        i = data.find(_GZIP_MAGIC)
        if i >= 0:
            return pos - len(tail) + i
        tail = data[-2:]
        pos += len(chunk)


def iter_members(path: str | os.PathLike, parse: bool = True) -> Iterator[Member]:
    """Yield each gzip member of a file; broken stretches are yielded with ``error`` set."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        start = 0
        while start < size:
            fh.seek(start)
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out: list[bytes] = []
            consumed = 0
            error = None
            done = False
            while not done:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    error = "gzip member is truncated (torn write?)"
                    break
                try:
                    out.append(d.decompress(chunk))
                except zlib.error as exc:
                    error = f"bad gzip data: {exc}"
                    break
                if d.eof:
                    consumed += len(chunk) - len(d.unused_data)
                    done = True
                else:
                    consumed += len(chunk)
            if error is None:
                member = Member(start, consumed)
                if parse:
                    try:
                        member.records = parse_records(b"".join(out))
                    except WarcFormatError as exc:
                        member.error = f"bad WARC record: {exc}"
                yield member
                start += consumed
                continue
            nxt = _find_magic(fh, start + 1)
            end = nxt if nxt is not None else size
            yield Member(start, end - start, error=error)
            start = end


# ------------------------------------------------------------------------------ index


def entry_for(rec: Record, filename: str, offset: int, length: int) -> CdxjEntry | None:
    if rec.type not in ("response", "revisit"):
        return None
    if rec.type == "revisit":
        mime = "warc/revisit"
    else:
        mime = (rec.http_header("Content-Type", "") or "").split(";")[0].strip().lower()
    return CdxjEntry(
        url=rec.url,
        timestamp=rec.date.strftime("%Y%m%d%H%M%S"),
        mime=mime,
        status=rec.status,
        digest=rec.header("WARC-Payload-Digest", "") or "",
        length=length,
        offset=offset,
        filename=filename,
        record_id=rec.id,
    )


def index_file(path: str | os.PathLike) -> list[CdxjEntry]:
    """CDXJ entries for the complete response/revisit records of a WARC file."""
    name = final_name(path)
    entries = []
    for m in iter_members(path):
        if not m.ok or len(m.records) != 1:
            continue
        e = entry_for(m.records[0], name, m.offset, m.length)
        if e:
            entries.append(e)
    return entries


def write_index(path: str | os.PathLike) -> Path:
    p = Path(path)
    return write_cdxj(p.with_name(final_name(p) + ".cdxj"), index_file(p))


# ------------------------------------------------------------------------------ check


def check_record(rec: Record) -> list[str]:
    """Problems with one record: digests, and HTTP headers that disagree with the body."""
    problems = []
    rid = rec.id or "?"
    block_digest = rec.header("WARC-Block-Digest")
    if block_digest and block_digest.startswith("sha1:") and sha1_b32(rec.block) != block_digest:
        problems.append(f"{rid}: block digest mismatch")
    if rec.type == "response":
        pd = rec.header("WARC-Payload-Digest")
        if pd and pd.startswith("sha1:") and sha1_b32(rec.payload) != pd:
            problems.append(f"{rid}: payload digest mismatch")
    if rec.type in ("response", "request") and rec.http_status_line is not None:
        te = [v.lower() for v in rec.http_header_list("Transfer-Encoding")]
        if any("chunked" in v for v in te):
            # Only acceptable when the stored body really is chunk-framed.
            if not _looks_chunked(rec.payload):
                problems.append(f"{rid}: Transfer-Encoding: chunked on an unchunked body")
        elif rec.http_header_list("Content-Length"):
            declared = rec.http_header("Content-Length", "").strip()
            body_expected = not (rec.type == "response" and rec.status in (204, 304))
            if body_expected and declared != str(len(rec.payload)):
                problems.append(
                    f"{rid}: HTTP Content-Length {declared} but {len(rec.payload)} bytes stored"
                )
        enc = rec.http_header_list("Content-Encoding")
        if enc and rec.payload:
            try:
                decode_content(rec.payload, enc, DECODE_LIMIT)
            except BodyTooLarge:
                pass  # a body that inflates huge (a gzip bomb) is still a well-formed record
            except Exception as exc:  # noqa: BLE001 - any decoder failure is the finding
                problems.append(f"{rid}: body does not decode as {', '.join(enc)}: {exc}")
    return problems


def _looks_chunked(body: bytes) -> bool:
    line, sep, _ = body.partition(b"\r\n")
    try:
        int(line.split(b";")[0], 16)
    except ValueError:
        return False
    return bool(sep) and body.endswith(b"0\r\n\r\n")


@dataclass
class FileReport:
    path: Path
    members: int = 0
    records: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_file(path: str | os.PathLike) -> FileReport:
    p = Path(path)
    report = FileReport(p)
    if p.name.endswith(OPEN_SUFFIX):
        report.warnings.append("file is still .open (being written, or left by a crash)")
    try:
        first = True
        for m in iter_members(p):
            report.members += 1
            if not m.ok:
                report.errors.append(f"offset {m.offset} (+{m.length} bytes): {m.error}")
                continue
            if first and m.records and m.records[0].type != "warcinfo":
                report.warnings.append("first record is not warcinfo")
            first = False
            if len(m.records) != 1:
                report.warnings.append(f"offset {m.offset}: member holds {len(m.records)} records")
            for rec in m.records:
                report.records += 1
                report.errors.extend(f"offset {m.offset}: {e}" for e in check_record(rec))
        if report.members == 0:
            report.errors.append("file is empty")
    except OSError as exc:
        report.errors.append(f"cannot read: {exc}")
    return report


# ----------------------------------------------------------------------------- repair


@dataclass
class RepairResult:
    path: Path  # final path after repair
    kept: int
    dropped_bytes: int
    renamed: bool
    message: str


class FileInUse(RuntimeError):
    """The file is locked by a running crawl."""


def repair_file(path: str | os.PathLike) -> RepairResult:
    """Keep every complete record, drop torn/garbage bytes, drop ``.open``, re-index."""
    p = Path(path)
    with open(p, "rb+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileInUse(f"{p} is being written by a running crawl") from None
        members = list(iter_members(p))
        good = [m for m in members if m.ok and m.records]
        bad = [m for m in members if not (m.ok and m.records)]
        dropped = sum(m.length for m in bad)
        target = p.with_name(final_name(p))
        if bad:
            last_good_end = max((m.offset + m.length for m in good), default=0)
            if all(m.offset >= last_good_end for m in bad):
                # Only a torn tail: cut it in place.
                lock.truncate(last_good_end)
            else:
                tmp = p.with_name(p.name + ".repair")
                with open(tmp, "wb") as out:
                    for m in good:
                        lock.seek(m.offset)
                        out.write(lock.read(m.length))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, p)
        renamed = p != target
        if renamed:
            os.replace(p, target)
    write_index(target)
    msg = f"kept {len(good)} records"
    if dropped:
        msg += f", cut {dropped} bad bytes ({len(bad)} stretch(es))"
    if renamed:
        msg += f", renamed to {target.name}"
    return RepairResult(target, len(good), dropped, renamed, msg)


def warc_paths(inputs: list[str], include_open: bool = True) -> list[Path]:
    """Expand files and directories into WARC file paths (sorted, directories shallow)."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for q in sorted(p.iterdir()):
                if q.name.endswith(".warc.gz") or (
                    include_open and q.name.endswith(".warc.gz" + OPEN_SUFFIX)
                ):
                    out.append(q)
        else:
            out.append(p)
    return out
