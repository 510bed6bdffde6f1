"""``newsarchive sample QUERY --n 20 --seed 1``: a reproducible random sample to read."""

from __future__ import annotations

import argparse
import sys

from newsarchive.commands._query_args import add_scope_args, emit, errors, open_archive, scope_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="reproducible random sample of matching articles")
    p.add_argument("query")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    add_scope_args(p)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.query import sample

    try:
        scope = scope_from(args)
        con = open_archive(args)
        try:
            rows = sample(con, args.query, scope, n=args.n, seed=args.seed)
        finally:
            con.close()
    except errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cols = ["article_id", "outlet", "published", "url", "title"]
    emit(cols, [tuple(r[c] for c in cols) for r in rows], args.format)
    return 0
