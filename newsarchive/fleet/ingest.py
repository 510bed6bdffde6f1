"""``ingest``: the workers' spools into the one archive, by the one DuckDB writer.

Each worker spools to ``<spool dir>/<worker id>.spool/``. Ingest merges every sealed
segment (the same transactional, idempotent merge a one-machine crawl uses). Open
segments belong to live writers and are left alone, unless their worker is known dead (no
heartbeat in Redis) or ``final`` is set: they are then sealed, a torn last line cut.

A page can be fetched twice when a worker dies holding its lease. Its second capture is a
``revisit`` (the revisit index is shared in Redis), and ingest keeps one article per
canonical URL and payload digest: a re-fetch of unchanged content is never a second
article. Changed content (an update) is a new capture with a new digest, kept as before.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.index.spool import OPEN, SEALED, merge_spool

logger = logging.getLogger(__name__)
SUFFIX = ".spool"


@dataclass
class IngestResult:
    workers: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    recovered: int = 0
    duplicates_dropped: int = 0
    left_open: int = 0


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


def _article_ids(directory: Path) -> set[str]:
    ids: set[str] = set()
    for p in directory.glob(f"*.articles{SEALED}"):
        for line in p.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("id"):
                ids.add(row["id"])
    return ids


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
    new_ids: set[str] = set()
    con = connect(db_path, read_only=False, timeout=timeout)
    try:
        for worker, directory in spools.items():
            result.workers.append(worker)
            dead = final or (alive is not None and worker not in alive)
            if dead:
                result.recovered += _seal_orphans(directory)
            else:
                result.left_open += len(list(directory.glob(f"*{OPEN}")))
            new_ids |= _article_ids(directory)
            merge_spool(directory.with_name(directory.name[: -len(SUFFIX)]), con, stats, False)
        result.rows = {k[5:]: v for k, v in stats.items() if k.startswith("rows/")}
        if new_ids:
            result.duplicates_dropped = _drop_refetched(con, new_ids)
    finally:
        con.close()
    if fts and result.rows.get("articles"):
        from newsarchive.index.fts import rebuild_fts

        rebuild_fts(db_path, timeout=timeout)
    return result


def _drop_refetched(con, new_ids: set[str]) -> int:
    """Delete just-ingested articles whose canonical URL and payload an older article has."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS _ingested (id VARCHAR)")
    con.execute("DELETE FROM _ingested")
    con.executemany("INSERT INTO _ingested VALUES (?)", [(i,) for i in sorted(new_ids)])
    dup = con.execute(
        """
        SELECT id FROM (
            SELECT a.id, row_number() OVER (
                PARTITION BY a.canonical_url, c.payload_digest
                ORDER BY c.fetched_at, a.id) AS n
            FROM articles a JOIN captures c ON c.id = a.capture_id
            WHERE (a.canonical_url, c.payload_digest) IN (
                SELECT a2.canonical_url, c2.payload_digest
                FROM articles a2 JOIN captures c2 ON c2.id = a2.capture_id
                WHERE a2.id IN (SELECT id FROM _ingested))
        ) WHERE n > 1 AND id IN (SELECT id FROM _ingested)
        """
    ).fetchall()
    if dup:
        con.execute("BEGIN TRANSACTION")
        con.executemany("DELETE FROM articles WHERE id = ?", dup)
        con.execute("COMMIT")
        logger.info("ingest: %d re-fetched duplicate article(s) kept as captures only", len(dup))
    return len(dup)
