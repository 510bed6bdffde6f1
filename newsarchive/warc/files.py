"""WARC files on disk: naming, the ``.open`` convention, rotation, flush per record.

A file is written as ``Prefix-Timestamp-Serial-Crawlhost.warc.gz.open`` (a lock held on it
while it is written) and renamed to its final name on close, when its CDXJ index is written
beside it. Each record is one gzip member written and flushed as a whole, so a killed
crawl leaves at most its last member torn; ``repair`` cuts that.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from newsarchive.warc.cdxj import CdxjEntry, write_cdxj

OPEN_SUFFIX = ".open"
NAME_RE = re.compile(r"^(?P<prefix>.+)-(?P<ts>\d{17})-(?P<serial>\d{5})-(?P<host>[^/]+)\.warc\.gz$")


def crawl_host() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "localhost"


def warc_name(
    prefix: str, serial: int, when: datetime | None = None, host: str | None = None
) -> str:
    when = (when or datetime.now(UTC)).astimezone(UTC)
    ts = when.strftime("%Y%m%d%H%M%S") + f"{when.microsecond // 1000:03d}"
    return f"{prefix}-{ts}-{serial:05d}-{host or crawl_host()}.warc.gz"


def final_name(path: str | os.PathLike) -> str:
    name = Path(path).name
    return name[: -len(OPEN_SUFFIX)] if name.endswith(OPEN_SUFFIX) else name


class WarcFile:
    """One WARC file being appended to, record by record (member by member)."""

    def __init__(self, directory: Path, name: str):
        self.directory = directory
        self.name = name
        self.open_path = directory / (name + OPEN_SUFFIX)
        self.final_path = directory / name
        # Unbuffered: a failed write (disk full) leaves nothing queued in a buffer that a
        # later flush would append after the cut below.
        self._fh = open(self.open_path, "xb", buffering=0)  # noqa: SIM115 - lives with the file
        # A lock tells ``warc repair`` this file is still being written.
        fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.size = 0
        self._synced = 0
        self.records = 0
        self.entries: list[CdxjEntry] = []

    def append(self, member: bytes) -> tuple[int, int]:
        """Write one gzip member and flush it; return (offset, length)."""
        offset = self.size
        view = memoryview(member)
        done = 0
        try:
            while done < len(view):  # a raw write may be partial (the disk filling up)
                done += self._fh.write(view[done:]) or 0
        except OSError:
            # Leave no torn member behind: cut back to the last good record (truncating
            # needs no free space).
            try:
                os.ftruncate(self._fh.fileno(), offset)
                os.lseek(self._fh.fileno(), offset, os.SEEK_SET)
            except OSError:
                pass
            raise
        self.size += len(member)
        self.records += 1
        return offset, len(member)

    def append_group(self, members: tuple[bytes, ...]) -> list[tuple[int, int]]:
        """Append the members of one capture, all or none: a failed write cuts the file back
        to where the group began (no record of it is left for a later reindex)."""
        start = self.size
        out = []
        try:
            for member in members:
                out.append(self.append(member))
        except OSError:
            if self.size != start:
                try:
                    os.ftruncate(self._fh.fileno(), start)
                    os.lseek(self._fh.fileno(), start, os.SEEK_SET)
                    self.records -= len(out)
                    self.size = start
                except OSError:
                    pass
            raise
        return out

    def sync(self) -> bool:
        """fsync what was appended since the last sync; False when nothing was new (or the
        file was closed meanwhile, which fsyncs it)."""
        if self._fh.closed or self.size == self._synced:
            return False
        size = self.size
        try:
            os.fsync(self._fh.fileno())
        except ValueError:  # closed by the writer thread between the check and here
            return False
        self._synced = size
        return True

    def close(self, write_index: bool = True) -> Path:
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.open_path, self.final_path)
        if write_index:
            write_cdxj(self.final_path.with_name(self.name + ".cdxj"), self.entries)
        return self.final_path


class RotatingWarcFiles:
    """Hands out the current file, starting a new one past ``max_size``.

    ``on_new_file(warc_file)`` writes the warcinfo record first in every file.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        prefix: str,
        max_size: int,
        on_new_file: Callable[[WarcFile], None],
        write_index: bool = True,
    ):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.max_size = max_size
        self.on_new_file = on_new_file
        self.write_index = write_index
        self.serial = 0
        self.current: WarcFile | None = None
        self.closed: list[Path] = []

    def for_group(self, size: int) -> WarcFile:
        """The file the next group of ``size`` bytes goes into (groups are never split)."""
        cur = self.current
        if cur is not None and cur.records > 1 and cur.size + size > self.max_size:
            self.rotate()
        if self.current is None:
            self._open()
        assert self.current is not None
        return self.current

    def _open(self) -> None:
        while True:
            name = warc_name(self.prefix, self.serial)
            self.serial += 1
            if (self.directory / name).exists():
                continue
            try:
                self.current = WarcFile(self.directory, name)
                break
            except FileExistsError:  # another writer (spider) took this name first
                continue
        self.on_new_file(self.current)

    def rotate(self) -> None:
        if self.current is not None:
            # Never closed twice, even when closing fails (its CDXJ comes at the next start).
            current, self.current = self.current, None
            self.closed.append(current.close(self.write_index))
