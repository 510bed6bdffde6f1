"""Rebuild ``captures`` and ``articles`` from WARC files alone.

Phase 1 scans each file in a worker process (one file per task): a capture row per
response/revisit record, its discovery info from the concurrent ``metadata`` record, and the
list of article pages to extract. Phase 2 extracts those pages in chunks across the workers,
each worker reading its records by offset. The rows are built by the same functions as the
online pipeline (``rows.py``), decided by the same ``page_kind``, with the capture's record
id as the article id, so a reindex equals the crawl's own index. Corrupt or torn stretches
of a WARC are recorded in ``fetch_errors`` (kind "warc") and skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsarchive.index.db import connect
from newsarchive.index.rows import article_row, capture_row, error_row
from newsarchive.index.schema import TABLES
from newsarchive.index.spool import Spool, spool_dir
from newsarchive.warc.records import NOT_MODIFIED_PROFILE

CHUNK = 16


@dataclass
class ReindexResult:
    files: int = 0
    captures: int = 0
    articles: int = 0
    errors: int = 0
    error_details: list[str] = field(default_factory=list)


def _registry() -> tuple[dict, dict[str, str]]:
    from newsarchive.registry import load_outlets
    from newsarchive.urls import primary_host_map

    try:
        outlets = load_outlets()
    except Exception:  # noqa: BLE001 - without a registry captures still get rows
        return {}, {}
    return outlets, primary_host_map({k: o.domains for k, o in outlets.items()})


def _outlet_key(outlets: dict, url: str) -> str | None:
    for key, outlet in outlets.items():
        if outlet.owns(url):
            return key
    return None


def _final_name(path: Path) -> str:
    from newsarchive.warc.files import final_name

    return final_name(path)


def scan_file(path: str) -> dict[str, Any]:
    """Worker: capture rows, extraction jobs and WARC errors of one file."""
    from newsarchive.classify import page_kind
    from newsarchive.urls import canonicalize_url
    from newsarchive.warc.discovery import read_discovery
    from newsarchive.warc.scan import iter_members

    outlets, hosts = _registry()
    p = Path(path)
    name = _final_name(p)
    try:
        mtime = datetime.fromtimestamp(p.stat().st_mtime, UTC)
    except OSError as exc:
        return {
            "captures": [],
            "jobs": [],
            "errors": [error_row(name, "warc", f"cannot read: {exc}")],
        }
    captures: dict[str, dict] = {}
    discovery: dict[str, dict] = {}
    jobs: list[dict] = []
    errors: list[dict] = []
    try:
        for member in iter_members(p):
            if not member.ok:
                errors.append(
                    error_row(
                        f"{name}@{member.offset}",
                        "warc",
                        f"{member.error} ({member.length} bytes skipped)",
                        time=mtime,
                    )
                )
                continue
            for rec in member.records:
                try:
                    rtype = rec.type
                    if rtype == "metadata":
                        target = rec.header("WARC-Concurrent-To") or rec.header("WARC-Refers-To")
                        if target:
                            discovery[target] = read_discovery(rec)
                        continue
                    if rtype not in ("response", "revisit"):
                        continue
                    url = rec.url
                    ctype = rec.http_header("Content-Type") or ""
                    mime = ctype.split(";")[0].strip().lower()
                    cap = {
                        "id": rec.id,
                        "url": url,
                        "canonical_url": canonicalize_url(url, hosts),
                        "outlet": _outlet_key(outlets, url),
                        "fetched_at": rec.date,
                        # A server-not-modified revisit has an empty block: the crawl
                        # recorded the 304 it stands for.
                        "status": 304 if _not_modified(rec) else rec.status,
                        "mime": mime,
                        "payload_digest": rec.header("WARC-Payload-Digest"),
                        "record_type": rtype,
                        "refers_to": rec.header("WARC-Refers-To"),
                        "warc_filename": name,
                        "warc_offset": member.offset,
                        "warc_length": member.length,
                        "discovered_via": None,
                    }
                    captures[rec.id] = cap
                    outlet = outlets.get(cap["outlet"]) if cap["outlet"] else None
                    if rec.truncated:  # the body is not all there: no article, as in the crawl
                        errors.append(_truncated_error(rec, cap["outlet"]))
                        continue
                    if (
                        page_kind(outlet, cap["canonical_url"], cap["status"] or 0, mime)
                        == "article"
                    ):
                        jobs.append(
                            {
                                "id": rec.id,
                                "url": url,
                                "outlet": cap["outlet"],
                                "canonical_url": cap["canonical_url"],
                                "path": str(p),
                                "offset": member.offset,
                                "length": member.length,
                                "refers_to": cap["refers_to"],
                            }
                        )
                except ValueError as exc:  # a damaged header (date, URL): recorded, skipped
                    errors.append(
                        error_row(
                            f"{name}@{member.offset}",
                            "warc",
                            f"bad record: {exc}",
                            time=mtime,
                        )
                    )

    except OSError as exc:
        errors.append(error_row(name, "warc", f"read failed: {exc}", time=mtime))
    for rid, cap in captures.items():
        d = discovery.get(rid)
        cap["discovered_via"] = d if d and d.get("source") else None
    for job in jobs:  # the feed's publication date is the article's when the page has none
        job["discovered_via"] = captures[job["id"]]["discovered_via"]
    return {"captures": [capture_row(c) for c in captures.values()], "jobs": jobs, "errors": errors}


def _truncated_error(rec: Any, outlet: str | None) -> dict:
    """The fetch error a capture with a cut body stands for (the crawl recorded the same)."""
    why = rec.truncated
    encoded = bool(rec.http_header_list("Content-Encoding"))
    kind = "bomb" if why == "length" and encoded else "truncated"
    detail = f"WARC-Truncated: {why}: the body was not stored in full, so it is not extracted"
    return error_row(rec.url, kind, detail, outlet, time=rec.date)


def _extract_timeout() -> float:
    from newsarchive import settings

    return float(getattr(settings, "NEWSARCHIVE_EXTRACT_TIMEOUT", 30.0))


def _not_modified(rec: Any) -> bool:
    return rec.type == "revisit" and rec.header("WARC-Profile") == NOT_MODIFIED_PROFILE


def _page_response(url: str, rec: Any, payload_rec: Any):
    from scrapy.http import HtmlResponse

    headers: dict[bytes, list[bytes]] = {}
    for k, v in rec.http_headers:
        if k.lower() in ("content-encoding", "transfer-encoding", "content-length"):
            continue  # the body handed to the spider is already decoded
        headers.setdefault(k.encode("latin-1"), []).append(v.encode("latin-1", "replace"))
    return HtmlResponse(
        url, status=rec.status or 200, headers=headers, body=payload_rec.decoded_payload()
    )


def extract_jobs(
    jobs: list[dict],
    payloads: dict[str, tuple[str, int, int]],
    timeout: float | None = None,
) -> list[dict]:
    """Worker: read each job's record (and a revisit's original payload) and extract it,
    each page within ``timeout`` seconds (default: the crawl's NEWSARCHIVE_EXTRACT_TIMEOUT)."""
    from newsarchive.extract.pool import ExtractionError, extract_bounded
    from newsarchive.fetcherrors import body_fault, charset_problem
    from newsarchive.urls import canonicalize_url
    from newsarchive.warc.records import BodyTooLarge
    from newsarchive.warc.scan import read_record

    timeout = timeout or _extract_timeout()

    outlets, hosts = _registry()
    out = []
    for job in jobs:
        try:
            rec = read_record(job["path"], job["offset"], job["length"])
            if rec.truncated:  # scan_file skips these; a job built elsewhere may not have
                out.append({"error": _truncated_error(rec, job["outlet"])})
                continue
            payload_rec = rec
            if rec.type == "revisit":
                src = payloads.get(job["refers_to"] or "")
                if src is None:
                    out.append(
                        {
                            "error": error_row(
                                job["url"],
                                "warc",
                                "revisit of a record not in the given WARCs",
                                job["outlet"],
                                time=rec.date,
                            )
                        }
                    )
                    continue
                payload_rec = read_record(*src)
            response = _page_response(job["url"], rec, payload_rec)
        except BodyTooLarge as exc:  # a stored gzip bomb: refused as the crawl refuses it
            out.append({"error": error_row(job["url"], "bomb", str(exc), job["outlet"])})
            continue
        except Exception as exc:  # noqa: BLE001 - a bad record is recorded, never fatal
            out.append(
                {
                    "error": error_row(
                        job["url"], "warc", f"{type(exc).__name__}: {exc}", job["outlet"]
                    )
                }
            )
            continue
        canonical = job["canonical_url"]
        outlet = outlets.get(job["outlet"]) if job["outlet"] else None
        # The crawl's page checks (newsarchive.fetcherrors), so both index the same pages.
        fault = body_fault(response, outlet)
        if fault:
            out.append({"error": error_row(job["url"], *fault, job["outlet"], time=rec.date)})
            continue
        charset = charset_problem(response)
        if charset:
            out.append({"error": error_row(job["url"], *charset[:2], job["outlet"], time=rec.date)})
            if charset[2]:
                response = response.replace(encoding=charset[2])
        rel = response.css('link[rel="canonical"]::attr(href)').get()
        if rel and outlet is not None:  # as the spider does
            try:
                rel_url = canonicalize_url(response.urljoin(rel.strip()), hosts)
                if outlet.owns(rel_url):
                    canonical = rel_url
            except ValueError:  # a canonical link that is not a URL: keep our own
                pass
        page = {
            "capture_id": job["id"],
            "url": job["url"],
            "canonical_url": canonical,
            "outlet": job["outlet"],
            "discovered_via": job.get("discovered_via"),
        }
        try:
            article = extract_bounded(
                response.body, job["url"], job["outlet"], response.encoding, timeout
            )
        except ExtractionError as exc:  # timeout, crash or error: as the pipeline records it
            out.append(
                {"error": error_row(job["url"], f"extract:{exc.kind}", exc.detail, job["outlet"])}
            )
            continue
        except Exception as exc:  # noqa: BLE001 - as the pipeline records it
            out.append(
                {
                    "error": error_row(
                        job["url"], "extract:error", f"{type(exc).__name__}: {exc}", job["outlet"]
                    )
                }
            )
            continue
        out.append({"article": article_row(page, article)})
    return out


def _warc_paths(inputs: Iterable[str]) -> list[Path]:
    from newsarchive.warc.scan import warc_paths

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += warc_paths([str(p)], include_open=False)
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such WARC file or directory: {p}")
    return out


def build_path(db_path: Path) -> Path:
    """The scratch archive a reindex of ``db_path`` builds before swapping it in."""
    return db_path.with_name(f"{db_path.name}.reindex-{os.getpid()}")


def _remove_build(build: Path) -> None:
    import shutil

    for p in (build, Path(f"{build}.wal"), Path(f"{build}.fts")):
        p.unlink(missing_ok=True)
    shutil.rmtree(spool_dir(build), ignore_errors=True)


def clean_stale_builds(db_path: Path) -> list[Path]:
    """Remove scratch archives (and their WAL and spool) left by a killed reindex."""
    from newsarchive.locks import pid_alive

    gone = []
    for p in db_path.parent.glob(f"{db_path.name}.reindex-*"):
        pid = p.name[len(db_path.name) + len(".reindex-") :].split(".")[0]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        build = p.with_name(f"{db_path.name}.reindex-{pid}")
        if build not in gone:
            _remove_build(build)
            gone.append(build)
    return gone


def _copy_kept(mem: Any, names: list[str]) -> None:
    """Rows of the held archive ``src`` that these WARC files do not rebuild, into ``new``.

    Captures and articles of other WARC files, every fetch error, run and meta row. Stories
    and the query index are derived: they are built again on the new file."""
    mem.execute("CREATE TEMP TABLE _names AS SELECT unnest(?::VARCHAR[]) AS name", [names])
    tables = {
        r[0]
        for r in mem.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'"
        ).fetchall()
    }
    ours = "SELECT id FROM src.captures WHERE warc_filename IN (SELECT name FROM _names)"
    where = {
        "captures": f"WHERE id NOT IN ({ours})",
        "articles": f"WHERE capture_id IS NULL OR capture_id NOT IN ({ours})",
    }
    for table in (*TABLES, "index_meta"):
        if table in tables:
            mem.execute(
                f"INSERT INTO new.{table} BY NAME SELECT * FROM src.{table} "
                f"{where.get(table, '')} ON CONFLICT DO NOTHING"
            )
    mem.execute("DROP TABLE _names")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def reindex(
    inputs: list[str],
    db_path: str | os.PathLike,
    workers: int | None = None,
    progress: bool = True,
    executor: Callable[..., Any] | None = None,
    extract_timeout: float | None = None,
    query_index: bool = True,
) -> ReindexResult:
    """Rebuild the rows of the given WARC files, atomically.

    A new archive is built next to ``db_path`` (``<db>.reindex-<pid>``): the rows the old
    archive keeps (other WARC files, fetch errors, runs), then the rows these WARC files
    give, stories and (``query_index``) the query index. Only when it is complete is it
    renamed over ``db_path``. The old archive is held (read-only) from the copy to the
    rename, so no crawl merges into it meanwhile: their rows wait in the spool and reach
    the new file. A kill at any moment leaves the old archive as it was; the scratch files
    are removed by the next reindex.
    """
    import duckdb
    from tqdm import tqdm

    from newsarchive.index.db import ArchiveError
    from newsarchive.index.fts import _attach_source, _q
    from newsarchive.index.schema import ensure_schema

    paths = _warc_paths(inputs)
    db_path = Path(db_path)
    clean_stale_builds(db_path)
    result = ReindexResult(files=len(paths))
    names = sorted({_final_name(p) for p in paths})
    build = build_path(db_path)
    _remove_build(build)
    workers = workers or os.cpu_count() or 1
    swapped = False
    mem = None
    saved_qi = os.environ.get("NEWSARCHIVE_QUERY_INDEX")
    with (executor or ProcessPoolExecutor)(max_workers=workers) as pool:
        pool.submit(os.getpid).result()  # workers start before any archive is held
        try:
            mem = duckdb.connect()
            new = duckdb.connect(str(build))
            ensure_schema(new)
            new.close()
            if db_path.exists():
                # fold the old archive's spool and WAL in, then hold it until the rename
                connect(db_path, read_only=False, timeout=60).close()
                _attach_source(mem, db_path, 60.0)  # as "src", read-only
                mem.execute(f"ATTACH '{_q(build)}' AS new")
                _copy_kept(mem, names)
                mem.execute("DETACH new")
            # the query index is built once at the end, not at every merge
            os.environ["NEWSARCHIVE_QUERY_INDEX"] = "0"
            _rebuild_rows(paths, build, pool, result, progress, tqdm, extract_timeout)
            if saved_qi is None:
                os.environ.pop("NEWSARCHIVE_QUERY_INDEX", None)
            else:
                os.environ["NEWSARCHIVE_QUERY_INDEX"] = saved_qi
            if query_index:
                from newsarchive.query.index import rebuild_index

                rebuild_index(build)
            con = connect(build, read_only=False, timeout=0)
            con.execute("CHECKPOINT")
            con.close()
            if (
                Path(f"{build}.wal").exists()
                or spool_dir(build).exists()
                and any(spool_dir(build).iterdir())
            ):
                raise ArchiveError(f"the rebuilt archive {build} is not complete; kept the old")
            if Path(f"{db_path}.wal").exists():
                # a WAL belongs to the file it was written for: renaming another file under
                # it would replay foreign pages into the new archive
                raise ArchiveError(f"{db_path}.wal exists; open the archive once, then retry")
            _fsync(build)
            os.replace(build, db_path)
            _fsync(db_path.parent)
            swapped = True
        finally:
            if saved_qi is None:
                os.environ.pop("NEWSARCHIVE_QUERY_INDEX", None)
            else:
                os.environ["NEWSARCHIVE_QUERY_INDEX"] = saved_qi
            if mem is not None:
                mem.close()  # releases the old file (already replaced when swapped)
            if not swapped:
                _remove_build(build)
            else:
                import shutil

                shutil.rmtree(spool_dir(build), ignore_errors=True)
    return result


