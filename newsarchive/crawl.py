"""Run outlet spiders in one process and summarise the run per outlet.

Used by ``newsarchive crawl`` and ``newsarchive demo``. The spiders, the WARC writer, the
extraction pool and the index pipeline are all switched on by settings; this module only
assembles the settings, runs the reactor once and reads back the stats.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader


@dataclass
class OutletRun:
    outlet: str
    reason: str
    stats: dict[str, Any]

    @property
    def pages(self) -> int:
        return int(self.stats.get("downloader/response_count", 0))

    @property
    def articles(self) -> int:
        return int(self.stats.get("newsarchive/discovery/pages/article", 0))

    @property
    def bytes(self) -> int:
        return int(self.stats.get("downloader/response_bytes", 0))

    @property
    def answered(self) -> int:
        """Responses that show the outlet was reached: 2xx, and 304 (unchanged)."""
        prefix = "downloader/response_status_count/"
        return sum(
            int(v)
            for k, v in self.stats.items()
            if k.startswith(prefix) and (k[len(prefix) :].startswith("2") or k.endswith("/304"))
        )

    @property
    def unchanged(self) -> int:
        """Feeds and sitemaps that answered 304 Not Modified."""
        return int(self.stats.get("newsarchive/discovery/not_modified", 0))

    @property
    def failure(self) -> str | None:
        """Why this outlet's run counts as failed, or None when it succeeded."""
        if self.reason != "finished":
            why = f"closed with reason {self.reason!r}"
            written = self.stats.get("newsarchive/warc/write_error")
            return f"{why}: WARC write failed: {written}" if written else why
        if not self.answered:
            problems = ", ".join(f"{n} {k}" for k, n in sorted(self.errors.items()))
            return f"no successful response ({self.pages} responses" + (
                f"; {problems})" if problems else ")"
            )
        return None

    @property
    def errors(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for prefix in ("newsarchive/discovery/error/", "newsarchive/fetcherrors/"):
            for k, v in self.stats.items():
                if k.startswith(prefix) and isinstance(v, int):
                    out[k[len(prefix) :]] = out.get(k[len(prefix) :], 0) + v
        return out


@dataclass
class CrawlResult:
    run_id: str
    started: float
    finished: float
    outlets: list[OutletRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.outlets) and not self.failures

    @property
    def failures(self) -> dict[str, str]:
        out = {r.outlet: r.failure for r in self.outlets if r.failure}
        if self.archive_failure:
            out["archive"] = self.archive_failure
        return out

    @property
    def archive_failure(self) -> str | None:
        """Rows that did not reach the archive: a crawl whose index is behind is not ok,
        even when every outlet answered (the rows wait in the spool, nothing is lost)."""
        for r in self.outlets:
            written = r.stats.get("newsarchive/index/write_error")
            if written:
                return f"index rows could not be written: {written}"
        for r in self.outlets:
            left = r.stats.get("newsarchive/index/left_in_spool")
            if left:
                why = left if isinstance(left, str) else "the archive stayed locked"
                return f"rows could not reach the archive ({why}); they wait in the spool"
        return None

    @property
    def duration(self) -> float:
        return self.finished - self.started


def crawl_settings(overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    settings.setmodule("newsarchive.settings", priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    # Scrapy imports every listed extension before it reads its setting: the remote control
    # (off, see newsarchive.settings) would cost every crawl an aiohttp import (~0.15 s).
    base = settings.getdict("EXTENSIONS_BASE")
    off = [k for k in base if k.endswith(".RemoteControl")]
    if off and not settings.getbool("REMOTE_CONTROL_ENABLED"):
        settings.set("EXTENSIONS_BASE", {k: v for k, v in base.items() if k not in off})
    return settings


def _one_line_logs() -> None:
    """Log records keep their message line only: tracebacks are for ``-v``. (A record
    factory, because Scrapy replaces its root handler per crawler.)"""
    make = logging.getLogRecordFactory()
    if getattr(make, "one_line", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if record.exc_info and record.levelno < logging.CRITICAL:
            exc = record.exc_info[1]
            record.msg = f"{record.msg} [{type(exc).__name__}]" if exc else record.msg
            record.exc_info = None
        return record

    factory.one_line = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def run_crawl(
    outlets: list[str], overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> CrawlResult:
    """Crawl ``outlets`` (registry keys) in this process; returns per-outlet stats."""
    if env:
        os.environ.update(env)
    run_id = (overrides or {}).get("NEWSARCHIVE_RUN_ID") or uuid.uuid4().hex[:12]
    settings = crawl_settings({**(overrides or {}), "NEWSARCHIVE_RUN_ID": run_id})
    loader = SpiderLoader.from_settings(settings)
    process = CrawlerProcess(settings)
    if not settings.getbool("NEWSARCHIVE_LOG_TRACEBACKS", True):
        _one_line_logs()
    crawlers = []
    for key in outlets:
        crawler = process.create_crawler(loader.load(key))
        crawlers.append((key, crawler))
        process.crawl(crawler)
    result = CrawlResult(run_id=run_id, started=time.time(), finished=0.0)
    process.start()
    result.finished = time.time()
    for key, crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        reason = str(stats.get("finish_reason", "not started"))
        result.outlets.append(OutletRun(key, reason, dict(stats)))
    return result


class RunNotStarted(RuntimeError):
    """The run could not even be recorded as started (one line for the user)."""


def resume_from_warcs(
    outlets: list[str], overrides: dict[str, Any], db: str | os.PathLike
) -> dict[str, int]:
    """Index what a killed run of these outlets wrote to its WARCs but did not index, before
    the spiders read the seen-set (see ``newsarchive.index.resume``). A failure is logged
    and the crawl goes on: the pages are then fetched again."""
    from newsarchive.index.resume import resume_index

    settings = crawl_settings(overrides)
    if not (
        settings.getbool("NEWSARCHIVE_INDEX_ENABLED", True)
        and settings.getbool("NEWSARCHIVE_WARC_ENABLED", True)
        and settings.getbool("NEWSARCHIVE_RESUME_FROM_WARCS", True)
    ):
        return {}
    try:
        done = resume_index(
            db,
            settings.get("NEWSARCHIVE_WARC_DIR") or "warc",
            outlets,
            timeout=settings.getfloat("NEWSARCHIVE_INDEX_CLOSE_TIMEOUT", 60.0),
            extract_timeout=settings.getfloat("NEWSARCHIVE_EXTRACT_TIMEOUT", 30.0),
        )
    except Exception as exc:  # noqa: BLE001 - see the docstring
        logging.getLogger(__name__).error(
            "index: could not complete what a killed run left (%s: %s); its pages are "
            "fetched again",
            type(exc).__name__,
            exc,
        )
        return {}
    return {k: v for k, v in done.items() if v}


@dataclass
class RecordedRun:
    """A crawl with its ``crawl_runs`` row written: what ``crawl`` and ``demo`` report."""

    result: CrawlResult
    stats: dict[str, Any]
    warnings: list[str]
    added: int | None  # articles rows the run added to the index (None: index unreadable)


def article_count(db: str | os.PathLike) -> int | None:
    """Rows in ``articles`` (0 without an archive; None when it cannot be read)."""
    from newsarchive.index.db import ArchiveError, connect, patience

    if not os.path.exists(db):
        return 0
    try:
        con = connect(db, read_only=True, timeout=patience(db, 30))
    except ArchiveError:
        return None
    try:
        return con.execute("SELECT count(*) FROM articles").fetchone()[0]
    except Exception:  # no schema yet
        return 0
    finally:
        con.close()


def run_recorded(
    outlets: list[str],
    overrides: dict[str, Any],
    env: dict[str, str] | None,
    db: str | os.PathLike,
) -> RecordedRun:
    """Crawl ``outlets`` and record the run in ``crawl_runs`` whatever happens: status
    ``finished`` or ``failed`` with the reason in ``stats.reason``."""
    from newsarchive.index.db import finish_run, start_run
    from newsarchive.report import health, recent_runs, run_stats

    history = recent_runs(db, outlets)
    before = article_count(db)
    try:
        run_id = start_run(outlets, db)
    except OSError as exc:  # e.g. the archive's disk is full: nothing is crawled
        raise RunNotStarted(
            f"cannot record the run's start beside {db}: {exc.strerror or exc}; nothing crawled"
        ) from None
    resumed = resume_from_warcs(outlets, overrides, db)
    stats: dict[str, Any] = {"run_id": run_id, "ok": False}
    status = "failed"
    try:
        result = run_crawl(outlets, {**overrides, "NEWSARCHIVE_RUN_ID": run_id}, env)
        stats = run_stats(result)
        stats["health"], warnings = health(stats, history)
        status = "finished" if result.ok else "failed"
    except BaseException as exc:
        stats["reason"] = f"crawl crashed: {type(exc).__name__}: {exc}"
        raise
    finally:
        after = article_count(db) if "outlets" in stats else None
        stats["added"] = after - before if after is not None and before is not None else None
        if resumed:
            stats["resumed_from_warcs"] = resumed
        unrecorded = finish_run(run_id, stats, status, db)
    if unrecorded:
        warnings.append(
            f"the run's end could not be recorded ({unrecorded}); the next crawl start "
            "records it as killed"
        )
    return RecordedRun(result, stats, warnings, stats["added"])
