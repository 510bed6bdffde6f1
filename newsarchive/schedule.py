"""Recurring crawl jobs: crontab lines and systemd service/timer units for ``newsarchive crawl``.

The crawl command is already fit for unattended runs (outlet locks with exit 75, the
seen-set, stats); this module only turns an interval such as ``30m`` into a schedule and
writes the job with absolute paths, because cron and systemd start it with an empty
environment and an unrelated working directory.
"""

from __future__ import annotations

import configparser
import io
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

EVERY_RE = re.compile(r"^(\d+)([mhd])$")
UNIT_PREFIX = "newsarchive-crawl"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ScheduleError(ValueError):
    """A bad interval, name or path: the message says what is accepted."""


@dataclass(frozen=True)
class Every:
    """A crawl interval that cron and systemd can both express without drift."""

    count: int
    unit: str  # "m", "h" or "d"

    @property
    def seconds(self) -> int:
        return self.count * {"m": 60, "h": 3600, "d": 86400}[self.unit]

    def cron(self) -> str:
        """The five crontab time fields."""
        if self.unit == "m":
            return "* * * * *" if self.count == 1 else f"*/{self.count} * * * *"
        if self.unit == "h":
            return "0 * * * *" if self.count == 1 else f"0 */{self.count} * * *"
        return "0 0 * * *"

    def on_calendar(self) -> str:
        """The systemd ``OnCalendar=`` value, in the normalized form systemd prints."""
        if self.unit == "m":
            return "*-*-* *:*:00" if self.count == 1 else f"*-*-* *:00/{self.count}:00"
        if self.unit == "h":
            return "*-*-* *:00:00" if self.count == 1 else f"*-*-* 00/{self.count}:00:00"
        return "*-*-* 00:00:00"


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n) if n % d == 0]


def parse_every(text: str) -> Every:
    """Parse ``Nm``, ``Nh`` or ``1d``.

    Only intervals that divide the hour (minutes) or the day (hours) are accepted: cron's
    ``*/7`` restarts at every hour, so it would run at :56 and again at :00.
    """
    m = EVERY_RE.match(text.strip().lower())
    if not m:
        raise ScheduleError(f"--every wants Nm, Nh or 1d (e.g. 30m, 2h, 1d), got {text!r}")
    count, unit = int(m.group(1)), m.group(2)
    if count == 0:
        raise ScheduleError(f"--every must be positive, got {text!r}")
    if unit == "m" and count == 60:
        count, unit = 1, "h"
    elif unit == "h" and count == 24:
        count, unit = 1, "d"
    if unit == "m" and count not in _divisors(60):
        raise ScheduleError(
            f"--every {text}: minutes must divide the hour evenly: one of "
            f"{', '.join(map(str, _divisors(60)))} (or use hours)"
        )
    if unit == "h" and count not in _divisors(24):
        raise ScheduleError(
            f"--every {text}: hours must divide the day evenly: one of "
            f"{', '.join(map(str, _divisors(24)))} (or use 1d)"
        )
    if unit == "d" and count != 1:
        raise ScheduleError(f"--every {text}: only 1d is supported for days")
    return Every(count, unit)


