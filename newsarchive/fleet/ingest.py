"""``ingest``: the workers' spools into the one archive, by the one DuckDB writer.

Each worker spools to ``<spool dir>/<worker id>.spool/``. Ingest merges every sealed
segment (the same transactional, idempotent merge a one-machine crawl uses). Open
segments belong to live writers and are left alone, unless their worker is known dead (no
heartbeat in Redis) or ``final`` is set: they are then sealed, a torn last line cut.

A page can be fetched twice when a worker dies holding its lease. Its second capture is a
``revisit`` (the revisit index is shared in Redis); the merge keeps one article per
canonical URL and payload digest (:mod:`newsarchive.index.versions`, the rule the crawl
and ``reindex`` follow too): a re-fetch of unchanged content is never a second article.
Changed content (an update) is a new capture with a new digest, kept as before.

Each worker run spools its ``crawl_runs`` rows (``running`` at its start, ``finished`` or
``failed`` at its end). A run still ``running`` after the merge whose worker is known gone
(no heartbeat, ``final``, or the same worker id started a later run) was killed before it
could record its end: ingest records it as ``killed``, as a one-machine crawl's start does
for a run whose process is gone. A later end row (a worker that was only out of reach)
still wins over that.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.index.spool import OPEN, merge_spool

logger = logging.getLogger(__name__)
SUFFIX = ".spool"


@dataclass
class IngestResult:
    workers: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    recovered: int = 0
    duplicates_dropped: int = 0
    left_open: int = 0
    killed: list[str] = field(default_factory=list)  # runs recorded as killed now


def _seal_orphans(directory: Path) -> int:
    n = 0
    for p in directory.glob(f"*{OPEN}"):
        data = p.read_bytes()
        cut = data.rfind(b"\n") + 1
        if cut != len(data):
            with open(p, "r+b") as f:
                f.truncate(cut)
                f.flush()
                os.fsync(f.fileno())
        os.replace(p, p.with_name(p.name[: -len(".open")]))
        n += 1
    return n


def worker_spools(spool_root: str | os.PathLike) -> dict[str, Path]:
    root = Path(spool_root)
    if not root.is_dir():
        return {}
    return {p.name[: -len(SUFFIX)]: p for p in sorted(root.glob(f"*{SUFFIX}")) if p.is_dir()}


def ingest(
    spool_root: str | os.PathLike,
    db_path: str | os.PathLike,
    *,
    alive: set[str] | None = None,
    final: bool = False,
    timeout: float = 60.0,
    fts: bool = True,
) -> IngestResult:
    """Merge every worker spool under ``spool_root`` into the archive at ``db_path``.

    ``alive``: worker ids with a live heartbeat (their open segments are not touched); None
    means unknown, so only ``final`` seals open segments.
    """
    from newsarchive.index.db import connect

    result = IngestResult()
    spools = worker_spools(spool_root)
    stats: dict[str, int] = {}
    con = connect(db_path, read_only=False, timeout=timeout)
    try:
        for worker, directory in spools.items():
            result.workers.append(worker)
            dead = final or (alive is not None and worker not in alive)
            if dead:
                result.recovered += _seal_orphans(directory)
            else:
                result.left_open += len(list(directory.glob(f"*{OPEN}")))
            merge_spool(directory.with_name(directory.name[: -len(SUFFIX)]), con, stats, False)
        result.killed = close_dead_runs(con, alive, final)
        result.rows = {k[5:]: v for k, v in stats.items() if k.startswith("rows/")}
        result.duplicates_dropped = stats.get("refetched_dropped", 0)
    finally:
        con.close()
    if fts and result.rows.get("articles"):
        from newsarchive.index.fts import rebuild_fts

        rebuild_fts(db_path, timeout=timeout)
    return result


def close_dead_runs(con, alive: set[str] | None, final: bool) -> list[str]:
    """Record as ``killed`` the fleet runs still ``running`` whose worker is gone."""
    from newsarchive.fleet.worker import RUN_PREFIX

    runs = con.execute(
        "SELECT id, started, status, json_extract_string(stats, '$.worker') FROM crawl_runs "
        "WHERE starts_with(id, ?)",
        [RUN_PREFIX],
    ).fetchall()
    latest: dict[str, tuple] = {}
    for rid, started, _status, worker in runs:
        if worker and started is not None and (worker not in latest or started > latest[worker][0]):
            latest[worker] = (started, rid)
    killed = []
    for rid, _started, status, worker in runs:
        if status != "running" or not worker:
            continue
        newer = latest.get(worker)
        if newer and newer[1] != rid:
            why = f"worker {worker} started run {newer[1]} after it (its process was gone)"
        elif final:
            why = f"worker {worker} had stopped when ingest --final ran"
        elif alive is not None and worker not in alive:
            why = f"worker {worker} had no heartbeat when ingest ran"
        else:
            continue
        con.execute(
            "UPDATE crawl_runs SET status = 'killed', stats = ? WHERE id = ? AND status = 'running'",
            [json.dumps({"worker": worker, "reason": why}), rid],
        )
        logger.info("fleet run %s recorded as killed: %s", rid, why)
        killed.append(rid)
    return killed
