"""``newsarchive demo``: crawl the offline replica of every outlet and show the archive.

Starts the replica on loopback, runs every outlet spider through it with fast settings,
leaves ``warc/*.warc.gz`` and ``archive.duckdb`` in the working directory, then prints a
summary, one SQL query, one full-text search and the commands to try next.

The replica's clock and the crawl's max-age window are pinned to one time (``--clock``,
default ``DEMO_CLOCK``), so the site does not move between runs: a second ``demo`` finds
every article archived and adds nothing ("added 0"). Each run writes its ``crawl_runs`` row.

Then a second crawl fetches every article again (seen-set off) to show what revisits cost:
each request carries its earlier capture's validators, unchanged pages and requisites answer
304 and become revisit records, and the version rule keeps one article
per URL, so the second crawl adds no article either (``--no-recrawl`` skips it).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

DEMO_CLOCK = "2026-06-01T12:00:00Z"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="crawl the offline replica of all outlets (no internet)")
    p.add_argument("--db", default="archive.duckdb", help="index file (default archive.duckdb)")
    p.add_argument("--warc-dir", default="warc", help="WARC directory (default warc/)")
    p.add_argument("--scale", type=int, default=30, help="articles per outlet in the replica")
    p.add_argument("--seed", type=int, default=1, help="replica seed")
    p.add_argument("--outlets", help="comma-separated outlets (default: all)")
    p.add_argument(
        "--no-recrawl",
        dest="recrawl",
        action="store_false",
        help="skip the second crawl that fetches every article again (seen-set off) to show "
        "revisits and the WARC bytes per article of a second crawl",
    )
    p.add_argument(
        "--clock",
        help=f"the replica's and the crawl's 'now' (ISO time; default $NEWSARCHIVE_NOW, "
        f"else {DEMO_CLOCK}): pinned so a second run adds nothing",
    )
    p.set_defaults(func=run)


def _table(rows: list[tuple], headers: list[str]) -> str:
    cells = [headers] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(headers))) for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("    " + line for line in lines)


def run(args: argparse.Namespace) -> int:
    import os

    from newsarchive.clock import ClockError, parse_clock
    from newsarchive.crawl import run_recorded
    from newsarchive.locks import LockHeld, OutletLocks
    from newsarchive.registry import load_outlets
    from newsarchive.replica.process import spawn_replica
    from newsarchive.settings import replica_overrides

    keys = [k.strip() for k in args.outlets.split(",")] if args.outlets else sorted(load_outlets())
    try:
        clock = parse_clock(args.clock or os.environ.get("NEWSARCHIVE_NOW") or DEMO_CLOCK)
    except ClockError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    db = Path(args.db)
    locks = OutletLocks(db.parent / f".{db.name}.locks", keys)
    try:
        locks.acquire()
    except LockHeld as exc:
        print(f"demo: refused: {exc}; not starting a second run", file=sys.stderr)
        return 75
    t0 = time.time()
    try:
        try:
            replica, proxy = spawn_replica(args.scale, args.seed, clock=clock.isoformat())
        except RuntimeError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 1
        print(
            f"replica of {len(keys)} outlets listening at {proxy} (nothing leaves loopback), "
            f"clock pinned at {clock.isoformat()}"
        )
        overrides = {
            **replica_overrides(),
            "NEWSARCHIVE_DB": args.db,
            "NEWSARCHIVE_WARC_DIR": args.warc_dir,
            "NEWSARCHIVE_NOW": clock.isoformat(),
            "LOG_LEVEL": "WARNING",
        }
        env = {"http_proxy": proxy, "https_proxy": proxy, "no_proxy": ""}
        try:
            run = run_recorded(keys, overrides, env, db)
            took = time.time() - t0
            locks.release()  # the second crawl is a `newsarchive crawl` and takes them itself
            again = None
            if args.recrawl:
                again = _second_crawl(args, keys, {**env, "NEWSARCHIVE_NOW": clock.isoformat()})
        finally:
            replica.terminate()
            replica.wait(timeout=30)
    finally:
        locks.release()
    result, stats = run.result, run.stats
    warcs = sorted(Path(args.warc_dir).glob("*.warc.gz"))
    warc_bytes = sum(p.stat().st_size for p in warcs)
    print(
        f"\ncrawled {len(keys)} outlets in {took:.1f}s: {stats['pages']} pages, "
        f"{stats['articles']} article pages, {stats['errors']} discovery problems recorded"
    )
    print(f"WARC: {len(warcs)} files, {warc_bytes / 1e6:.1f} MB in {args.warc_dir}/")
    added = "?" if run.added is None else run.added
    print(f"added {added} articles to {args.db} this run (run {stats['run_id']} in crawl_runs)")
    for warning in run.warnings:
        print(f"warning: {warning}")
    if again:
        print(
            f"second crawl (every article again): {again['pages']} pages, "
            f"{again['articles'] + again.get('unchanged_articles', 0)} article pages "
            f"({again.get('unchanged_articles', 0)} unchanged: 304), "
            f"added {again.get('added', '?')} articles"
        )
    for outlet, why in result.failures.items():
        print(f"failed: {outlet}: {why}")
    per_outlet = sorted(
        ((k, v["articles"], v["pages"]) for k, v in stats["outlets"].items()), key=lambda r: -r[1]
    )
    print("articles fetched this run, per outlet:")
    print(_table(per_outlet, ["outlet", "articles", "pages"]))
    _show_index(args.db)
    _requisite_table(stats, again)
    print(f"""
