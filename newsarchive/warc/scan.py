"""Reading WARC files member by member: read a pointer, index, check, repair.

Every function here walks gzip members itself (zlib), so it knows each member's exact
offset and length, can say which one is torn, and can resynchronise on the next gzip
header after garbage. Uncompressed ``.warc`` files are walked record by record the same way
(a "member" is then one record), as warcio and pywb read them too.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.warc.cdxj import CdxjEntry, validators, write_cdxj
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
    # What a broken gzip member did decompress to: complete records in it can be salvaged.
    partial: bytes = b""

    @property
    def ok(self) -> bool:
        return self.error is None


class NotAWarc(WarcFormatError):
    """The file is neither a gzipped nor an uncompressed WARC file."""


_WARC_MAGIC = b"WARC/"
_RESYNC = b"WARC/1."
# A WARC header block past this size is garbage, not a record: stop looking for its end.
MAX_HEADER = 1 << 20
GZIP = "gzip"
PLAIN = "plain"


def warc_format(path: str | os.PathLike) -> str:
    """``"gzip"`` or ``"plain"``; raises :class:`NotAWarc` for anything else (or an empty file)."""
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    if not head:
        raise NotAWarc(f"{path}: file is empty")
    if head.startswith(_GZIP_MAGIC):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            start = d.decompress(head, 64)
        except zlib.error:
            start = b""
        if start.startswith(_WARC_MAGIC) or (not start and len(head) < 32):
            return GZIP
        raise NotAWarc(f"{path}: gzip data that does not hold WARC records")
    if head.lstrip(b"\r\n").startswith(_WARC_MAGIC):
        return PLAIN
    raise NotAWarc(f"{path}: not a WARC file (starts with {head[:16]!r})")


def resolve_path(path: str | os.PathLike) -> Path:
    """A WARC path, falling back to its ``.open`` twin while it is still being written."""
    p = Path(path)
    if not p.exists():
        alt = p.with_name(p.name + OPEN_SUFFIX)
        if alt.exists():
            return alt
    return p


def read_record(path: str | os.PathLike, offset: int, length: int) -> Record:
    """Read the single record at (offset, length): one gzip member, or raw in a ``.warc``."""
    with open(resolve_path(path), "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    if len(data) != length:
        raise WarcFormatError(f"{path}: only {len(data)} of {length} bytes at offset {offset}")
    if data.startswith(_GZIP_MAGIC):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = d.decompress(data)
        except zlib.error as exc:
            raise WarcFormatError(f"{path}@{offset}: not a gzip member ({exc})") from None
        if not d.eof:
            raise WarcFormatError(f"{path}@{offset}: gzip member is truncated")
    else:
        raw = data
    records = parse_records(raw)
    if len(records) != 1:
        raise WarcFormatError(f"{path}@{offset}: member holds {len(records)} records, not 1")
    return records[0]


def _find(fh, needle: bytes, start: int) -> int | None:
    fh.seek(start)
    pos = start
    tail = b""
    keep = len(needle) - 1
    while True:
        chunk = fh.read(_CHUNK)
        if not chunk:
            return None
        data = tail + chunk
        i = data.find(needle)
        if i >= 0:
            return pos - len(tail) + i
        tail = data[-keep:] if keep else b""
        pos += len(chunk)


def _find_magic(fh, start: int) -> int | None:
    return _find(fh, _GZIP_MAGIC, start)


def iter_members(path: str | os.PathLike, parse: bool = True, start: int = 0) -> Iterator[Member]:
    """Yield each gzip member (or, in an uncompressed file, each record) from byte ``start``
    on; broken stretches are yielded with ``error`` set. A file that is not a WARC at all is
    one broken stretch."""
    try:
        fmt = warc_format(path)
    except NotAWarc as exc:
        size = os.path.getsize(path)
        if size:
            yield Member(0, size, error=str(exc).split(": ", 1)[-1])
        return
    if fmt == PLAIN:
        yield from _iter_plain(path, parse, start)
    else:
        yield from _iter_gzip(path, parse, start)


def _iter_gzip(path: str | os.PathLike, parse: bool, start: int = 0) -> Iterator[Member]:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
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
                    data = b"".join(out)
                    try:
                        member.records = parse_records(data)
                    except WarcFormatError as exc:
                        member.error = f"bad WARC record: {exc}"
                        member.partial = data
                yield member
                start += consumed
                continue
            nxt = _find_magic(fh, start + 1)
            end = nxt if nxt is not None else size
            yield Member(start, end - start, error=error, partial=b"".join(out) if parse else b"")
            start = end


def _plain_span(fh, start: int, size: int) -> tuple[int, str | None]:
    """Length of the uncompressed record framed at ``start`` (or 0 and why it is not one)."""
    fh.seek(start)
    head = b""
    while True:
        chunk = fh.read(64 * 1024)
        if not chunk:
            return 0, "record is truncated (torn write?)"
        seen = len(head)
        head += chunk
        hdr_end = head.find(b"\r\n\r\n", max(0, seen - 3))
        if hdr_end >= 0:
            break
        if len(head) > MAX_HEADER:
            return 0, f"WARC header block longer than {MAX_HEADER} bytes"
    if not head.startswith(_WARC_MAGIC):
        return 0, f"not a WARC record (starts with {head[:20]!r})"
    length = None
    for line in head[:hdr_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                length = None
            break
    if length is None or length < 0:
        return 0, "missing or bad WARC Content-Length"
    span = hdr_end + 4 + length + 4
    if start + span > size:
        return 0, "record is truncated (torn write?)"
    return span, None


def _iter_plain(path: str | os.PathLike, parse: bool, start: int = 0) -> Iterator[Member]:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        while start < size:
            fh.seek(start)
            lead = fh.read(2)
            if lead[:1] in (b"\r", b"\n"):  # stray line ends between records
                start += 2 if lead == b"\r\n" else 1
                continue
            span, error = _plain_span(fh, start, size)
            if error is None:
                fh.seek(start)
                data = fh.read(span)
                member = Member(start, span)
                try:
                    records = parse_records(data)
                except WarcFormatError as exc:
                    # Framed by a valid Content-Length: skip exactly this record.
                    yield Member(start, span, error=f"bad WARC record: {exc}")
                    start += span
                    continue
                if parse:
                    member.records = records
                yield member
                start += span
                continue
            nxt = _find(fh, _RESYNC, start + 1)
            end = nxt if nxt is not None else size
            yield Member(start, end - start, error=error)
            start = end


def split_records(data: bytes) -> list[bytes]:
    """The complete records at the start of uncompressed WARC bytes (stops at the first
    incomplete one, skips a framed one whose headers are bad): what a torn or partly bad
    multi-record gzip member still holds."""
    out = []
    pos = 0
    while pos < len(data):
        while data[pos : pos + 1] in (b"\r", b"\n"):
            pos += 1
        end = data.find(b"\r\n\r\n", pos, pos + MAX_HEADER)
        if end < 0 or not data.startswith(_WARC_MAGIC, pos):
            break
        length = None
        for line in data[pos:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    pass
                break
        if length is None or length < 0:
            break
        stop = end + 4 + length + 4
        if stop > len(data) or data[stop - 4 : stop] != b"\r\n\r\n":
            break
        try:
            parse_records(data[pos:stop])
        except WarcFormatError:
            pos = stop  # framed but with a bad header: dropped, the records after it kept
            continue
        out.append(data[pos:stop])
        pos = stop
    return out


def gzip_member(record: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return packer.compress(record) + packer.flush()


# ------------------------------------------------------------------------------ index


def entry_for(rec: Record, filename: str, offset: int, length: int) -> CdxjEntry | None:
    if rec.type not in ("response", "revisit"):
        return None
    try:
        timestamp = rec.date.strftime("%Y%m%d%H%M%S")
    except ValueError:  # no usable WARC-Date: nothing to index it under
        return None
    if rec.type == "revisit":
        mime, valid = "warc/revisit", {}
    else:
        mime = (rec.http_header("Content-Type", "") or "").split(";")[0].strip().lower()
        valid = {}
        if not rec.truncated:
            valid = validators(
                rec.status, rec.http_header("ETag"), rec.http_header("Last-Modified")
            )
    return CdxjEntry(
        url=rec.url,
        timestamp=timestamp,
        mime=mime,
        status=rec.status,
        digest=rec.header("WARC-Payload-Digest", "") or "",
        length=length,
        offset=offset,
        filename=filename,
        record_id=rec.id,
        **valid,
    )


def index_file(
    path: str | os.PathLike, strict: bool = False, skipped: list[str] | None = None
) -> list[CdxjEntry]:
    """CDXJ entries for the complete response/revisit records of a WARC file.

    ``strict`` raises :class:`WarcFormatError` instead of returning nothing useful: for a
    file that is not a WARC, and for one gzipped as a single stream (no record can be
    reached by offset, so pywb could not replay it either). Broken or bad records are left
    out; ``skipped`` gets one line (offset, what is wrong) for each.
    """
    if strict:
        warc_format(path)
    name = final_name(path)
    entries = []
    multi = 0
    for m in iter_members(path):
        if m.ok and len(m.records) > 1:
            multi += len(m.records)
        if not m.ok and skipped is not None:
            skipped.append(f"offset {m.offset} (+{m.length} bytes): {m.error}")
        if not m.ok or len(m.records) != 1:
            continue
        e = entry_for(m.records[0], name, m.offset, m.length)
        if e:
            entries.append(e)
    if strict and multi:
        raise WarcFormatError(
            f"{path}: {multi} records are gzipped as one stream, not one member per record, "
            "so they cannot be indexed by offset; run `newsarchive warc repair --recompress`"
        )
    return entries


def write_index(path: str | os.PathLike, skipped: list[str] | None = None) -> Path:
    """Write ``<file>.cdxj`` beside a WARC file; raises WarcFormatError (and writes nothing)
    when the file is not an indexable WARC."""
    p = Path(path)
    entries = index_file(p, strict=True, skipped=skipped)
    return write_cdxj(p.with_name(final_name(p) + ".cdxj"), entries)


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
        if enc and rec.payload and not rec.truncated:  # a cut body need not decode
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
        try:
            warc_format(p)
        except NotAWarc as exc:
            report.errors.append(str(exc).split(": ", 1)[-1])
            return report
        first = True
        multi = 0
        for m in iter_members(p):
            report.members += 1
            if not m.ok:
                report.errors.append(f"offset {m.offset} (+{m.length} bytes): {m.error}")
                continue
            if first and m.records and m.records[0].type != "warcinfo":
                report.warnings.append("first record is not warcinfo")
            first = False
            if len(m.records) != 1:
                multi += 1
            for rec in m.records:
                report.records += 1
                report.errors.extend(f"offset {m.offset}: {e}" for e in check_record(rec))
        if multi:
            report.warnings.append(
                f"{multi} gzip member(s) hold several records (gzipped as one stream): readable, "
                "but not replayable by offset; `newsarchive warc repair --recompress` fixes that"
            )
        if report.members == 0:
            report.errors.append("file is empty")
    except OSError as exc:
        report.errors.append(f"cannot read: {exc}")
    return report


# ----------------------------------------------------------------------------- repair


@dataclass
class RepairResult:
    path: Path  # final path after repair (the input itself when nothing changed)
    kept: int
    dropped_bytes: int
    renamed: bool
    message: str
    changed: bool = False  # the WARC bytes were rewritten (or would be, under dry_run)
    backup: Path | None = None
    cuts: list[tuple[int, int, str]] = field(default_factory=list)  # (offset, length, why)


class FileInUse(RuntimeError):
    """The file is locked by a running crawl."""


class RepairRefused(RuntimeError):
    """Repair would not be safe (or there is nothing that is a WARC); the file is untouched."""


def _backup_name(p: Path) -> Path:
    bak = p.with_name(p.name + ".bak")
    n = 1
    while bak.exists():
        bak = p.with_name(f"{p.name}.bak.{n}")
        n += 1
    return bak


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def repair_file(
    path: str | os.PathLike,
    *,
    backup: bool = True,
    dry_run: bool = False,
    recompress: bool = False,
) -> RepairResult:
    """Keep every complete record, cut torn/garbage bytes, finish ``.open``, re-index.

    The repaired copy is written beside the original, verified to hold every record that
    was kept, and swapped in atomically; the original stays as ``<name>.bak`` unless
    ``backup`` is false. A valid file is never rewritten (``recompress`` asks to split
    single-stream gzip into one member per record). Raises :class:`NotAWarc` and
    :class:`RepairRefused` without touching anything.
    """
    p = Path(path)
    target = p.with_name(final_name(p))
    with open(p, "rb") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileInUse(f"{p} is being written by a running crawl") from None
        fmt = warc_format(p)
        plan: list[
            tuple
        ] = []  # ("copy", offset, length) | ("split", offset, length) | ("gzip", bytes)
        cuts: list[tuple[int, int, str]] = []
        kept = 0
        multi = False
        for m in iter_members(p):
            if m.ok and m.records:
                kept += len(m.records)
                if len(m.records) > 1:
                    multi = True
                    plan.append(("split" if recompress else "copy", m.offset, m.length))
                else:
                    plan.append(("copy", m.offset, m.length))
                continue
            saved = split_records(m.partial) if m.partial else []
            for rec in saved:
                plan.append(("gzip", rec))
            kept += len(saved)
            why = m.error or "gzip member holds no record"
            if saved:
                why += f" ({len(saved)} complete record(s) in it saved)"
            cuts.append((m.offset, m.length, why))
        if kept == 0:
            raise RepairRefused(f"{p}: no complete WARC record in it; left untouched")
        rewrite = bool(cuts) or (recompress and multi)
        if p != target and target.exists():
            raise RepairRefused(f"{p}: {target.name} exists too; left both untouched")
        dropped = sum(c[1] for c in cuts)
        if not rewrite:
            renamed = p != target
            if renamed and not dry_run:
                os.rename(p, target)
                _fsync_dir(p.parent)
            msg = f"valid, {kept} records, nothing to cut"
            if renamed:
                msg += f"; {'would rename' if dry_run else 'renamed'} to {target.name}"
            if multi:
                msg += " (gzipped as one stream: --recompress makes it replayable by offset)"
            elif not dry_run:
                write_index(target)
            return RepairResult(p if dry_run else target, kept, 0, renamed, msg)
        where = "; ".join(f"offset {o} (+{n} bytes): {why}" for o, n, why in cuts[:5])
        if len(cuts) > 5:
            where += f"; ... {len(cuts) - 5} more"
        if dry_run:
            msg = f"would keep {kept} records"
            if dropped:
                msg += f" and cut {dropped} bytes in {len(cuts)} stretch(es): {where}"
            if recompress and multi:
                msg += ", one gzip member per record"
            return RepairResult(p, kept, dropped, False, msg, changed=True, cuts=cuts)
        tmp = p.with_name(f".{target.name}.repair-{os.getpid()}")
        try:
            with open(tmp, "xb") as out:
                for step in plan:
                    if step[0] == "gzip":
                        out.write(gzip_member(step[1]))
                        continue
                    fh.seek(step[1])
                    if step[0] == "copy":
                        remaining = step[2]
                        while remaining:
                            chunk = fh.read(min(_CHUNK, remaining))
                            if not chunk:
                                raise OSError(f"{p} shrank while being repaired")
                            out.write(chunk)
                            remaining -= len(chunk)
                    else:
                        raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(fh.read(step[2]))
                        for rec in split_records(raw):
                            out.write(gzip_member(rec))
                out.flush()
                os.fsync(out.fileno())
            after = list(iter_members(tmp))
            if any(not m.ok for m in after) or sum(len(m.records) for m in after) != kept:
                raise RepairRefused(f"{p}: the repaired copy did not verify; left untouched")
            bak = None
            if backup:
                bak = _backup_name(p)
                try:
                    os.link(p, bak)
                except OSError:
                    shutil.copy2(p, bak)
            os.replace(tmp, target)
            if p != target:
                os.unlink(p)
            _fsync_dir(p.parent)
        finally:
            if tmp.exists():
                tmp.unlink()
    if not multi or recompress:
        write_index(target)
    msg = f"kept {kept} records"
    if dropped:
        msg += f", cut {dropped} bad bytes ({len(cuts)} stretch(es): {where})"
    if recompress and multi:
        msg += ", recompressed one gzip member per record"
    if p != target:
        msg += f", renamed to {target.name}"
    if bak:
        msg += f"; original kept as {bak.name}"
    return RepairResult(target, kept, dropped, p != target, msg, True, bak, cuts)


WARC_SUFFIXES = (".warc.gz", ".warc")


def is_warc_name(name: str, include_open: bool = True) -> bool:
    if include_open and name.endswith(OPEN_SUFFIX):
        name = name[: -len(OPEN_SUFFIX)]
    return name.endswith(WARC_SUFFIXES)


def warc_paths(inputs: list[str], include_open: bool = True) -> list[Path]:
    """Expand files and directories into WARC file paths (sorted, directories shallow):
    ``.warc.gz`` and uncompressed ``.warc``, plus ``.open`` ones still being written."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += [q for q in sorted(p.iterdir()) if is_warc_name(q.name, include_open)]
        else:
            out.append(p)
    return out
