"""The process tree of a crawl, read from /proc: extraction workers and summed RSS.

Used by the shared-pool test and ``bench/throughput.py --all`` to check that a crawl
process runs the configured number of extraction workers (not one pool per spider) and
how much memory the whole tree holds.
"""

from __future__ import annotations

import os
from pathlib import Path

FORKSERVER = b"multiprocessing.forkserver"


def _children(pid: int) -> list[int]:
    out: list[int] = []
    task = Path(f"/proc/{pid}/task")
    try:
        tids = [t.name for t in task.iterdir()]
    except OSError:
        return out
    for tid in tids:
        try:
            out += [int(c) for c in (task / tid / "children").read_text().split()]
        except OSError:
            continue
    return out


def descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (not ``pid`` itself)."""
    seen: list[int] = []
    todo = _children(pid)
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Summed RSS of ``pid`` and every process below it."""
    return sum(rss_bytes(p) for p in [pid, *descendants(pid)])


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def extraction_workers(pid: int | None = None) -> list[int]:
    """Worker processes of the extraction pools below ``pid`` (default: this process):
    the children of its multiprocessing fork servers."""
    pid = os.getpid() if pid is None else pid
    workers: list[int] = []
    for child in _children(pid):
        if FORKSERVER in _cmdline(child):
            workers += _children(child)
    return workers