next:
    newsarchive sql "SELECT outlet, title, published FROM articles ORDER BY published DESC LIMIT 5" --db {args.db}
    newsarchive search "council vote" --limit 5 --db {args.db}
    newsarchive stories --min-outlets 2 --db {args.db}      (then: newsarchive story ID --diff)
    newsarchive count "council" --by day --normalize --db {args.db}
    newsarchive show URL --text --warc-dir {args.warc_dir}       (any url from the captures table)
    newsarchive serve --db {args.db} --warc-dir {args.warc_dir}   (browse it: http://127.0.0.1:8000/)
    newsarchive warc check {args.warc_dir}
    newsarchive replay --warc-dir {args.warc_dir}    (browse it at http://127.0.0.1:8080/news/)
    newsarchive export wacz demo.wacz --outlet guardian --db {args.db} --warc-dir {args.warc_dir}
    duckdb {args.db}                                  (the archive opens without project code)
    newsarchive crawl --outlets nypost,mirror        (the real outlets: polite, needs internet)""")
    return 0 if result.ok else 1


def _second_crawl(args: argparse.Namespace, keys: list[str], env: dict) -> dict | None:
    """Crawl every article again (seen-set off), in a child process: the reactor runs once per
    process. Each request carries the validators of its earlier capture, so unchanged pages
    and requisites come back as 304s and become server-not-modified revisit records."""
    import json
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stats.json"
        cmd = [sys.executable, "-m", "newsarchive", "crawl", "--outlets", ",".join(keys)]
        cmd += ["--fast", "--db", args.db, "--warc-dir", args.warc_dir, "--stats-json", str(out)]
        cmd += ["-s", "NEWSARCHIVE_SEEN=False"]
        cmd += ["-s", "LOG_LEVEL=WARNING"]
        print("\nsecond crawl: every article again (seen-set off) to show revisits…")
        proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            print(f"second crawl failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        return json.loads(out.read_text())


def _requisite_table(first: dict, second: dict | None) -> None:
    rows = []
    for name, s in (("first", first), ("second", second)):
        if not s:
            continue
        outlets = s["outlets"].values()
        total = sum(o.get("warc_bytes", 0) for o in outlets)
        req = sum(o.get("requisite_warc_bytes", 0) for o in outlets)
        n = s["articles"] + s.get("unchanged_articles", 0)
        per = f"{total / n / 1e3:.1f} kB" if n else "-"
        rows.append((name, n, f"{total / 1e6:.2f} MB", f"{req / 1e6:.2f} MB", per))
    print("\nWARC bytes per article, page requisites (images, CSS) included:")
    print(_table(rows, ["crawl", "articles", "WARC bytes", "of which requisites", "per article"]))


def _show_index(db: str) -> None:
    try:
        import duckdb

        from newsarchive.index.db import connect
        from newsarchive.query import search
        from newsarchive.stories.query import list_stories
    except ImportError as exc:
        print(f"(index not available: {exc})")
        return
    con = connect(db, read_only=True, timeout=30)
    try:
        query = (
            "SELECT outlet, count(*) AS articles, max(published) AS newest FROM articles "
            "WHERE is_article GROUP BY outlet ORDER BY articles DESC, outlet LIMIT 8"
        )
        print(f"\nSQL> {query}")
        print(_table(con.execute(query).fetchall(), ["outlet", "articles", "newest"]))
        total = con.execute("SELECT count(*) FROM captures").fetchone()[0]
        print(f"    ({total} captures indexed in {db})")
        titles = [
            r[0]
            for r in con.execute(
                "SELECT title FROM articles WHERE is_article AND title IS NOT NULL LIMIT 200"
            ).fetchall()
        ]
        words: dict[str, int] = {}
        for title in titles:
            for w in re.findall(r"[A-Za-z]{6,}", title):
                words[w.lower()] = words.get(w.lower(), 0) + 1
        if not words:
            return
        term = max(sorted(words), key=words.get)
        print(f'\nsearch> "{term}"  (BM25 over title and text)')
        for hit in search(con, term, limit=3).hits:
            date = hit.published.date() if hit.published else "?"
            print(f"    {hit.title}  [{hit.outlet}, {date}]\n      {hit.url}\n      {hit.snippet}")
        try:
            stories = list_stories(con, min_outlets=2, limit=3)
        except duckdb.Error:  # story detection switched off: no tables
            stories = []
        if stories:
            print("\nstories> the same story across outlets (newsarchive stories --min-outlets 2)")
            for st in stories:
                print(
                    f"    {st.story_id}  {st.size} articles, {len(st.outlets)} outlets, "
                    f"first: {st.first_outlet}  {st.title or ''}"
                )
    finally:
        con.close()
