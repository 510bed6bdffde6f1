"""``newsarchive top-outlets QUERY``: outlets with the most matching articles."""

from __future__ import annotations

import argparse
import sys

from newsarchive.commands._query_args import add_scope_args, emit, errors, open_archive, scope_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("top-outlets", help="outlets with the most matching articles")
    p.add_argument("query")
    p.add_argument("--n", type=int, default=20)
    add_scope_args(p)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--plot", help="also draw a bar chart to FILE.svg")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.query import top_outlets

    try:
        scope = scope_from(args)
        con = open_archive(args)
        try:
            rows = top_outlets(con, args.query, scope, n=args.n)
        finally:
            con.close()
        if args.plot:
            from newsarchive.query.plot import write_plot

            write_plot(
                args.plot,
                [b.key for b in rows],
                [b.n for b in rows],
                f"top outlets: {args.query}",
                "articles",
            )
    except errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emit(
        ["outlet", "n", "total", "share"],
        [(b.key, b.n, b.total, b.share) for b in rows],
        args.format,
    )
    return 0
