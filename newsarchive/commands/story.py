"""``newsarchive story ID|URL [--diff]``: one story's members in time order."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("story", help="show one story: members, relations, diff to the origin")
    p.add_argument("ref", help="story id, article id or article URL")
    p.add_argument(
        "--diff",
        nargs="?",
        const="all",
        metavar="ARTICLE",
        help="word diff against the origin (of every member, or of the one given)",
    )
    p.add_argument("--color", action="store_true", help="colour the diff")
    p.add_argument("--db", help="archive file (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the lock")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.index.db import ArchiveError, connect, resolve_db_path
    from newsarchive.stories.diff import render, word_diff
    from newsarchive.stories.query import article_text, get_story, resolve, story_members

    try:
        con = connect(resolve_db_path(args.db), read_only=True, timeout=args.timeout)
    except ArchiveError as exc:
        print(f"newsarchive story: {exc}", file=sys.stderr)
        return 1
    try:
        sid = resolve(con, args.ref)
        if sid is None:
            print(f"newsarchive story: no story for {args.ref!r}", file=sys.stderr)
            return 1
        story = get_story(con, sid)
        members = story_members(con, sid)
        print(f"story {sid}: {story.size} articles, {len(story.outlets)} outlets")
        print(f"title: {story.title or ''}")
        for m in members:
            when = m.published.strftime("%Y-%m-%d %H:%M") if m.published else "?"
            print(f"  {when}  {m.outlet or '?':16} {m.relation:10} {m.similarity:5.2f}  {m.url}")
        if args.diff:
            origin = article_text(con, story.origin_article_id)
            for m in members:
                if m.relation == "origin" or args.diff not in ("all", m.article_id, m.url):
                    continue
                print(f"\n--- origin {story.origin_article_id}\n+++ {m.outlet} {m.url}")
                print(render(word_diff(origin, article_text(con, m.article_id)), args.color))
    finally:
        con.close()
    return 0
