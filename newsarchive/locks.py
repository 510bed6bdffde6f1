"""Per-outlet run locks, so two crawl jobs never work on the same outlet at once.

A lock is an ``flock`` on one file per outlet; the kernel drops it when the process dies,
so a killed job never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class LockHeld(RuntimeError):
    """Another running job holds the lock of one of the outlets."""


class OutletLocks:
    def __init__(self, lock_dir: str | os.PathLike, outlets: list[str]) -> None:
        self.dir = Path(lock_dir)
        self.outlets = sorted(set(outlets))
        self._files: list = []

    def acquire(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for key in self.outlets:
            f = open(self.dir / f"{key}.lock", "a+")  # noqa: SIM115 - held until release()
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                f.close()
                self.release()
                raise LockHeld(f"outlet {key!r} is being crawled by {holder}") from None
            self._files.append(f)
            try:  # who holds it, for the refusal message; the flock is the lock itself
                os.ftruncate(f.fileno(), 0)
                os.pwrite(f.fileno(), f"pid {os.getpid()}".encode(), 0)
            except OSError:  # a full disk: the lock holds without the note
                pass

    def release(self) -> None:
        for f in self._files:
            try:
                fcntl.flock(f, fcntl.LOCK_UN)
            finally:
                f.close()
        self._files = []

    def __enter__(self) -> OutletLocks:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()[:200] or "?"


def lock_holders(path: str | os.PathLike) -> list[tuple[int, str]]:
    """Other processes holding a lock on ``path`` (pid, command line), found through
    /proc/locks, else by scanning open file descriptors like ``fuser``. Empty when nothing
    is found (not Linux, or processes we may not inspect)."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    pids: set[int] = set()
    try:
        for line in Path("/proc/locks").read_text().splitlines():
            parts = line.split()
            if "->" in parts:  # a waiter, not a holder
                continue
            if len(parts) >= 6 and parts[5].rsplit(":", 1)[-1] == str(st.st_ino):
                try:
                    pids.add(int(parts[4]))
                except ValueError:
                    continue
    except OSError:
        pass
    pids.discard(os.getpid())
    pids.discard(0)  # a holder in another pid namespace
    if not pids:
        pids = _openers(st) - {os.getpid()}
    return [(pid, _cmdline(pid)) for pid in sorted(pids)]


def _openers(st: os.stat_result) -> set[int]:
    found: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                try:
                    fst = fd.stat()
                except OSError:
                    continue
                if fst.st_ino == st.st_ino and fst.st_dev == st.st_dev:
                    found.add(int(proc.name))
                    break
        except OSError:
            continue
    return found


def describe_holders(path: str | os.PathLike) -> str:
    """'pid 123 (duckdb -readonly a.duckdb)' for logs; 'an unidentified process' if unknown."""
    holders = lock_holders(path)
    if not holders:
        return "an unidentified process"
    return ", ".join(f"pid {pid} ({cmd})" for pid, cmd in holders)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (owner of a lock, temp or spool file)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
