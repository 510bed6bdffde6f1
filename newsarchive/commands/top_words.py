"""``newsarchive top-words QUERY``: the words most used by matching articles."""

from __future__ import annotations

import argparse
import sys

from newsarchive.commands._query_args import add_scope_args, emit, errors, open_archive, scope_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("top-words", help="most frequent words in matching articles")
    p.add_argument("query")
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--docs", type=int, default=2000, help="best-ranked articles read")
    add_scope_args(p)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--plot", help="also draw a bar chart to FILE.svg")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.query import top_words

    try:
        scope = scope_from(args)
        con = open_archive(args)
        try:
            words = top_words(con, args.query, scope, n=args.n, docs=args.docs)
        finally:
            con.close()
        if args.plot:
            from newsarchive.query.plot import write_plot

            write_plot(
                args.plot,
                [w for w, _ in words],
                [c for _, c in words],
                f"top words: {args.query}",
                "occurrences",
            )
    except errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emit(["word", "count"], words, args.format)
    return 0
