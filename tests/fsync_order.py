"""Run ``newsarchive`` with the crash-ordering observed at the system-call level.

Used as the crawl's entry point by tests/test_crash_order.py. ``os.fsync`` is wrapped to
note how far each WARC file was on disk; ``os.replace`` is wrapped to check, at the moment
a spool segment is sealed (from then on its rows may be committed), that every capture row
in it points at WARC bytes already fsync'd, and readable from the file on disk. Each check
is one JSON line in $FSYNC_ORDER_LOG. Nothing of the crawl itself is replaced.
"""

from __future__ import annotations

import json
import os
import sys
import threading

LOG = os.environ["FSYNC_ORDER_LOG"]
_lock = threading.Lock()
_synced: dict[str, int] = {}  # WARC final name -> bytes known to be on disk
_real_fsync = os.fsync
_real_replace = os.replace


def _final(name: str) -> str:
    return name[: -len(".open")] if name.endswith(".open") else name


def _fsync(fd) -> None:
    _real_fsync(fd)
    try:
        path = os.readlink(f"/proc/self/fd/{fd if isinstance(fd, int) else fd.fileno()}")
        size = os.fstat(fd if isinstance(fd, int) else fd.fileno()).st_size
    except OSError:
        return
    name = _final(os.path.basename(path))
    if ".warc" in name:
        with _lock:
            _synced[name] = max(_synced.get(name, 0), size)


def _check(segment: str) -> None:
    from newsarchive.warc.scan import read_record

    with open(segment, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    with _lock:
        synced = dict(_synced)
    for row in rows:
        name, offset, length = row["warc_filename"], row["warc_offset"], row["warc_length"]
        on_disk = synced.get(name, 0)
        warc_dir = os.environ["FSYNC_ORDER_WARC_DIR"]
        try:
            rec = read_record(os.path.join(warc_dir, name), offset, length)
            readable = rec.id == row["id"]
        except Exception:  # noqa: BLE001 - any failure to read back is the finding
            readable = False
        entry = {
            "segment": os.path.basename(segment),
            "id": row["id"],
            "warc": name,
            "end": offset + length,
            "synced": on_disk,
            "readable": readable,
            "open": os.path.exists(os.path.join(warc_dir, name + ".open")),
        }
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")


def _replace(src, dst, *args, **kwargs):
    s = os.fspath(src)
    if s.endswith(".captures.jsonl.open"):
        _check(s)  # before the seal: the rows are not committable yet
    return _real_replace(src, dst, *args, **kwargs)


os.fsync = _fsync
os.replace = _replace

if __name__ == "__main__":
    from newsarchive.cli import main

    sys.exit(main(sys.argv[1:]))
