"""Finishing, from the WARC bytes, what a killed crawl left half-indexed: run at every crawl
start, before the spiders load their seen-set.

The rule (docs/INDEX.md, "Resume after a kill"): every response or revisit record in a
WARC file of this archive has its ``captures`` row, and every capture that ``reindex`` would
extract has its extraction outcome (an ``articles`` row or a ``fetch_errors`` row). A crawl
killed between writing a record and indexing it breaks that; the next start repairs it with
``reindex``'s own functions (``scan_file`` for captures, ``extract_jobs`` for articles), so the
rows are the ones a ``reindex`` of the same WARCs gives, with the same ids. The page is then
in the seen-set and is not fetched a second time. Article rows whose capture never reached a
WARC (killed before the writer thread wrote it) are removed: ``reindex`` has no such row,
and the page is fetched again.

Articles are added and removed only for the outlets whose locks the caller holds, so a crawl
of other outlets running meanwhile is left alone; missing capture rows are added whatever
their outlet (keyed by record id, so a live crawl's own row for one of them adds nothing).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from newsarchive.index.db import connect
from newsarchive.index.spool import Spool

logger = logging.getLogger(__name__)
CHUNK = 16  # pages extracted between two spool seals

# Captures of ``outlets`` that reindex would hand to extraction (status 200; page_kind is
# checked in Python) and that have no outcome: no article row of their own, no fetch error
# recorded for their URL after they were fetched (extraction failures, refused bodies), and
# no article from an earlier capture of the same bytes (the version rule would drop theirs).
PENDING_SQL = """
SELECT c.id, c.url, c.canonical_url, c.outlet, c.status, c.mime, c.refers_to,
       c.warc_filename, c.warc_offset, c.warc_length
FROM captures c
WHERE c.outlet IN (SELECT unnest(?::VARCHAR[]))
  AND c.record_type IN ('response', 'revisit') AND c.status = 200
  AND c.warc_filename IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.capture_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM fetch_errors e WHERE e.url = c.url AND e.time >= c.fetched_at)
  AND NOT EXISTS (
      SELECT 1 FROM articles a2 JOIN captures c2 ON c2.id = a2.capture_id
      WHERE c2.payload_digest = c.payload_digest AND c2.fetched_at <= c.fetched_at
        AND (c2.url = c.url OR a2.canonical_url = c.canonical_url))
ORDER BY c.fetched_at, c.id
"""

ORPHANS_SQL = """
SELECT id FROM articles
WHERE outlet IN (SELECT unnest(?::VARCHAR[]))
  AND capture_id NOT IN (SELECT id FROM captures)
"""


def _repair_open_files(warc_dir: Path) -> int:
    from newsarchive.warc.scan import FileInUse, repair_file

    n = 0
    for path in sorted(warc_dir.glob("*.warc.gz.open")):
        try:
            repair_file(path)
            n += 1
        except FileInUse:  # a live crawl writes it
            continue
        except Exception as exc:  # noqa: BLE001 - the writer tries again when it opens
            logger.error("could not repair leftover WARC %s: %s", path, exc)
    return n


def _run_of(path: Path) -> str | None:
    """The run id in a WARC file's warcinfo record (``isPartOf``), if any."""
    from newsarchive.warc.scan import iter_members

    try:
        for member in iter_members(path):
            for rec in member.records:
                if rec.type != "warcinfo":
                    return None
                for line in rec.block.decode("utf-8", "replace").splitlines():
                    key, _, value = line.partition(":")
                    if key.strip() == "isPartOf":
                        return value.strip() or None
                return None
            return None
    except (OSError, ValueError):
        return None
    return None


def _unindexed_files(con, warc_dir: Path) -> list[Path]:
    """Final WARC files of this archive holding more captures than it has rows for."""
    from newsarchive.warc.cdxj import iter_cdxj
    from newsarchive.warc.scan import warc_paths, write_index

    counts = dict(
        con.execute(
            "SELECT warc_filename, count(*) FROM captures WHERE warc_filename IS NOT NULL "
            "GROUP BY 1"
        ).fetchall()
    )
    runs = {r for (r,) in con.execute("SELECT id FROM crawl_runs").fetchall()}
    out = []
    for path in warc_paths([str(warc_dir)], include_open=False):
        have = counts.get(path.name, 0)
        if not have and _run_of(path) not in runs:
            continue  # not written by a crawl of this archive
        cdxj = path.with_name(path.name + ".cdxj")
        try:
            if not cdxj.exists():  # a disk-full close left none: revisits need it too
                write_index(path)
            listed = sum(1 for _ in iter_cdxj(cdxj))
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("WARC %s has no usable CDXJ index (%s); not checked", path, exc)
            continue
        if listed > have:
            out.append(path)
    return out


