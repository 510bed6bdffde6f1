"""``newsarchive schedule``: print or install a recurring ``newsarchive crawl`` (cron or systemd).

Exit codes: 0 done, 1 installing failed (e.g. no ``crontab`` program), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from newsarchive.registry import RegistryError, load_outlets
from newsarchive.schedule import (
    CrontabMissing,
    ScheduleError,
    cron_line,
    default_unit_dir,
    install_cron,
    install_units,
    make_job,
    systemd_units,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schedule",
        help="print or install a cron line / systemd timer that runs `newsarchive crawl`",
        description="Arguments after `--` are passed to `newsarchive crawl` unchanged "
        "(e.g. -- --max-age-days 2 --stats-json logs/last-run.json).",
    )
    p.add_argument(
        "--every", required=True, help="interval: Nm (N divides 60), Nh (N divides 24), 1d"
    )
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--outlets", help="comma-separated registry keys")
    group.add_argument("--all", action="store_true", help="every outlet in the registry")
    p.add_argument("--workdir", help="directory the job runs in (default: the current one)")
    p.add_argument("--db", help="index file (default <workdir>/archive.duckdb)")
    p.add_argument("--warc-dir", help="WARC directory (default <workdir>/warc)")
    p.add_argument("--log", help="output log (default <workdir>/logs/newsarchive-crawl.log)")
    p.add_argument("--systemd", action="store_true", help="a systemd service + timer, not cron")
    p.add_argument("--name", help="unit name suffix: newsarchive-crawl-<name>.{service,timer}")
    p.add_argument(
        "--install",
        action="store_true",
        help="cron: add the line to the crontab; systemd: write the unit files",
    )
    p.add_argument(
        "--unit-dir", help="where --install writes units (default ~/.config/systemd/user)"
    )
    p.add_argument("--crontab-user", help="cron --install: that user's crontab (crontab -u; root)")
    p.add_argument("crawl_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _fail(message: str, code: int = 2) -> int:
    print(f"newsarchive schedule: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    extra = list(args.crawl_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    if extra and not args.crawl_args[0] == "--":
        return _fail(f"unexpected arguments {' '.join(extra)!r} (put crawl options after --)")
    outlets = None
    if not args.all:
        outlets = [k.strip() for k in args.outlets.split(",") if k.strip()]
        try:
            registry = load_outlets()
        except RegistryError as exc:
            return _fail(str(exc))
        unknown = [k for k in outlets if k not in registry]
        if unknown:
            return _fail(f"unknown outlet(s): {', '.join(unknown)}; see `scrapy list`")
    try:
        job = make_job(
            args.every,
            outlets,
            args.workdir,
            args.db,
            args.warc_dir,
            args.log,
            tuple(extra),
            args.name,
        )
    except ScheduleError as exc:
        return _fail(str(exc))
    if args.systemd:
        return _systemd(job, args)
    return _cron(job, args)


def _cron(job, args: argparse.Namespace) -> int:
    line = cron_line(job)
    if not args.install:
        print(line)
        if not job.log.parent.is_dir():
            print(
                f"# note: create the log directory first: mkdir -p {job.log.parent}",
                file=sys.stderr,
            )
        return 0
    job.log.parent.mkdir(parents=True, exist_ok=True)
    try:
        added = install_cron(line, args.crontab_user)
    except CrontabMissing as exc:
        return _fail(f"{exc}; the line to add by hand is:\n{line}", 1)
    except RuntimeError as exc:
        return _fail(str(exc), 1)
    print(line)
    print(
        "added to the crontab" if added else "already in the crontab: nothing changed",
        file=sys.stderr,
    )
    return 0


def _systemd(job, args: argparse.Namespace) -> int:
    log_to_file = args.log is not None
    if not args.install:
        service, timer = systemd_units(job, log_to_file)
        print(f"# {job.unit_name}.service\n{service}\n# {job.unit_name}.timer\n{timer}", end="")
        return 0
    unit_dir = Path(args.unit_dir).expanduser() if args.unit_dir else default_unit_dir()
    if log_to_file:
        job.log.parent.mkdir(parents=True, exist_ok=True)
    try:
        paths = install_units(job, unit_dir, log_to_file)
    except OSError as exc:
        return _fail(f"cannot write units to {unit_dir}: {exc}", 1)
    for path in paths:
        print(f"wrote {path}")
    print(
        f"now run: systemctl --user daemon-reload && "
        f"systemctl --user enable --now {job.unit_name}.timer"
    )
    return 0
