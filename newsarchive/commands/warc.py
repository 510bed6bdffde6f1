"""``newsarchive warc check|repair``: validate WARC files, or cut torn tails and re-index.

``check`` goes beyond digests: it also verifies that stored HTTP headers describe the stored
body (Content-Length, no chunked Transfer-Encoding on a de-chunked body, Content-Encoding
that really decodes), since pywb replay breaks on such mismatches while ``warcio check``
passes them.
"""

from __future__ import annotations

import argparse
import sys

from newsarchive.warc.records import WarcFormatError
from newsarchive.warc.scan import FileInUse, RepairRefused, check_file, repair_file, warc_paths


def register(subparsers) -> None:
    p = subparsers.add_parser("warc", help="check or repair WARC files")
    sub = p.add_subparsers(dest="warc_command", metavar="ACTION", required=True)
    c = sub.add_parser("check", help="validate WARC files (exit 1 when any is bad)")
    c.add_argument("paths", nargs="*", default=["warc"], help="WARC files or directories")
    c.add_argument("-q", "--quiet", action="store_true", help="only report bad files")
    c.set_defaults(func=run_check)
    r = sub.add_parser(
        "repair",
        help="cut torn tails and garbage, finish .open files, rebuild CDXJ (original kept as .bak)",
    )
    r.add_argument("paths", nargs="*", default=["warc"], help="WARC files or directories")
    r.add_argument(
        "--dry-run", "-n", action="store_true", help="say what would be cut, change nothing"
    )
    r.add_argument(
        "--no-backup", action="store_true", help="do not keep the original as <name>.bak"
    )
    r.add_argument(
        "--recompress",
        action="store_true",
        help="rewrite a WARC gzipped as one stream with one gzip member per record",
    )
    r.set_defaults(func=run_repair)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def expand(inputs: list[str]) -> list:
    """The WARC files named or found in directories; says so when there are none."""
    paths = warc_paths(inputs)
    if not paths:
        print("no WARC files found", file=sys.stderr)
    return paths


def run_check(args: argparse.Namespace) -> int:
    paths = expand(args.paths)
    if not paths:
        return 2
    bad = 0
    for path in paths:
        if not path.exists():
            print(f"MISSING {path}")
            bad += 1
            continue
        report = check_file(path)
        if report.ok:
            if not args.quiet:
                print(f"OK      {path} ({report.records} records)")
        else:
            bad += 1
            print(f"BAD     {path} ({report.records} good records, {len(report.errors)} problems)")
            for err in report.errors[:50]:
                print(f"  error: {err}")
            if len(report.errors) > 50:
                print(f"  ... {len(report.errors) - 50} more")
        for warn in report.warnings:
            if not args.quiet or not report.ok:
                print(f"  warning: {warn}")
    print(f"{len(paths) - bad} of {len(paths)} files OK")
    return 1 if bad else 0


def run_repair(args: argparse.Namespace) -> int:
    paths = expand(args.paths)
    if not paths:
        return 2
    failed = 0
    for path in paths:
        try:
            result = repair_file(
                path,
                backup=not args.no_backup,
                dry_run=args.dry_run,
                recompress=args.recompress,
            )
        except FileInUse as exc:
            print(f"SKIP    {exc}")
            continue
        except (RepairRefused, WarcFormatError) as exc:
            print(f"REFUSED {exc}")
            failed += 1
            continue
        except OSError as exc:
            print(f"FAILED  {path}: {exc.strerror or exc}")
            failed += 1
            continue
        if args.dry_run:
            status = "WOULD" if result.changed else "OK"
            print(f"{status:<7} {path}: {result.message}")
            continue
        after = check_file(result.path)
        status = ("REPAIRED" if result.changed else "OK") if after.ok else "STILL BAD"
        if not after.ok:
            failed += 1
        print(f"{status:<7} {result.path}: {result.message}")
    return 1 if failed else 0
