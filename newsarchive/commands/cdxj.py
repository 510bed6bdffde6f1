"""``newsarchive cdxj``: (re)build the pywb-format CDXJ index beside each WARC file."""

from __future__ import annotations

import argparse
import sys

from newsarchive.commands.warc import expand
from newsarchive.warc.records import WarcFormatError
from newsarchive.warc.scan import write_index


def register(subparsers) -> None:
    p = subparsers.add_parser("cdxj", help="write <file>.cdxj indexes for WARC files")
    p.add_argument("paths", nargs="*", default=["warc"], help="WARC files or directories")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = expand(args.paths)
    if not paths:
        return 2
    failed = 0
    for path in paths:
        skipped: list[str] = []
        try:
            out = write_index(path, skipped)
        except WarcFormatError as exc:
            print(f"FAILED {exc}", file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:
            print(f"FAILED {path}: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
            continue
        lines = sum(1 for _ in open(out, encoding="utf-8"))
        print(f"{out} ({lines} entries)")
        for line in skipped:
            print(f"  skipped {path} {line}", file=sys.stderr)
    return 1 if failed else 0
