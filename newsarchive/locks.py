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
            f.seek(0)
            f.truncate()
            f.write(f"pid {os.getpid()}")
            f.flush()
            self._files.append(f)

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
