"""``newsarchive search``: ranked search with the query language (docs/QUERY.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from newsarchive.commands._query_args import add_scope_args, errors, open_archive, scope_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search archived articles (query language, BM25)")
    p.add_argument("query", nargs="?", help="e.g. '\"climate change\" -denial outlet:bbc'")
    add_scope_args(p)
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--sort", choices=("relevance", "date"), default="relevance")
    p.add_argument("--all-versions", action="store_true", help="every capture, not the latest")
    p.add_argument("--collapse", choices=("story",), help="one hit per story")
    p.add_argument("--format", choices=("text", "table", "json", "csv"), default="text")
    p.add_argument(
        "--replay-base",
        default=os.environ.get("NEWSARCHIVE_REPLAY_BASE", "http://localhost:8080/newsarchive"),
        help="replay server collection URL used for the replay links",
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild the query index first")
    p.set_defaults(func=run)


def replay_link(base: str, url: str | None, when) -> str | None:
    if not url or when is None:
        return None
    return f"{base.rstrip('/')}/{when.strftime('%Y%m%d%H%M%S')}/{url}"


def run(args: argparse.Namespace) -> int:
    from newsarchive.index.db import resolve_db_path
    from newsarchive.query import search
    from newsarchive.query.index import rebuild_index

    try:
        scope = scope_from(args)
        if not args.query and not args.rebuild:
            raise ValueError("give a query (or --rebuild)")
        if args.rebuild:
            path = resolve_db_path(args.db)
            if not path.exists():
                raise ValueError(f"no archive at {path} (crawl first, or pass --db)")
            n = rebuild_index(path, timeout=max(args.timeout, 60.0))
            print(f"query index rebuilt: {n} articles", file=sys.stderr)
            if not args.query:
                return 0
        con = open_archive(args)
        try:
            res = search(
                con,
                args.query,
                scope,
                sort=args.sort,
                limit=args.limit,
                offset=args.offset,
                all_versions=args.all_versions,
                collapse=args.collapse,
            )
        finally:
            con.close()
    except errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        hits = []
        for h in res.hits:
            d = h.to_dict()
            d["replay_url"] = replay_link(args.replay_base, h.url, h.fetched_at)
            hits.append(d)
        json.dump({"total": res.total, "hits": hits}, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    if args.format in ("csv", "table"):
        from newsarchive.commands._query_args import emit

        cols = ["score", "outlet", "published", "fetched_at", "title", "url", "replay_url"]
        emit(
            cols,
            [
                (
                    h.score,
                    h.outlet,
                    h.published,
                    h.fetched_at,
                    h.title,
                    h.url,
                    replay_link(args.replay_base, h.url, h.fetched_at),
                )
                for h in res.hits
            ],  # fmt: skip
            args.format,
        )
        return 0
    print(f"{res.total} matching articles", file=sys.stderr)
    tty = sys.stdout.isatty()
    for n, h in enumerate(res.hits, 1 + args.offset):
        snip = h.snippet
        if tty:  # marks from the offsets, terminal only
            for s, e in reversed(h.highlights):
                snip = snip[:s] + "\x1b[1;33m" + snip[s:e] + "\x1b[0m" + snip[e:]
        pub = h.published.date().isoformat() if h.published else "?"
        cap = h.fetched_at.strftime("%Y-%m-%d %H:%M") if h.fetched_at else "?"
        print(f"{n}. {h.title or '(untitled)'}")
        print(f"   {h.outlet or '?'} · published {pub} · captured {cap} · score {h.score:.3f}")
        print(f"   {h.url}")
        link = replay_link(args.replay_base, h.url, h.fetched_at)
        if link:
            print(f"   replay: {link}")
        print(f"   {snip}\n")
    return 0
