"""``newsarchive demo``: crawl the offline replica of every outlet and show the archive.

Starts the replica on loopback, runs every outlet spider through it with fast settings,
leaves ``warc/*.warc.gz`` and ``archive.duckdb`` in the working directory, then prints a
summary, one SQL query, one full-text search and the commands to try next.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="crawl the offline replica of all outlets (no internet)")
    p.add_argument("--db", default="archive.duckdb", help="index file (default archive.duckdb)")
    p.add_argument("--warc-dir", default="warc", help="WARC directory (default warc/)")
    p.add_argument("--scale", type=int, default=30, help="articles per outlet in the replica")
    p.add_argument("--seed", type=int, default=1, help="replica seed")
    p.add_argument("--outlets", help="comma-separated outlets (default: all)")
    p.set_defaults(func=run)


def _table(rows: list[tuple], headers: list[str]) -> str:
    cells = [headers] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(headers))) for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("    " + line for line in lines)


def run(args: argparse.Namespace) -> int:
    from newsarchive.crawl import run_crawl
    from newsarchive.registry import load_outlets
    from newsarchive.replica.process import spawn_replica
    from newsarchive.report import run_stats
    from newsarchive.settings import replica_overrides

    keys = [k.strip() for k in args.outlets.split(",")] if args.outlets else sorted(load_outlets())
    t0 = time.time()
    try:
        replica, proxy = spawn_replica(args.scale, args.seed)
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    print(f"replica of {len(keys)} outlets listening at {proxy} (nothing leaves loopback)")
    overrides = {
        **replica_overrides(),
        "NEWSARCHIVE_DB": args.db,
        "NEWSARCHIVE_WARC_DIR": args.warc_dir,
        "LOG_LEVEL": "WARNING",
    }
    env = {"http_proxy": proxy, "https_proxy": proxy, "no_proxy": ""}
    try:
        result = run_crawl(keys, overrides, env)
    finally:
        replica.terminate()
        replica.wait(timeout=30)
    stats = run_stats(result)
    warcs = sorted(Path(args.warc_dir).glob("*.warc.gz"))
    warc_bytes = sum(p.stat().st_size for p in warcs)
    print(
        f"\ncrawled {len(keys)} outlets in {time.time() - t0:.1f}s: {stats['pages']} pages, "
        f"{stats['articles']} article pages, {stats['errors']} discovery problems recorded"
    )
    print(f"WARC: {len(warcs)} files, {warc_bytes / 1e6:.1f} MB in {args.warc_dir}/")
    per_outlet = sorted(
        ((k, v["articles"], v["pages"]) for k, v in stats["outlets"].items()), key=lambda r: -r[1]
    )
    print("articles fetched this run, per outlet:")
    print(_table(per_outlet, ["outlet", "articles", "pages"]))
    _show_index(args.db)
    print(f"""
next:
    newsarchive sql "SELECT outlet, title, published FROM articles ORDER BY published DESC LIMIT 5" --db {args.db}
    newsarchive search "council vote" --limit 5 --db {args.db}
    newsarchive show URL --text --warc-dir {args.warc_dir}       (any url from the captures table)
    newsarchive serve --db {args.db} --warc-dir {args.warc_dir}   (browse it: http://127.0.0.1:8000/)
    newsarchive warc check {args.warc_dir}
    duckdb {args.db}                                  (the archive opens without project code)
    newsarchive crawl --outlets nypost,mirror        (the real outlets: polite, needs internet)""")
    return 0 if result.ok else 1


def _show_index(db: str) -> None:
    try:
        from newsarchive.index.db import connect
        from newsarchive.index.fts import search
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
        for hit in search(con, term, limit=3):
            date = hit.published.date() if hit.published else "?"
            print(f"    {hit.title}  [{hit.outlet}, {date}]\n      {hit.url}\n      {hit.snippet}")
    finally:
        con.close()
