"""``newsarchive schedule``: crontab lines, systemd units, installing them, bad intervals.

The cron line is also run as cron would run it (``sh -c``): once against the replica, and
once while another job holds the outlet lock (exit 75, nothing crawled).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import IN_CI, require

from newsarchive.locks import OutletLocks
from newsarchive.schedule import parse_every, parse_unit

ROOT = Path(__file__).resolve().parents[1]
PY_M = [sys.executable, "-m", "newsarchive"]


def schedule(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [*PY_M, "schedule", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def split_cron(line: str) -> tuple[list[str], list[str]]:
    """(five time fields, shell words of the command)."""
    fields = line.split(" ", 5)
    return fields[:5], shlex.split(fields[5])


CRON_CASES = {
    "1m": "* * * * *",
    "5m": "*/5 * * * *",
    "30m": "*/30 * * * *",
    "60m": "0 * * * *",
    "1h": "0 * * * *",
    "6h": "0 */6 * * *",
    "24h": "0 0 * * *",
    "1d": "0 0 * * *",
}


@pytest.mark.parametrize("every", sorted(CRON_CASES))
def test_cron_line(tmp_path, every):
    p = schedule(
        "--every", every, "--outlets", "nypost,mirror", "--workdir", str(tmp_path), cwd=tmp_path
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1
    times, words = split_cron(lines[0])
    assert " ".join(times) == CRON_CASES[every]
    assert words[:3] == ["cd", str(tmp_path), "&&"]
    assert words[3 : 3 + len(PY_M)] == PY_M
    crawl = words[3 + len(PY_M) :]
    assert crawl == [
        "crawl",
        "--outlets",
        "nypost,mirror",
        "--db",
        str(tmp_path / "archive.duckdb"),
        "--warc-dir",
        str(tmp_path / "warc"),
        ">>",
        str(tmp_path / "logs/newsarchive-crawl.log"),
        "2>&1",
    ]


def test_cron_line_paths_and_passthrough(tmp_path):
    work = tmp_path / "my archive"
    work.mkdir()
    p = schedule(
        "--every",
        "15m",
        "--all",
        "--workdir",
        str(work),
        "--db",
        "idx/a.duckdb",
        "--warc-dir",
        "/srv/w%rc",
        "--log",
        str(tmp_path / "c.log"),
        "--",
        "--max-age-days",
        "2",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    line = p.stdout.strip()
    assert "\\%" in line and "w%rc" not in line.replace("\\%", "")  # cron's % escaped
    times, words = split_cron(line.replace("\\%", "%"))
    assert times == ["*/15", "*", "*", "*", "*"]
    assert words[1] == str(work)
    i = words.index("crawl")
    assert words[i : i + 8] == [
        "crawl",
        "--all",
        "--db",
        str(work / "idx/a.duckdb"),
        "--warc-dir",
        "/srv/w%rc",
        "--max-age-days",
        "2",
    ]
    assert words[-3:] == [">>", str(tmp_path / "c.log"), "2>&1"]


def test_console_script_is_used(tmp_path):
    script = Path(sys.executable).parent / "newsarchive"
    if not script.is_file():
        pytest.skip("newsarchive is not pip-installed in this venv (make venv installs it)")
    p = subprocess.run(
        [str(script), "schedule", "--every", "2h", "--outlets", "nypost"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    _, words = split_cron(p.stdout.strip())
    assert words[3] == str(script) and words[4] == "crawl"


@pytest.mark.parametrize("bad", ["7m", "0m", "90m", "5h", "2d", "30", "abc", "-5m", "1.5h", "m"])
def test_bad_every(tmp_path, bad):
    p = schedule("--every", bad, "--outlets", "nypost", cwd=tmp_path)
    assert p.returncode == 2
    assert "--every" in p.stderr and p.stdout == ""


def test_bad_outlet_and_stray_args(tmp_path):
    p = schedule("--every", "5m", "--outlets", "nypost,nosuch", cwd=tmp_path)
    assert p.returncode == 2 and "nosuch" in p.stderr
    p = schedule("--every", "5m", "--outlets", "nypost", "stray", cwd=tmp_path)
    assert p.returncode == 2 and "stray" in p.stderr
    p = schedule("--every", "5m", "--outlets", "nypost", "--systemd", "--name", "a/b", cwd=tmp_path)
    assert p.returncode == 2 and "--name" in p.stderr


def _elapses(value: str, n: int = 3) -> list[datetime]:
    out = subprocess.run(
        ["systemd-analyze", "calendar", f"--iterations={n}", value],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "TZ": "UTC"},
    )
    assert out.returncode == 0, out.stderr
    normalized = [
        ln.split(":", 1)[1].strip()
        for ln in out.stdout.splitlines()
        if ln.strip().startswith("Normalized form:")
    ]
    assert normalized == [value]
    stamps = []
    for ln in out.stdout.splitlines():
        ln = ln.strip()
        if ln.startswith(("Next elapse:", "Iter. #")):
            text = ln.split(":", 1)[1].strip()  # "Sun 2026-11-22 00:00:00 UTC"
            stamps.append(datetime.strptime(text.split(" ", 1)[1], "%Y-%m-%d %H:%M:%S %Z"))
    return stamps


@pytest.mark.parametrize("every", ["1m", "20m", "1h", "3h", "1d"])
def test_systemd_units(tmp_path, every):
    p = schedule(
        "--every",
        every,
        "--outlets",
        "nypost",
        "--systemd",
        "--workdir",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    service_text, timer_text = p.stdout.split("# newsarchive-crawl.timer\n")
    assert service_text.startswith("# newsarchive-crawl.service\n")
    service, timer = parse_unit(service_text), parse_unit(timer_text)
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["WorkingDirectory"] == str(tmp_path)
    assert shlex.split(service["Service"]["ExecStart"]) == [
        *PY_M,
        "crawl",
        "--outlets",
        "nypost",
        "--db",
        str(tmp_path / "archive.duckdb"),
        "--warc-dir",
        str(tmp_path / "warc"),
    ]
    assert service["Service"]["SuccessExitStatus"] == "75"
    assert "StandardOutput" not in service["Service"]  # journal unless --log is given
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "newsarchive-crawl.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    on_calendar = timer["Timer"]["OnCalendar"]
    assert on_calendar == parse_every(every).on_calendar()
    if shutil.which("systemd-analyze"):
        stamps = _elapses(on_calendar)
        gaps = {(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)}
        assert gaps == {parse_every(every).seconds}


def test_systemd_install(tmp_path):
    units = tmp_path / "units"
    log = tmp_path / "logs" / "crawl.log"
    args = (
        "--every",
        "30m",
        "--outlets",
        "nypost,mirror",
        "--systemd",
        "--install",
        "--name",
        "tabloids",
        "--unit-dir",
        str(units),
        "--log",
        str(log),
        "--workdir",
        str(tmp_path),
    )
    p = schedule(*args, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    service = units / "newsarchive-crawl-tabloids.service"
    timer = units / "newsarchive-crawl-tabloids.timer"
    assert sorted(units.iterdir()) == [service, timer]
    assert (
        "systemctl --user daemon-reload && systemctl --user enable --now "
        "newsarchive-crawl-tabloids.timer"
    ) in p.stdout
    s = parse_unit(service.read_text())["Service"]
    assert s["StandardOutput"] == s["StandardError"] == f"append:{log}"
    assert log.parent.is_dir()
    t = parse_unit(timer.read_text())["Timer"]
    assert t["Unit"] == service.name and t["OnCalendar"] == "*-*-* *:00/30:00"
    before = (service.read_text(), timer.read_text())
    assert schedule(*args, cwd=tmp_path).returncode == 0  # re-installing is idempotent
    assert (service.read_text(), timer.read_text()) == before
    if shutil.which("systemd-analyze"):
        v = subprocess.run(
            ["systemd-analyze", "verify", str(service), str(timer)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert v.returncode == 0, v.stderr


def test_cron_install_without_crontab(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    p = schedule(
        "--every", "30m", "--outlets", "nypost", "--install", cwd=tmp_path, env={"PATH": str(empty)}
    )
    assert p.returncode == 1
    assert "crontab" in p.stderr and "not installed" in p.stderr
    assert "*/30 * * * * cd " in p.stderr  # the line to add by hand


def _crontab() -> str | None:
    found = shutil.which("crontab")
    if not found and IN_CI and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "cron"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            timeout=600,
        )
        found = shutil.which("crontab")
    return found


def test_cron_install_is_idempotent(tmp_path):
    crontab = _crontab()
    require(bool(crontab), "the crontab program", "apt-get install cron")
    if os.geteuid() != 0:
        pytest.skip("installs into the crontab of user 'nobody' (crontab -u), which needs root")
    user = "nobody"
    saved = subprocess.run([crontab, "-u", user, "-l"], capture_output=True, text=True)
    try:
        subprocess.run(
            [crontab, "-u", user, "-"],
            input="# kept\n0 1 * * * true\n",
            text=True,
            check=True,
            capture_output=True,
        )
        args = (
            "--every",
            "10m",
            "--outlets",
            "nypost",
            "--install",
            "--crontab-user",
            user,
            "--workdir",
            str(tmp_path),
        )
        first = schedule(*args, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "added" in first.stderr
        line = first.stdout.strip()
        second = schedule(*args, cwd=tmp_path)
        assert second.returncode == 0 and "already" in second.stderr
        listed = subprocess.run(
            [crontab, "-u", user, "-l"], capture_output=True, text=True, check=True
        ).stdout
        assert listed.splitlines().count(line) == 1
        assert "# kept" in listed and "0 1 * * * true" in listed
        assert (tmp_path / "logs").is_dir()
    finally:
        if saved.returncode == 0:
            subprocess.run([crontab, "-u", user, "-"], input=saved.stdout, text=True)
        else:
            subprocess.run([crontab, "-u", user, "-r"], capture_output=True)


def _cron_command(tmp_path: Path, *extra: str) -> tuple[str, Path]:
    p = schedule(
        "--every", "5m", "--outlets", "nypost", "--workdir", str(tmp_path), *extra, cwd=tmp_path
    )
    assert p.returncode == 0, p.stderr
    command = p.stdout.strip().split(" ", 5)[5]
    (tmp_path / "logs").mkdir(exist_ok=True)
    return command, tmp_path / "logs" / "newsarchive-crawl.log"


def test_cron_command_runs_the_crawl(tmp_path, replica):
    import duckdb

    stats = tmp_path / "logs" / "last-run.json"
    command, log = _cron_command(tmp_path, "--", "--fast", "--stats-json", str(stats))
    env = {**os.environ, **replica.env(), "PYTHONPATH": str(ROOT)}
    runs = []
    for _ in range(2):  # two scheduled runs: the second is incremental
        # As cron does: /bin/sh -c, from another directory.
        p = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd="/",
            env=env,
            timeout=120,
            capture_output=True,
            text=True,
        )
        assert p.returncode == 0, log.read_text()[-3000:]
        assert p.stdout == ""
        runs.append(json.loads(stats.read_text()))
    assert log.read_text().count("crawl ok: 1 outlets") == 2
    con = duckdb.connect(str(tmp_path / "archive.duckdb"), read_only=True)
    try:
        articles = con.execute("SELECT count(*) FROM articles WHERE outlet='nypost'").fetchone()[0]
        statuses = [r[0] for r in con.execute("SELECT status FROM crawl_runs").fetchall()]
    finally:
        con.close()
    expected = len([t for t in replica.truth("nypost") if t.kind == "article" and t.in_window])
    assert articles == expected > 0
    assert statuses == ["finished", "finished"]
    assert list((tmp_path / "warc").glob("*.warc.gz"))
    # The seen-set: the second run re-fetches none of the unchanged articles.
    assert [r["outlets"]["nypost"]["articles"] for r in runs] == [expected, 0]


def test_cron_overlap_is_refused(tmp_path):
    command, log = _cron_command(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    db = tmp_path / "archive.duckdb"
    with OutletLocks(db.parent / f".{db.name}.locks", ["nypost"]):
        p = subprocess.run(["/bin/sh", "-c", command], cwd="/", env=env, timeout=60)
    assert p.returncode == 75
    assert "refused" in log.read_text()
    assert not db.exists() and not (tmp_path / "warc").exists()
