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
            "new_articles": int(r.stats.get("newsarchive/index/articles_new", r.articles)),
            "updated_articles": int(r.stats.get("newsarchive/discovery/articles_updated", 0)),
            "bytes": r.bytes,
            "errors": r.errors,
            "status_counts": {k.rsplit("/", 1)[-1]: v for k, v in r.stats.items()
                              if k.startswith("downloader/response_status_count/")},
            "duration_s": _duration(r.stats),
        }
    return {
        "run_id": result.run_id,
        "ok": result.ok,
        "duration_s": round(result.duration, 3),
        "pages": sum(o["pages"] for o in outlets.values()),
        "articles": sum(o["articles"] for o in outlets.values()),
        "bytes": sum(o["bytes"] for o in outlets.values()),
        "errors": sum(sum(o["errors"].values()) for o in outlets.values()),
        "outlets": outlets,
    }


def _duration(stats: dict) -> float | None:
    start, end = stats.get("start_time"), stats.get("finish_time")
    return round((end - start).total_seconds(), 3) if start and end else None


def run_summary(result: CrawlResult) -> str:
    s = run_stats(result)
    verdict = "ok" if s["ok"] else "FAILED"
    failed = [r.outlet for r in result.outlets if r.reason != "finished"]
    line = (f"crawl {verdict}: {len(result.outlets)} outlets, {s['pages']} pages, "
            f"{s['articles']} articles, {s['errors']} errors, "
            f"{s['bytes'] / 1e6:.1f} MB, {s['duration_s']:.1f}s (run {s['run_id']})")
    if failed:
        line += f"; failed: {', '.join(failed)}"
    return line
