"""Run summaries: the one-line verdict and the JSON stats of a crawl job."""

from __future__ import annotations

from typing import Any

from newsarchive.crawl import CrawlResult


def run_stats(result: CrawlResult) -> dict[str, Any]:
    outlets = {}
    for r in result.outlets:
        outlets[r.outlet] = {
            "finish_reason": r.reason,
            "pages": r.pages,
            "articles": r.articles,
            "new_articles": int(r.stats.get("newsarchive/discovery/articles_new", 0)),
            "updated_articles": int(r.stats.get("newsarchive/discovery/articles_updated", 0)),
            # articles the sources listed in the window, fetched now or archived before
            "found": r.articles
            + int(r.stats.get("newsarchive/discovery/pages/not_modified", 0))
            + int(r.stats.get(f"newsarchive/discovery/{r.outlet}/skipped/seen", 0)),
            # article pages fetched again that answered 304 (archived before, not re-extracted)
            "unchanged_articles": int(r.stats.get("newsarchive/discovery/pages/not_modified", 0)),
            "bytes": r.bytes,
            "warc_bytes": int(r.stats.get("newsarchive/warc/bytes", 0)),
            "requisite_warc_bytes": int(r.stats.get("newsarchive/warc/requisite_bytes", 0)),
            "extraction_failures": sum(
                int(r.stats.get(f"newsarchive/extract/{k}", 0))
                for k in ("timeout", "crash", "error")
            ),
            "errors": r.errors,
            "challenges": int(r.stats.get("newsarchive/fetcherrors/challenge", 0))
            + int(r.stats.get("newsarchive/index/flagged/challenge", 0)),
            "answered": r.answered,
            # feeds/sitemaps answering 304: nothing new, and no sign of trouble
            "unchanged": r.unchanged,
            "failure": r.failure,
            "status_counts": {
                k.rsplit("/", 1)[-1]: v
                for k, v in r.stats.items()
                if k.startswith("downloader/response_status_count/")
            },
            "duration_s": _duration(r.stats),
            # merge transactions into the DuckDB file (each a short write-lock window)
            "merges": int(r.stats.get("newsarchive/index/transactions", 0)),
            "lock_waits": int(r.stats.get("newsarchive/index/lock_waits", 0)),
            "merge_window_max_s": r.stats.get("newsarchive/index/merge_window_max_s"),
        }
    failures = result.failures
    return {
        "run_id": result.run_id,
        "ok": result.ok,
        "reason": "; ".join(f"{k}: {v}" for k, v in failures.items()) or None,
        "duration_s": round(result.duration, 3),
        "pages": sum(o["pages"] for o in outlets.values()),
        "articles": sum(o["articles"] for o in outlets.values()),
        "unchanged_articles": sum(o["unchanged_articles"] for o in outlets.values()),
        "bytes": sum(o["bytes"] for o in outlets.values()),
        "errors": sum(sum(o["errors"].values()) for o in outlets.values()),
        "outlets": outlets,
    }


def _duration(stats: dict) -> float | None:
    start, end = stats.get("start_time"), stats.get("finish_time")
    return round((end - start).total_seconds(), 3) if start and end else None


def run_summary(result: CrawlResult, added: int | None = None) -> str:
    s = run_stats(result)
    verdict = "ok" if s["ok"] else "FAILED"
    failed = [f"{k} ({v})" for k, v in result.failures.items()]
    line = (
        f"crawl {verdict}: {len(result.outlets)} outlets, {s['pages']} pages, "
        f"{s['articles']} articles, {s['errors']} errors, "
        f"{s['bytes'] / 1e6:.1f} MB, {s['duration_s']:.1f}s (run {s['run_id']})"
    )
    if added is not None:
        line += f"; added {added} articles"
    if failed:
        line += f"; failed: {', '.join(failed)}"
    return line


def recent_runs(db_path, outlets: list[str], limit: int = 10) -> list[dict]:
    """Stats of the last finished runs (newest first), for per-outlet health baselines."""
    import json
    import os

    if not os.path.exists(db_path):
        return []
    from newsarchive.index.db import connect, patience

    try:
        con = connect(db_path, read_only=True, timeout=patience(db_path, 10))
    except Exception:  # an unreadable index only costs the baseline
        return []
    try:
        rows = con.execute(
            # a fleet worker's per-outlet figures are its share of the fleet's work, no
            # baseline for a crawl of the whole outlet
            "SELECT stats FROM crawl_runs WHERE status = 'finished' AND stats IS NOT NULL "
            "AND NOT starts_with(id, 'fleet-') ORDER BY started DESC LIMIT ?",
            [limit],
        ).fetchall()
    except Exception:
        return []
    finally:
        con.close()
    out = []
    for (raw,) in rows:
        try:
            out.append(raw if isinstance(raw, dict) else json.loads(raw))
        except (TypeError, ValueError):
            continue
    return out


def health(
    stats: dict, history: list[dict], error_rate: float = 0.2, extract_rate: float = 0.1
) -> tuple[dict, list[str]]:
    """Per-outlet health against the outlet's recent median, and warnings for the summary.

    A warning is raised when an outlet that usually yields articles yields none (unless its
    sources answered 304 Not Modified: unchanged is not a drop), when 403/429
    answers exceed ``error_rate`` of its pages, or extraction fails on more than
    ``extract_rate`` of its article pages.
    """
    from statistics import median

    report, warnings = {}, []
    for key, o in stats["outlets"].items():
        past = [
            h["outlets"][key]["found"]
            for h in history
            if "found" in h.get("outlets", {}).get(key, {})
        ]
        base = median(past) if past else None
        codes = o.get("status_counts", {})
        # bot challenges answer 200 but are blocks too (dropped by the fetch checks, or
        # flagged by extraction)
        blocked = int(codes.get("403", 0)) + int(codes.get("429", 0)) + int(o.get("challenges", 0))
        block_rate = blocked / o["pages"] if o["pages"] else 0.0
        failures = int(o.get("extraction_failures", 0))
        fail_rate = failures / o["articles"] if o["articles"] else 0.0
        report[key] = {
            "found": o["found"],
            "recent_median": base,
            "blocked_rate": round(block_rate, 3),
            "extraction_failures": failures,
        }
        report[key]["unchanged"] = int(o.get("unchanged", 0))
        if base and o["found"] == 0 and not o.get("unchanged"):
            warnings.append(f"{key}: no articles found this run (recent median {base:g})")
        if block_rate > error_rate and blocked >= 3:
            warnings.append(
                f"{key}: {blocked} of {o['pages']} pages answered 403/429 or a bot challenge"
            )
        if fail_rate > extract_rate and failures >= 2:
            warnings.append(f"{key}: extraction failed on {failures} of {o['articles']} pages")
    return report, warnings
