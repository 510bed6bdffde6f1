"""``newsarchive stories``: the biggest stories across outlets; ``stories assign --jsonl``
clusters an outside collection (no archive needed)."""

from __future__ import annotations

import argparse
import json
import os
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stories",
        help="list the biggest stories across outlets, or 'stories assign --jsonl FILE'",
        description="List stories (same article republished, syndicated or rewritten across "
        "outlets), biggest first. 'stories assign --jsonl FILE' clusters a JSONL collection "
        '({"id","title","text","published","outlet"} per line) and prints one JSON line per '
        "article on stdout.",
    )
    p.add_argument("action", nargs="?", choices=["assign"], help="assign: cluster a JSONL file")
    p.add_argument("--jsonl", help="assign: input file ('-' for stdin)")
    p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="assign: sketching processes"
    )
    p.add_argument("--since", help="first published on or after (ISO date)")
    p.add_argument("--until", help="first published before (ISO date)")
    p.add_argument("--min-outlets", type=int, default=2, help="at least N outlets (default 2)")
    p.add_argument("--outlet", action="append", default=[], help="carried by this outlet")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="one JSON object per story")
    p.add_argument("--db", help="archive file (default archive.duckdb or $NEWSARCHIVE_DB)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the lock")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "assign":
        return _assign(args)
    from newsarchive.index.db import ArchiveError, connect, resolve_db_path
    from newsarchive.stories.query import list_stories

    try:
        con = connect(resolve_db_path(args.db), read_only=True, timeout=args.timeout)
    except ArchiveError as exc:
        print(f"newsarchive stories: {exc}", file=sys.stderr)
        return 1
    try:
        rows = list_stories(
            con, args.since, args.until, args.min_outlets, tuple(args.outlet), args.limit
        )
    except Exception as exc:  # noqa: BLE001 - a bad date from the user, say which
        print(f"newsarchive stories: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    finally:
        con.close()
    for s in rows:
        if args.json:
            d = dict(s.__dict__)
            d["first_published"] = s.first_published.isoformat() if s.first_published else None
            print(json.dumps(d, ensure_ascii=False))
        else:
            when = s.first_published.strftime("%Y-%m-%d %H:%M") if s.first_published else "?"
            print(
                f"{s.story_id}  {s.size:3d} articles  {len(s.outlets):2d} outlets  "
                f"first {s.first_outlet} {when}  {s.title or ''}"
            )
            print(f"    {', '.join(s.outlets)}")
    if not rows and not args.json:
        print("no stories match", file=sys.stderr)
    return 0


def _assign(args: argparse.Namespace) -> int:
    from newsarchive.stories.assign import assign_lines

    if not args.jsonl:
        print("newsarchive stories assign: --jsonl FILE is required", file=sys.stderr)
        return 2
    name = "<stdin>" if args.jsonl == "-" else args.jsonl
    errors = 0

    def on_error(n: int, msg: str) -> None:
        nonlocal errors
        errors += 1
        print(f"{name}:{n}: skipped: {msg}", file=sys.stderr)

    try:
        f = (
            sys.stdin if args.jsonl == "-" else open(args.jsonl, encoding="utf-8", errors="replace")  # noqa: SIM115
        )
    except OSError as exc:
        print(f"newsarchive stories assign: cannot read {name}: {exc.strerror}", file=sys.stderr)
        return 2
    out = sys.stdout
    with f:
        for rec in assign_lines(f, on_error, workers=max(1, args.workers)):
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    out.flush()
    return 1 if errors else 0
