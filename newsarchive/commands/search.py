"""``newsarchive search``: BM25 full-text search over archived articles."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="full-text search of archived articles (BM25)")
    p.add_argument("query", nargs="?", help="words to search for")
    p.add_argument("--outlet", action="append", help="only this outlet key (repeatable)")
    p.add_argument("--since", help="published (or fetched) on/after this date, e.g. 2024-05-01")
    p.add_argument("--until", help="published (or fetched) before this date")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--rebuild", action="store_true", help="rebuild the full-text index first")
    p.add_argument("--db", help="archive file (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the lock")
    p.set_defaults(func=run)


def _date(value: str | None, flag: str) -> datetime | None:
    from newsarchive.index.rows import utc_iso

    if not value:
        return None
    iso = utc_iso(value)
    if iso is None:
        raise ValueError(f"{flag} {value!r} is not a date (use YYYY-MM-DD or ISO 8601)")
    return datetime.fromisoformat(iso).astimezone(UTC)


def run(args: argparse.Namespace) -> int:
    from newsarchive.index.db import ArchiveError, connect, resolve_db_path
    from newsarchive.index.fts import fts_status, rebuild_fts, search

    path = resolve_db_path(args.db)
    try:
        since, until = _date(args.since, "--since"), _date(args.until, "--until")
        if not args.query and not args.rebuild:
            raise ValueError("give a query (or --rebuild)")
        if args.rebuild:
            if not path.exists():
                raise ArchiveError(f"no archive at {path} (crawl first, or pass --db)")
            built = rebuild_fts(path, timeout=max(args.timeout, 60.0), force=True)
            print(
                "full-text index rebuilt" if built else "full-text index current", file=sys.stderr
            )
            if not args.query:
                return 0
        con = connect(path, read_only=True, timeout=args.timeout)
        try:
            _check_outlets(con, _outlets(args.outlet))
            exists, current = fts_status(con)
        finally:
            con.close()
        if not exists:  # first search: build it (needs the write lock briefly)
            print("building the full-text index…", file=sys.stderr)
            rebuild_fts(path, timeout=max(args.timeout, 60.0))
        elif not current:
            print(
                "note: articles were added since the full-text index was built; run "
                "`newsarchive search --rebuild` to include them",
                file=sys.stderr,
            )
        tty = sys.stdout.isatty() and args.format == "text"
        marks = ("\x1b[1;33m", "\x1b[0m") if tty else ("**", "**")
        con = connect(path, read_only=True, timeout=args.timeout)
        try:
            hits = search(
                con,
                args.query,
                outlet=_outlets(args.outlet),
                since=since,
                until=until,
                limit=args.limit,
                marks=marks,
            )
        finally:
            con.close()
    except (ValueError, ArchiveError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        json.dump([h.to_dict() for h in hits], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    if not hits:
        print("no matches", file=sys.stderr)
        return 0
    for n, h in enumerate(hits, 1):
        when = h.published or h.fetched_at
        print(f"{n}. {h.title or '(untitled)'}")
        print(
            f"   {h.outlet or '?'} · {when.date().isoformat() if when else '?'} · {h.url}"
            f" · score {h.score:.3f}"
        )
        print(f"   {h.snippet}")
        print(f"   replay: {_replay(h)}\n")
    return 0


def _check_outlets(con, wanted: list[str] | None) -> None:
    """ValueError naming an ``--outlet`` that neither the archive nor the registry knows."""
    if not wanted:
        return
    import difflib

    known = {r[0] for r in con.execute("SELECT DISTINCT outlet FROM articles").fetchall() if r[0]}
    try:
        from newsarchive.registry import load_outlets

        known |= set(load_outlets())
    except Exception:  # noqa: BLE001 - the archive's own outlets are enough to check against
        pass
    for name in wanted:
        if name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=5, cutoff=0.5)
        hint = f"; did you mean: {', '.join(close)}?" if close else ""
        if not close and known:
            shown = sorted(known)
            hint = f"; known outlets: {', '.join(shown[:15])}" + (" ..." if len(shown) > 15 else "")
        raise ValueError(f"unknown outlet {name!r}{hint}")
def _replay(hit) -> str:
    from newsarchive.replay import default_base, replay_url

    ts = hit.fetched_at.strftime("%Y%m%d%H%M%S") if hit.fetched_at else ""
    return replay_url(default_base(), hit.url, ts)


def _outlets(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [o.strip() for v in values for o in v.split(",") if o.strip()]