def _rebuild_rows(
    paths: list[Path],
    build: Path,
    pool: Any,
    result: ReindexResult,
    progress: bool,
    tqdm: Any,
    extract_timeout: float | None = None,
) -> None:
    """Scan and extract the WARC files into the archive at ``build`` through its spool."""
    spool = Spool(build)
    stats: dict[str, int] = {}
    bar = tqdm(total=len(paths), unit="file", desc="scan", disable=not progress, file=sys.stderr)
    jobs: list[dict] = []
    payloads: dict[str, tuple[str, int, int]] = {}
    futures = {pool.submit(scan_file, str(p)): p for p in paths}
    for fut in as_completed(futures):
        part = fut.result()
        for row in part["captures"]:
            spool.append("captures", row)
            if row["record_type"] == "response":
                path = futures[fut]
                payloads[row["id"]] = (str(path), row["warc_offset"], row["warc_length"])
        for row in part["errors"]:
            spool.append("fetch_errors", row)
            result.error_details.append(f"{row['url']}: {row['detail']}")
        result.captures += len(part["captures"])
        result.errors += len(part["errors"])
        jobs += part["jobs"]
        bar.update(1)
        if spool.pending >= 5000:
            _merge(spool, stats)
    bar.close()
    # captures are all in before any article: the version rule sees every capture
    _merge(spool, stats)
    bar = tqdm(total=len(jobs), unit="page", desc="extract", disable=not progress, file=sys.stderr)
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    futs = []
    for chunk in chunks:
        need = {
            j["refers_to"]: payloads[j["refers_to"]] for j in chunk if j["refers_to"] in payloads
        }
        futs.append(pool.submit(extract_jobs, chunk, need, extract_timeout))
    for fut in as_completed(futs):
        part = fut.result()
        for entry in part:
            if "article" in entry:
                spool.append("articles", entry["article"])
                result.articles += 1
            else:
                spool.append("fetch_errors", entry["error"])
                result.errors += 1
                result.error_details.append(f"{entry['error']['url']}: {entry['error']['detail']}")
        bar.update(len(part))
        if spool.pending >= 5000:
            _merge(spool, stats)
    bar.close()
    _merge(spool, stats)
    result.articles -= stats.get("refetched_dropped", 0)


def _merge(spool: Spool, stats: dict | None = None) -> None:
    spool.seal()
    if not spool.try_merge(timeout=60, stats=stats):
        raise RuntimeError(f"the scratch archive {spool.db_path} stayed locked")
