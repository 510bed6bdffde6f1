"""Every finished WARC of a directory has its current ``.cdxj``: checked at each start.

A crawl stopped by a full disk (or killed between renaming a WARC and writing its index)
leaves WARCs without a CDXJ, or with an old one, plus temp files; revisit detection and
``show`` read the CDXJ files, so a missing one means captures they never see. At the start
of a crawl (and of ``show`` and ``replay``) :func:`ensure_indexes` regenerates the CDXJ of
every WARC that has none, whose CDXJ is older than the WARC, or whose CDXJ does not cover
the WARC's last response record (a short or empty index), and removes temp files that no
live process is writing.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.locks import pid_alive
from newsarchive.warc.cdxj import TMP_SUFFIX, CdxjEntry
from newsarchive.warc.records import WarcFormatError

logger = logging.getLogger(__name__)

# The tail of a line as CdxjEntry.line writes it: length, then offset.
_OFFSET = re.compile(r'"length": "(\d+)", "offset": "(\d+)", "filename"')
_PID_TMP = re.compile(r"\.cdxj\.(\d+)" + re.escape(TMP_SUFFIX) + "$")


@dataclass
class IndexCheck:
    regenerated: list[Path] = field(default_factory=list)
    removed_tmp: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "file: why"

    @property
    def changed(self) -> bool:
        return bool(self.regenerated or self.removed_tmp)


def _stale_tmp(path: Path) -> bool:
    if path.name.endswith(".cdxj" + TMP_SUFFIX):  # the old fixed name: no live writer uses it
        return True
    m = _PID_TMP.search(path.name)
    return bool(m) and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1)))


def index_is_current(warc: Path, cdxj: Path) -> tuple[bool, str]:
    """(True, "") when ``cdxj`` indexes every response/revisit record of ``warc``; else
    (False, why). Reads the CDXJ and only the WARC's tail after its last indexed record."""
    from newsarchive.warc.files import final_name
    from newsarchive.warc.scan import entry_for, iter_members

    try:
        cst, wst = cdxj.stat(), warc.stat()
    except FileNotFoundError:
        return False, "no .cdxj"
    if cst.st_mtime_ns < wst.st_mtime_ns:
        return False, ".cdxj is older than the WARC"
    end = 0
    with open(cdxj, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip() or line.startswith("!"):
                continue
            if not line.endswith("\n"):
                return False, ".cdxj ends in a torn line"
            m = _OFFSET.search(line)  # our own lines: no JSON parse needed (many lines)
            if m:
                end = max(end, int(m.group(2)) + int(m.group(1)))
                continue
            try:
                e = CdxjEntry.parse(line)
            except (ValueError, KeyError):
                return False, ".cdxj has a malformed line"
            end = max(end, e.offset + e.length)
    if end > wst.st_size:
        return False, ".cdxj points past the end of the WARC"
    # What follows the last indexed record is its request and metadata records: a response
    # there (or no record boundary where the index says one is) means the index is short.
    first = True
    name = final_name(warc)
    for m in iter_members(warc, start=end):
        if first and not m.ok and end:
            return False, ".cdxj does not end on a record boundary"
        first = False
        # the same test as index_file: a record it would index is missing
        if m.ok and len(m.records) == 1 and entry_for(m.records[0], name, m.offset, m.length):
            return False, f".cdxj is short (a {m.records[0].type} at offset {m.offset})"
    return True, ""


def ensure_indexes(directory: str | os.PathLike) -> IndexCheck:
    """Regenerate missing, old or short CDXJ files of the finished WARCs in ``directory``
    and remove stale temp files. Never raises for a file: failures are listed and logged
    (the caller goes on; ``show`` falls back to reading WARCs without an index)."""
    from newsarchive.warc.files import final_name
    from newsarchive.warc.scan import is_warc_name, write_index

    result = IndexCheck()
    d = Path(directory)
    if not d.is_dir():
        return result
    for path in sorted(d.iterdir()):
        if path.name.endswith(TMP_SUFFIX) and ".cdxj" in path.name and _stale_tmp(path):
            try:
                path.unlink()
                result.removed_tmp.append(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                result.failed.append(f"{path}: {exc.strerror or exc}")
    for path in sorted(d.iterdir()):
        # ``.open`` files are written (or repaired first) by a crawl; their index comes then.
        if not is_warc_name(path.name, include_open=False) or not path.is_file():
            continue
        cdxj = path.with_name(final_name(path) + ".cdxj")
        try:
            ok, why = index_is_current(path, cdxj)
            if ok:
                continue
            write_index(path)
        except (OSError, WarcFormatError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            result.failed.append(f"{path}: {why}")
            logger.error("CDXJ index of %s could not be written: %s", path, why)
            continue
        result.regenerated.append(cdxj)
        logger.warning("CDXJ index regenerated for %s (%s)", path.name, why)
    return result
