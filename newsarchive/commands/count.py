"""``newsarchive count QUERY --by day``: attention over time, outlets, languages, countries."""

from __future__ import annotations

import argparse
import sys

from newsarchive.commands._query_args import add_scope_args, emit, errors, open_archive, scope_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("count", help="count matching articles per day/week/month/outlet/...")
    p.add_argument("query", help="query ('*' for every article)")
    p.add_argument(
        "--by", choices=("day", "week", "month", "outlet", "lang", "country"), default="day"
    )
    p.add_argument(
        "--normalize", action="store_true",
        help="share of all articles of the same outlets in each bucket (empty buckets too)",
    )  # fmt: skip
    add_scope_args(p)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--plot", help="also draw a bar chart to FILE.svg")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.query import count

    try:
        scope = scope_from(args)
        con = open_archive(args)
        try:
            buckets = count(con, args.query, scope, by=args.by, normalize=args.normalize)
        finally:
            con.close()
        if args.plot:
            from newsarchive.query.plot import write_plot

            vals = [b.share if args.normalize else b.n for b in buckets]
            write_plot(
                args.plot, [b.key for b in buckets], vals, f"{args.query} by {args.by}",
                "share of articles" if args.normalize else "articles",
            )  # fmt: skip
    except errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emit(
        [args.by, "n", "total", "share"],
        [(b.key, b.n, b.total, b.share) for b in buckets],
        args.format,
    )
    return 0
