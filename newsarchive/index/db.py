"""Opening the archive safely, and the ``crawl_runs`` helpers the crawl command calls.

DuckDB lets one process hold the file at a time, even for read-only use. Every opener here
retries with backoff on lock errors, so a short merge by the crawl only delays a reader
(and the reverse). A writer open also folds any spool left behind by an earlier crawl.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from newsarchive.index.schema import ensure_schema

DEFAULT_DB = "archive.duckdb"
_SCHEMA_DONE: set[str] = set()  # archives whose schema this process has ensured
# Archives this process waited for in vain (another process held them past a timeout):
# later optional reads do not wait again, so a crawl pays one lock wait, not one per reader.
_GAVE_UP: set[str] = set()
# Space set aside at a crawl's start so that its end can be recorded on a full disk.
RESERVE_BYTES = 64 * 1024


class ArchiveError(RuntimeError):
    """A clear, user-facing problem with the archive (missing file, lock timeout)."""


class ArchiveLocked(ArchiveError):
    pass


class ArchiveMissing(ArchiveError):
    pass


def resolve_db_path(explicit: str | os.PathLike | None = None, settings: Any = None) -> Path:
    """``--db`` wins, then a setting given above the project level, then $NEWSARCHIVE_DB,
    then the project setting, then ``archive.duckdb`` in the working directory."""
    if explicit:
        return Path(explicit)
    if settings is not None:
        value = settings.get("NEWSARCHIVE_DB")
        if value and settings.getpriority("NEWSARCHIVE_DB") > 20:  # above 'project'
            return Path(value)
    env = os.environ.get("NEWSARCHIVE_DB")
    if env:
        return Path(env)
    if settings is not None and settings.get("NEWSARCHIVE_DB"):
        return Path(settings.get("NEWSARCHIVE_DB"))
    return Path(DEFAULT_DB)


def patience(path: str | os.PathLike, timeout: float) -> float:
    """``timeout`` for an optional read of the archive, or 0 once this process already
    waited for ``path`` in vain (until a later open succeeds)."""
    return 0.0 if os.path.realpath(path) in _GAVE_UP else timeout


def is_lock_error(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return "could not set lock" in msg or "conflicting lock" in msg


def try_connect(path: str | os.PathLike, read_only: bool) -> duckdb.DuckDBPyConnection | None:
    """One attempt; None when another process holds the file."""
    path = Path(path)
    if read_only and not path.exists():
        raise ArchiveMissing(f"no archive at {path} (crawl first, or pass --db)")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if is_lock_error(exc):
            return None
        raise ArchiveError(f"cannot open archive {path}: {exc}") from None


def connect(
    path: str | os.PathLike,
    read_only: bool = True,
    timeout: float = 10.0,
    merge_stats: dict | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the archive, retrying with jittered backoff for up to ``timeout`` seconds on lock
    errors. A writer open creates the schema and merges any leftover spool."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    told = False
    while True:
        con = try_connect(path, read_only)
        if con is not None:
            break
        now = time.monotonic()
        if not told and timeout >= 1.0:
            told = True
            from newsarchive.locks import describe_holders

            logging.getLogger(__name__).warning(
                "archive %s is locked by %s; waiting up to %.0f s",
                path,
                describe_holders(path),
                timeout,
            )
        if now >= deadline:
            if timeout >= 1.0:
                _GAVE_UP.add(os.path.realpath(path))
            raise ArchiveLocked(
                f"archive {path} stayed locked by another process for {timeout:.0f} s; "
                "try again (a crawl merges in short transactions) or raise the timeout"
            )
        time.sleep(min(delay * (0.5 + random.random()), max(0.0, deadline - now)))
        delay = min(delay * 2, 0.5)
    _GAVE_UP.discard(os.path.realpath(path))
    if read_only:
        from newsarchive.index.fts import attach_fts

        try:  # the full-text index lives in a side file, attached as catalog "fts"
            attach_fts(con, path)
        except ArchiveError as exc:
            logging.getLogger(__name__).warning("%s", exc)
    else:
        from newsarchive.index.spool import WRITER_LOCK, merge_spool

        try:
            with WRITER_LOCK:
                # DDL rewrites the catalog (and costs a checkpoint at close): once per
                # process and file keeps each crawl merge window short.
                key = os.path.realpath(path)
                if key not in _SCHEMA_DONE:
                    ensure_schema(con)
                    _SCHEMA_DONE.add(key)
                merge_spool(path, con, merge_stats)
                _assign_stories(con, merge_stats)
        except BaseException:
            con.close()
            raise
    return con


def _assign_stories(con: duckdb.DuckDBPyConnection, stats: dict | None) -> None:
    """Story detection runs where rows are merged (issue 11); a failure leaves the articles
    unassigned for the next writer open and never blocks the merge itself."""
    if os.environ.get("NEWSARCHIVE_STORIES", "1").lower() in ("0", "false", "no", "off"):
        return
    from newsarchive.stories.archive import assign_pending

    try:
        assign_pending(con, stats=stats)
    except Exception as exc:  # noqa: BLE001 - rows are merged; stories catch up later
        logging.getLogger(__name__).error("stories: assignment failed: %s", exc)
        if stats is not None:
            stats["stories/errors"] = stats.get("stories/errors", 0) + 1


def now_utc() -> datetime:
    return datetime.now(UTC)


def start_run(outlets: list[str], db_path: str | os.PathLike | None = None) -> str:
    """Record the start of a crawl; returns its run id. Goes through the spool, so it never
    fails because a reader holds the archive."""
    from newsarchive.index.spool import Spool

    run_id = str(uuid.uuid4())
    path = resolve_db_path(db_path)
    spool = Spool(path)
    gone = stale_runs(path, outlets)
    _release_reserves(path, gone)
    for stale in gone:
        spool.append(
            "crawl_runs",
            {
                "id": stale,
                "finished": None,
                "stats": {"reason": f"its process was gone when run {run_id} started"},
                "status": "killed",
            },
        )
    spool.append(
        "crawl_runs",
        {
            "id": run_id,
            "started": now_utc().isoformat(),
            "outlets": list(outlets),
            "status": "running",
        },
    )
    spool.seal()
    _reserve(path, run_id)
    spool.try_merge(timeout=patience(path, 2.0))
    return run_id


def _reserve_path(db_path: str | os.PathLike, run_id: str) -> Path:
    from newsarchive.index.spool import spool_dir

    return spool_dir(db_path) / f".reserve-{run_id}"


def _reserve(db_path: str | os.PathLike, run_id: str) -> None:
    """Set space aside for the run's end row; a disk too full for it just gets none."""
    path = _reserve_path(db_path, run_id)
    try:
        with open(path, "wb") as fh:
            fh.write(b"\0" * RESERVE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        path.unlink(missing_ok=True)


def _release_reserves(db_path: str | os.PathLike, run_ids: list[str]) -> None:
    for rid in run_ids:
        _reserve_path(db_path, rid).unlink(missing_ok=True)


def stale_runs(db_path: str | os.PathLike, outlets: list[str]) -> list[str]:
    """Runs still marked ``running`` that share an outlet with ``outlets``. The caller holds
    those outlets' locks, and a live run holds the locks of all its outlets, so such a run
    was killed before it could record its end. Fleet runs (``fleet-...``) hold Redis locks,
    not these: ``newsarchive ingest`` closes them (see ``newsarchive.fleet.ingest``)."""
    from newsarchive.index.spool import spool_rows

    wanted = set(outlets)
    state: dict[str, tuple[str | None, set[str]]] = {}
    if os.path.exists(db_path):
        try:
            con = connect(db_path, read_only=True, timeout=patience(db_path, 2.0))
        except ArchiveError:
            con = None  # unreadable now: the next start closes them
        if con is not None:
            try:
                for rid, status, outs in con.execute(
                    "SELECT id, status, outlets FROM crawl_runs"
                ).fetchall():
                    state[rid] = (status, set(outs or []))
            except duckdb.Error:
                pass
            finally:
                con.close()
    for row in spool_rows(db_path, "crawl_runs"):  # rows not merged yet; later rows win
        rid = row.get("id")
        if not rid:
            continue
        _, outs = state.get(rid, (None, set()))
        state[rid] = (row.get("status"), outs | set(row.get("outlets") or []))
    return sorted(
        r
        for r, (st, outs) in state.items()
        if st == "running" and outs & wanted and not r.startswith("fleet-")
    )


def finish_run(
    run_id: str,
    stats: dict | None,
    status: str = "finished",
    db_path: str | os.PathLike | None = None,
) -> str | None:
    """Record the end of a crawl (stats: any JSON-able dict, e.g. Scrapy's stats).

    The row is durable in the spool before this returns; it reaches ``crawl_runs`` now, or
    (archive locked or full) at the next writer open. On a full disk the space reserved at
    the start is given back first. Returns None, or why the end could not be recorded at all
    (the next start then closes the run as ``killed``)."""
    from newsarchive.index.spool import Spool, jsonable

    path = resolve_db_path(db_path)
    spool = Spool(path)
    row = {
        "id": run_id,
        "finished": now_utc().isoformat(),
        "stats": jsonable(stats or {}),
        "status": status,
    }
    try:
        try:
            spool.append("crawl_runs", row)
            spool.seal()
        except OSError:
            _release_reserves(path, [run_id])  # the space set aside for this row
            spool.append("crawl_runs", row)
            spool.seal()
    except OSError as exc:
        logging.getLogger(__name__).error("crawl run %s: end not recorded: %s", run_id, exc)
        return f"{exc.strerror or exc} ({spool.dir})"
    _release_reserves(path, [run_id])
    try:
        spool.try_merge(timeout=patience(path, 10.0))
    except (ArchiveError, duckdb.Error, OSError) as exc:  # the row waits in the spool
        logging.getLogger(__name__).error("crawl run %s: recorded in the spool: %s", run_id, exc)
    return None
