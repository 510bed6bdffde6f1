"""Routes of the web app. Every page opens the archive read-only for the request only.

DuckDB lets one process hold the file at a time, so a request that finds the crawl merging
retries for a few seconds and then answers 503 with a sentence, never a traceback. Nothing
here writes: there is no POST route, and the raw capture view is served as plain text in a
sandbox so archived scripts never run on the app's origin (replay has its own port).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from newsarchive.index import read
from newsarchive.index.db import ArchiveError, ArchiveLocked, connect
from newsarchive.web import sources, svg

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
MAX_URL = 4096  # longer request targets are refused before any work
MAX_PARAM = 1000  # characters of one query parameter (queries, ids, dates)
MAX_VALUES = 50  # repeated facet values
BY = ("day", "week", "month")

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
RAW_CSP = "sandbox; default-src 'none'"


@dataclass
class WebConfig:
    db_path: Path
    warc_dir: Path
    replay_base: str | None = None  # e.g. http://127.0.0.1:8001/news (pywb, its own port)
    lock_timeout: float = 3.0
    page_size: int = 20


class PageError(Exception):
    """A request that cannot be answered with the page asked for; the message is shown."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# ---- helpers -----------------------------------------------------------------------------


def _param(request: Request, name: str, default: str = "") -> str:
    value = request.query_params.get(name, default)
    if len(value) > MAX_PARAM:
        raise PageError(400, f"parameter {name!r} is too long ({len(value)} characters)")
    return value


def _values(request: Request, name: str) -> tuple[str, ...]:
    vals = [v for v in request.query_params.getlist(name) if v.strip()]
    if len(vals) > MAX_VALUES or any(len(v) > MAX_PARAM for v in vals):
        raise PageError(400, f"too many or too long values for {name!r}")
    return tuple(dict.fromkeys(v.strip() for v in vals))


def _date(value: str, name: str) -> datetime | None:
    if not value:
        return None
    try:
        d = date.fromisoformat(value.strip())
    except ValueError:
        raise PageError(400, f"{name} {value!r} is not a date (YYYY-MM-DD)") from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def ts14(dt: datetime | None) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%d%H%M%S") if dt else ""