def _jobs(rows: list[tuple], warc_dir: Path, con) -> tuple[list[dict], dict]:
    from newsarchive.classify import page_kind
    from newsarchive.index.reindex import _registry

    outlets, _ = _registry()
    jobs = []
    for cid, url, canonical, outlet, status, mime, refers_to, fn, off, length in rows:
        if page_kind(outlets.get(outlet), canonical, status or 0, mime or "") != "article":
            continue
        jobs.append(
            {
                "id": cid,
                "url": url,
                "outlet": outlet,
                "canonical_url": canonical,
                "path": str(warc_dir / fn),
                "offset": off,
                "length": length,
                "refers_to": refers_to,
            }
        )
    refs = sorted({j["refers_to"] for j in jobs if j["refers_to"]})
    payloads = {}
    if refs:
        for rid, fn, off, length in con.execute(
            "SELECT id, warc_filename, warc_offset, warc_length FROM captures "
            "WHERE id IN (SELECT unnest(?::VARCHAR[])) AND warc_filename IS NOT NULL",
            [refs],
        ).fetchall():
            payloads[rid] = (str(warc_dir / fn), off, length)
    return jobs, payloads


def resume_index(
    db_path: str | os.PathLike,
    warc_dir: str | os.PathLike,
    outlets: list[str],
    timeout: float = 60.0,
    extract_timeout: float | None = None,
) -> dict[str, int]:
    """Bring the archive in line with its WARC files for ``outlets`` (see the module doc);
    returns what was done: ``repaired``, ``captures``, ``articles``, ``errors``, ``orphans``."""
    from newsarchive.index.reindex import extract_jobs, scan_file

    db_path, warc_dir = Path(db_path), Path(warc_dir)
    done = {"repaired": 0, "captures": 0, "articles": 0, "errors": 0, "orphans": 0}
    if not warc_dir.is_dir() or not db_path.exists():
        return done
    done["repaired"] = _repair_open_files(warc_dir)
    spool = Spool(db_path)
    wanted = sorted(set(outlets))

    con = connect(db_path, read_only=False, timeout=timeout)  # folds the killed run's spool in
    try:
        files = _unindexed_files(con, warc_dir)
        known = set()
        if files:
            known = {
                r
                for (r,) in con.execute(
                    "SELECT id FROM captures WHERE warc_filename IN (SELECT unnest(?::VARCHAR[]))",
                    [[p.name for p in files]],
                ).fetchall()
            }
    finally:
        con.close()
    for path in files:
        for row in scan_file(str(path))["captures"]:
            if row["id"] not in known:
                spool.append("captures", row)
                done["captures"] += 1
    if spool.seal():
        con = connect(db_path, read_only=False, timeout=timeout)
        con.close()

    con = connect(db_path, read_only=False, timeout=timeout)
    try:
        jobs, payloads = _jobs(con.execute(PENDING_SQL, [wanted]).fetchall(), warc_dir, con)
        orphans = [r for (r,) in con.execute(ORPHANS_SQL, [wanted]).fetchall()]
        if orphans:
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM articles WHERE id IN (SELECT unnest(?::VARCHAR[]))", [orphans])
            con.execute("COMMIT")
            done["orphans"] = len(orphans)
    finally:
        con.close()
    if jobs:
        from newsarchive.extract.pool import close_bounded

        try:
            # sealed chunk by chunk: a kill meanwhile keeps what was extracted
            for i in range(0, len(jobs), CHUNK):
                for entry in extract_jobs(jobs[i : i + CHUNK], payloads, extract_timeout):
                    if "article" in entry:
                        spool.append("articles", entry["article"])
                        done["articles"] += 1
                    else:
                        spool.append("fetch_errors", entry["error"])
                        done["errors"] += 1
                spool.seal()
        finally:
            close_bounded()
        connect(db_path, read_only=False, timeout=timeout).close()
    if any(done.values()):
        logger.warning(
            "index: completed what a killed run left: %d WARC file(s) repaired, %d capture "
            "row(s) and %d article(s) added from the WARCs, %d extraction error(s), %d "
            "article row(s) without a WARC record removed",
            done["repaired"],
            done["captures"],
            done["articles"],
            done["errors"],
            done["orphans"],
        )
    return done