def newsarchive_executable() -> list[str]:
    """How cron/systemd should start this same newsarchive: its console script when this
    process was started through it, else ``<this python> -m newsarchive``."""
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0:
        path = Path(argv0) if "/" in argv0 else Path(shutil.which(argv0) or argv0)
        if path.name == "newsarchive" and path.is_file():
            # absolute() and not resolve(): a venv's bin/ entries must stay inside the venv.
            return [str(path.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "newsarchive"]


@dataclass(frozen=True)
class Job:
    """One scheduled crawl: what to crawl, where to write, how often."""

    every: Every
    outlets: list[str] | None  # None: --all
    workdir: Path
    db: Path
    warc_dir: Path
    log: Path
    extra: tuple[str, ...] = ()
    name: str | None = None

    def argv(self) -> list[str]:
        targets = ["--all"] if self.outlets is None else ["--outlets", ",".join(self.outlets)]
        return [
            *newsarchive_executable(),
            "crawl",
            *targets,
            "--db",
            str(self.db),
            "--warc-dir",
            str(self.warc_dir),
            *self.extra,
        ]

    @property
    def unit_name(self) -> str:
        return f"{UNIT_PREFIX}-{self.name}" if self.name else UNIT_PREFIX


def make_job(
    every: str,
    outlets: list[str] | None,
    workdir: str | None = None,
    db: str | None = None,
    warc_dir: str | None = None,
    log: str | None = None,
    extra: tuple[str, ...] = (),
    name: str | None = None,
) -> Job:
    """Validate the options and make every path absolute (relative ones: to ``workdir``)."""
    base = Path(workdir or ".").absolute()

    def absolute(value: str | None, default: str) -> Path:
        p = Path(value or default).expanduser()
        return p if p.is_absolute() else base / p

    if name is not None and not NAME_RE.match(name):
        raise ScheduleError(f"--name {name!r}: use letters, digits, '.', '_' or '-'")
    if outlets is not None and not outlets:
        raise ScheduleError("--outlets is empty")
    job = Job(
        every=parse_every(every),
        outlets=outlets,
        workdir=base,
        db=absolute(db, "archive.duckdb"),
        warc_dir=absolute(warc_dir, "warc"),
        log=absolute(log, "logs/newsarchive-crawl.log"),
        extra=tuple(extra),
        name=name,
    )
    for arg in [*job.argv(), str(job.workdir), str(job.log)]:
        if any(c in arg for c in "\n\r\0"):
            raise ScheduleError(f"a path or argument contains a line break: {arg!r}")
    return job


def cron_line(job: Job) -> str:
    """One crontab line: cd to the work dir, run the crawl, append its output to the log."""
    command = (
        f"cd {shlex.quote(str(job.workdir))} && {shlex.join(job.argv())} "
        f">> {shlex.quote(str(job.log))} 2>&1"
    )
    # cron turns an unescaped % into a line break (the rest becomes the job's stdin).
    return f"{job.every.cron()} {command.replace('%', chr(92) + '%')}"


def _systemd_quote(arg: str) -> str:
    # systemd expands %-specifiers and splits on whitespace; quote and escape accordingly.
    arg = arg.replace("%", "%%")
    if re.search(r"[\s\"'\\;$]", arg) or not arg:
        arg = '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


def _unit_text(sections: dict[str, list[tuple[str, str]]]) -> str:
    out = io.StringIO()
    for i, (section, items) in enumerate(sections.items()):
        if i:
            out.write("\n")
        out.write(f"[{section}]\n")
        for key, value in items:
            out.write(f"{key}={value}\n")
    return out.getvalue()


def systemd_units(job: Job, log_to_file: bool = False) -> tuple[str, str]:
    """The ``.service`` (oneshot crawl) and ``.timer`` texts for ``job``."""
    what = "all outlets" if job.outlets is None else ",".join(job.outlets)
    service: list[tuple[str, str]] = [
        ("Type", "oneshot"),
        ("WorkingDirectory", _systemd_quote(str(job.workdir))),
        ("ExecStart", " ".join(_systemd_quote(a) for a in job.argv())),
        # 75: another run still holds the outlet lock; a skipped run is not a failed unit.
        ("SuccessExitStatus", "75"),
    ]
    if log_to_file:
        service += [
            ("StandardOutput", f"append:{job.log}"),
            ("StandardError", f"append:{job.log}"),
        ]
    service_text = _unit_text(
        {
            "Unit": [
                ("Description", f"newsarchive crawl ({what})"),
                ("Wants", "network-online.target"),
                ("After", "network-online.target"),
            ],
            "Service": service,
        }
    )
    timer_text = _unit_text(
        {
            "Unit": [("Description", f"newsarchive crawl ({what}) every {_every_text(job)}")],
            "Timer": [
                ("OnCalendar", job.every.on_calendar()),
                ("AccuracySec", "1s"),
                # Catch up once after downtime (a missed run starts at boot).
                ("Persistent", "true"),
                ("Unit", f"{job.unit_name}.service"),
            ],
            "Install": [("WantedBy", "timers.target")],
        }
    )
    return service_text, timer_text


def _every_text(job: Job) -> str:
    return f"{job.every.count}{job.every.unit}"


def parse_unit(text: str) -> configparser.ConfigParser:
    """Read a unit file as INI (tests and ``--install`` checks use it)."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text)
    return parser


def default_unit_dir() -> Path:
    return Path.home() / ".config" / "systemd" / "user"


def install_units(job: Job, unit_dir: Path, log_to_file: bool = False) -> list[Path]:
    """Write the service and timer into ``unit_dir``; returns the two paths."""
    service, timer = systemd_units(job, log_to_file)
    unit_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, text in (("service", service), ("timer", timer)):
        path = unit_dir / f"{job.unit_name}.{suffix}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        paths.append(path)
    return paths


class CrontabMissing(RuntimeError):
    """No ``crontab`` program on PATH."""


def install_cron(line: str, user: str | None = None) -> bool:
    """Append ``line`` to the crontab unless the identical line is there; True when added."""
    crontab = shutil.which("crontab")
    if not crontab:
        raise CrontabMissing(
            "the crontab program is not installed (Debian/Ubuntu: apt install cron)"
        )
    who = ["-u", user] if user else []
    listed = subprocess.run([crontab, *who, "-l"], capture_output=True, text=True)
    if listed.returncode == 0:
        current = listed.stdout
    elif "no crontab" in listed.stderr.lower():
        current = ""
    else:
        raise RuntimeError(f"crontab -l failed: {listed.stderr.strip()}")
    if line in current.splitlines():
        return False
    if current and not current.endswith("\n"):
        current += "\n"
    written = subprocess.run(
        [crontab, *who, "-"], input=current + line + "\n", capture_output=True, text=True
    )
    if written.returncode != 0:
        raise RuntimeError(f"crontab - failed: {written.stderr.strip()}")
    return True