def _fmt_dt(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def _highlight(text: str, spans: list[tuple[int, int]]) -> Markup:
    """``text`` escaped, with the given character spans wrapped in <mark>."""
    out, pos = [], 0
    for start, end in sorted(spans or []):
        if start < pos or end > len(text) or start >= end:
            continue
        out.append(escape(text[pos:start]))
        out.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def _diff_html(ops: list[tuple[str, str]]) -> Markup:
    tags = {"+": "ins", "-": "del"}
    parts = []
    for op, text in ops:
        tag = tags.get(op)
        parts.append(
            Markup(f"<{tag}>") + escape(text) + Markup(f"</{tag}>") if tag else escape(text)
        )
    return Markup(" ").join(parts)


class ConnectionKeeper:
    """One read-only connection shared by the requests in flight, closed once the app has
    been idle for ``linger`` seconds.

    Opening the file costs far more than a page's queries, so a burst of requests shares
    one open; each request gets its own cursor (thread-safe, own temp tables). Between
    bursts the file is released, so a crawl's merge waits at most ``linger`` seconds more
    than it would for a single request.
    """

    def __init__(self, config: WebConfig, linger: float = 0.5):
        self.config = config
        self.linger = linger
        self.lock = threading.Lock()
        self.con: duckdb.DuckDBPyConnection | None = None
        self.users = 0
        self.last = 0.0
        self.closer: threading.Timer | None = None

    def acquire(self) -> duckdb.DuckDBPyConnection:
        with self.lock:
            if self.con is None:
                self.con = connect(
                    self.config.db_path, read_only=True, timeout=self.config.lock_timeout
                )
            self.users += 1
            return self.con.cursor()

    def release(self, cur: duckdb.DuckDBPyConnection) -> None:
        try:
            cur.close()
        finally:
            with self.lock:
                self.users -= 1
                self.last = time.monotonic()
                if self.users == 0:
                    self._schedule()

    def _schedule(self) -> None:
        if self.closer is not None:
            self.closer.cancel()
        self.closer = threading.Timer(self.linger, self._close_if_idle)
        self.closer.daemon = True
        self.closer.start()

    def _close_if_idle(self) -> None:
        with self.lock:
            if self.users == 0 and self.con is not None:
                if time.monotonic() - self.last >= self.linger * 0.9:
                    self.con.close()
                    self.con = None


class Pages:
    def __init__(self, config: WebConfig):
        self.config = config
        self.env = Environment(
            loader=PackageLoader("newsarchive.web", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["dt"] = _fmt_dt
        self.env.filters["ts14"] = ts14
        self.env.globals["replay_link"] = self.replay_link
        self.keeper = ConnectionKeeper(config)

    def render(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**ctx)
        return HTMLResponse(html, status_code=status)

    def replay_link(self, url: str | None, fetched_at: datetime | None) -> str | None:
        mod = sources.replay()
        if not (self.config.replay_base and mod and url and fetched_at):
            return None
        return mod.replay_url(self.config.replay_base, url, ts14(fetched_at))

    @contextmanager
    def db(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            con = self.keeper.acquire()
        except ArchiveLocked:
            raise PageError(
                503,
                "The archive is busy: a crawl is merging new rows. Reload in a few seconds.",
            ) from None
        except ArchiveError as exc:
            raise PageError(503, str(exc)) from None
        try:
            yield con
        finally:
            self.keeper.release(con)

    # ---- search ---------------------------------------------------------------------------

    def _scope(self, request: Request, qm) -> tuple[Any, dict[str, Any]]:
        form = {
            "q": _param(request, "q").strip(),
            "outlet": _values(request, "outlet"),
            "collection": _values(request, "collection"),
            "language": _values(request, "language"),
            "since": _param(request, "since").strip(),
            "until": _param(request, "until").strip(),
        }
        since, until = _date(form["since"], "since"), _date(form["until"], "until")
        scope = None
        if qm is not None:
            scope = qm.Scope(
                outlets=form["outlet"],
                collections=form["collection"],
                languages=form["language"],
                since=since,
                until=until,
            )
        return scope, form

    def search(self, request: Request) -> HTMLResponse:
        qm = sources.query()
        ctx: dict[str, Any] = {"page": "search", "error": None, "error_pos": None, "result": None}
        try:
            scope, form = self._scope(request, qm)
        except PageError as exc:
            scope, form = None, {"q": "", "outlet": (), "collection": (), "language": ()}
            ctx["error"] = exc.message
        by = _param(request, "by", "day")
        by = by if by in BY else "day"
        norm = _param(request, "norm") == "1"
        try:
            page = max(1, min(int(_param(request, "page", "1") or 1), 10_000))
        except ValueError:
            page = 1
        ctx.update(form=form, by=by, norm=norm, pageno=page)
        size = self.config.page_size
        with self.db() as con:
            ctx["facets"] = read.facet_values(con)
            ctx["collections"] = _collections()
            if ctx["error"] is None and form["q"]:
                if qm is None:
                    ctx["error"] = sources.NOT_AVAILABLE["query"]
                else:
                    try:
                        result = qm.search(
                            con, form["q"], scope, limit=size, offset=(page - 1) * size
                        )
                        buckets = qm.count(con, form["q"], scope, by=by, normalize=True)
                    except qm.QuerySyntaxError as exc:
                        ctx["error"] = f"Query syntax: {exc}"
                        ctx["error_pos"] = getattr(exc, "position", None)
                    except (qm.QueryError, ArchiveError, ValueError) as exc:
                        ctx["error"] = str(exc)
                    else:
                        ctx["result"] = result
                        ctx["hits"] = [
                            {"hit": h, "snippet": _highlight(h.snippet or "", h.highlights)}
                            for h in result.hits
                        ]
                        ctx["chart"] = _attention_chart(form["q"], buckets, norm, by)
                        ctx["pages"] = (result.total + size - 1) // size
        base = {k: v for k, v in form.items() if v}
        ctx["link"] = lambda **kw: (
            "/?"
            + urlencode({**base, "by": by, **({"norm": "1"} if norm else {}), **kw}, doseq=True)
        )
        ctx["export"] = lambda fmt: "/export?" + urlencode({**base, "fmt": fmt}, doseq=True)
        return self.render(
            "search.html", status=400 if ctx.get("error_pos") is not None else 200, **ctx
        )

    def export(self, request: Request):
        qm, qe = sources.query(), sources.query_export()
        if qm is None or qe is None:
            raise PageError(404, sources.NOT_AVAILABLE["query"])
        fmt = _param(request, "fmt", "csv")
        if fmt not in ("csv", "jsonl"):
            raise PageError(400, "export format is csv or jsonl")
        scope, form = self._scope(request, qm)
        if not form["q"]:
            raise PageError(400, "give a query to export")
        fd, tmp = tempfile.mkstemp(prefix="newsarchive-export-", suffix=f".{fmt}")
        try:
            with self.db() as con, os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                qe.write_rows(con, form["q"], scope, fmt, fh)
        except qm.QuerySyntaxError as exc:
            os.unlink(tmp)
            raise PageError(400, f"Query syntax: {exc}") from None
        except (qm.QueryError, ValueError) as exc:
            os.unlink(tmp)
            raise PageError(400, str(exc)) from None
        except BaseException:
            os.unlink(tmp)
            raise
        media = "text/csv" if fmt == "csv" else "application/x-ndjson"
        return FileResponse(
            tmp,
            media_type=media,
            filename=f"newsarchive-export.{fmt}",
            background=BackgroundTask(os.unlink, tmp),
        )

    # ---- article ----------------------------------------------------------------------------

    def article(self, request: Request) -> HTMLResponse:
        article_id = _param(request, "id")
        with self.db() as con:
            art = read.article(con, article_id) if article_id else None
            if art is None:
                raise PageError(404, "no article with this id in the archive")
            vers = read.versions(con, art["canonical_url"] or art["url"])
            diff = sources.word_diff()
            rows = []
            for i, v in enumerate(vers):
                row = {"v": v, "diff": None}
                if i and diff is not None:
                    row["diff"] = _diff_html(diff(vers[i - 1]["text"] or "", v["text"] or ""))
                rows.append(row)
            story = _story_panel(con, article_id)
        return self.render(
            "article.html",
            page="article",
            a=art,
            versions=rows,
            diff_missing=None if sources.word_diff() else sources.NOT_AVAILABLE["diff"],
            story=story,
            replay=self.replay_link(art["url"], art["fetched_at"]),
            replay_missing=sources.NOT_AVAILABLE["replay"],
        )

    # ---- story ------------------------------------------------------------------------------

    def story(self, request: Request) -> HTMLResponse:
        story_id = _param(request, "id")
        sm = sources.stories()
        if sm is None:
            raise PageError(404, sources.NOT_AVAILABLE["stories"])
        diff = sources.word_diff()
        with self.db() as con:
            summary = _call_stories(sm.get_story, con, story_id) if story_id else None
            if summary is None:
                raise PageError(404, "no story with this id in the archive")
            members = _call_stories(sm.story_members, con, story_id) or []
            origin_id = getattr(summary, "origin_article_id", None)
            origin = read.article(con, origin_id) if origin_id else None
            rows = []
            for m in sorted(members, key=lambda m: (m.published is None, m.published or 0)):
                art = read.article(con, m.article_id)
                d = None
                if diff and origin and art and m.article_id != origin_id:
                    d = _diff_html(diff(origin["text"] or "", art["text"] or ""))
                rows.append(
                    {
                        "m": m,
                        "diff": d,
                        "replay": self.replay_link(m.url, art["fetched_at"] if art else None),
                    }
                )
        timeline = svg.timeline(
            [(m.outlet or "?", m.published, m.title or m.url or m.article_id) for m in members]
        )
        return self.render(
            "story.html",
            page="story",
            s=summary,
            rows=rows,
            origin=origin,
            timeline=timeline,
            diff_missing=None if diff else sources.NOT_AVAILABLE["diff"],
        )

    # ---- raw capture and replay ---------------------------------------------------------

    def capture(self, request: Request):
        from newsarchive.warc.scan import read_record

        capture_id = _param(request, "id")
        with self.db() as con:
            cap = read.capture(con, capture_id) if capture_id else None
        if cap is None:
            raise PageError(404, "no capture with this id in the archive")
        path = _warc_path(self.config.warc_dir, cap["warc_filename"])
        try:
            rec = read_record(path, int(cap["warc_offset"]), int(cap["warc_length"]))
        except (OSError, ValueError) as exc:
            raise PageError(404, f"the WARC record could not be read: {exc}") from None
        head = rec.http_head.decode("latin-1", "replace")
        try:
            body = rec.decoded_payload()
        except Exception:  # an unknown content coding: show what was stored
            body = rec.payload
        text = head + body.decode("utf-8", "replace")
        return PlainTextResponse(
            text,
            headers={
                "Content-Security-Policy": RAW_CSP,
                "X-Newsarchive-Warc": f"{cap['warc_filename']}@{cap['warc_offset']}",
            },
        )

    def replay(self, request: Request):
        capture_id = _param(request, "id")
        with self.db() as con:
            cap = read.capture(con, capture_id) if capture_id else None
        if cap is None:
            raise PageError(404, "no capture with this id in the archive")
        link = self.replay_link(cap["url"], cap["fetched_at"])
        if link is None:
            raise PageError(404, sources.NOT_AVAILABLE["replay"])
        return RedirectResponse(link, status_code=303)

    # ---- crawl health ---------------------------------------------------------------------

    def health(self, request: Request) -> HTMLResponse:
        try:
            days = max(2, min(int(_param(request, "days", "14") or 14), 365))
        except ValueError:
            days = 14
        with self.db() as con:
            runs = read.crawl_runs(con)
            labels, series = read.articles_per_outlet_day(con, days=days)
            failures = read.failures_by_kind(con)
            last_good = read.last_good_run(con)
        warnings = read.volume_drops(labels, series)
        chart = svg.line_chart(
            labels, series, title=f"Articles captured per outlet per day (last {days} days)"
        )
        return self.render(
            "health.html",
            page="health",
            runs=runs,
            chart=chart,
            legend=svg.legend(list(series)),
            failures=failures,
            last_good=last_good,
            warnings=warnings,
            days=days,
        )


def _collections() -> list[str]:
    from newsarchive.registry import load_outlets

    try:
        outlets = load_outlets()
    except Exception:  # a broken registry only hides the facet
        return []
    return sorted({c for o in outlets.values() for c in getattr(o, "collections", ())})


def _attention_chart(q: str, buckets: list, norm: bool, by: str) -> dict[str, Any]:
    labels = [b.key for b in buckets]
    values = [b.share if norm else b.n for b in buckets]
    what = "share of all articles" if norm else "matching articles"
    return {
        "svg": svg.line_chart(
            labels,
            {q: values},
            title=f"Attention over time: {what} per {by}",
            y_label=what,
            percent=norm,
        ),
        "points": len(labels),
    }


def _call_stories(fn, *args):
    """Stories tables may be absent in an older archive: treat that as no story."""
    try:
        return fn(*args)
    except duckdb.CatalogException:
        return None


def _story_panel(con: duckdb.DuckDBPyConnection, article_id: str) -> dict[str, Any]:
    sm = sources.stories()
    if sm is None:
        return {"missing": sources.NOT_AVAILABLE["stories"]}
    story_id = _call_stories(sm.story_of_article, con, article_id)
    if not story_id:
        return {"missing": None, "summary": None}
    return {
        "missing": None,
        "summary": _call_stories(sm.get_story, con, story_id),
        "members": _call_stories(sm.story_members, con, story_id) or [],
    }


def _warc_path(warc_dir: Path, name: str | None) -> Path:
    """The WARC file a capture row names, refused unless it lies inside ``warc_dir``."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise PageError(404, "the capture names no WARC file inside the archive directory")
    root = warc_dir.resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise PageError(404, "the capture names no WARC file inside the archive directory")
    return path


# ---- middleware and app ---------------------------------------------------------------------


class SecurityHeaders:
    """CSP and friends on every response; oversized request targets refused up front."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > MAX_URL:
            resp = PlainTextResponse("request target too long", status_code=414)
            await resp(scope, receive, self._wrap(send))
            return
        if scope["method"] not in ("GET", "HEAD"):
            resp = PlainTextResponse("this archive is read-only", status_code=405)
            await resp(scope, receive, self._wrap(send))
            return
        await self.app(scope, receive, self._wrap(send))

    @staticmethod
    def _wrap(send: Send) -> Send:
        async def wrapped(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"content-security-policy": CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"no-referrer",
                    b"x-frame-options": b"DENY",
                    b"cross-origin-opener-policy": b"same-origin",
                }
                for k, v in extra.items():
                    if k not in names:
                        headers.append((k, v))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped


def create_app(config: WebConfig) -> Starlette:
    pages = Pages(config)

    async def page_error(request: Request, exc: PageError) -> HTMLResponse:
        return pages.render("error.html", status=exc.status, page="error", message=exc.message)

    async def http_error(request: Request, exc: HTTPException) -> HTMLResponse:
        msg = "no such page" if exc.status_code == 404 else str(exc.detail)
        return pages.render("error.html", status=exc.status_code, page="error", message=msg)

    routes = [
        Route("/", pages.search),
        Route("/export", pages.export),
        Route("/article", pages.article),
        Route("/story", pages.story),
        Route("/capture", pages.capture),
        Route("/replay", pages.replay),
        Route("/health", pages.health),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={PageError: page_error, HTTPException: http_error},
    )
    app.state.config = config
    return app
