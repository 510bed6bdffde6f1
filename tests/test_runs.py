"""Honest run status through the real CLI: exit codes, ``crawl_runs`` rows, 304 handling,
progress lines, the demo's idempotence, and a crawl waiting for an outside reader."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tests.conftest import require
from tests.crawling import ROOT, run_crawl


def _dead_proxy() -> str:
    """A loopback port with nothing listening (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _cli(tmp: Path, *args: str, env: dict | None = None, timeout: float = 180):
    return subprocess.run(
        [sys.executable, "-m", "newsarchive", *args],
        cwd=tmp,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _runs(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT status, stats->>'reason', outlets FROM crawl_runs ORDER BY started"
        ).fetchall()
    finally:
        con.close()


def test_unreachable_outlet_exits_1_and_records_the_failed_run(tmp_path):
    proxy = _dead_proxy()
    env = {"http_proxy": proxy, "https_proxy": proxy, "no_proxy": ""}
    db = tmp_path / "a.duckdb"
    args = ("crawl", "--outlets", "nypost", "--fast", "--db", str(db), "--warc-dir", "w")
    proc = _cli(tmp_path, *args, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "crawl FAILED" in proc.stdout
    assert "nypost (no successful response" in proc.stdout
    # default output: progress lines, one line per log record, no Scrapy INFO stream
    assert re.search(
        r"^nypost: done \(finished\): 0 pages, 0 articles, \d+ errors$", proc.stderr, re.M
    )
    assert "Traceback" not in proc.stderr
    assert "INFO:" not in proc.stderr and "] INFO" not in proc.stderr
    status, reason, outlets = _runs(db)[-1]
    assert status == "failed" and outlets == ["nypost"]
    assert reason.startswith("nypost: no successful response")
    # -v: Scrapy's log instead of the progress lines
    verbose = _cli(tmp_path, *args, "-v", env=env)
    assert verbose.returncode == 1
    assert "] INFO: Spider opened" in verbose.stderr
    assert "nypost: done (" not in verbose.stderr
    assert [r[0] for r in _runs(db)] == ["failed", "failed"]


def test_second_run_answered_304_is_unchanged_not_a_drop(tmp_path, replica):
    # The first run also shows merges spaced by NEWSARCHIVE_INDEX_MERGE_INTERVAL: with a
    # long interval and tiny batches the file is written once early and once at close.
    first = run_crawl(
        tmp_path,
        replica,
        ["nypost"],
        "NEWSARCHIVE_INDEX_BATCH_SIZE=3",
        "NEWSARCHIVE_INDEX_MERGE_INTERVAL=1000",
    )
    o1 = first["outlets"]["nypost"]
    assert first["ok"] and o1["found"] > 0 and first["added"] == o1["articles"] > 0
    assert 1 <= o1["merges"] <= 2, o1
    second = run_crawl(tmp_path, replica, ["nypost"])
    o2 = second["outlets"]["nypost"]
    assert second["_returncode"] == 0
    assert o2["unchanged"] > 0 and o2["articles"] == 0 and second["added"] == 0
    assert "no articles found" not in second["_stdout"], second["_stdout"]
    assert second["health"]["nypost"]["unchanged"] == o2["unchanged"]
    assert [r[0] for r in _runs(tmp_path / "archive.duckdb")] == ["finished", "finished"]


def test_demo_twice_adds_nothing_the_second_time(tmp_path):
    """Each demo crawls twice (the second fetches every article again, seen-set off): the
    re-fetches are revisits and versions of one URL, so no run after the first adds an
    article, and the second crawl's WARC bytes per article are a fraction of the first's."""
    args = ("demo", "--outlets", "nypost", "--scale", "4")
    out = []
    for _ in range(2):
        proc = _cli(tmp_path, *args, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
        out.append(proc.stdout)
    first = int(re.search(r"^added (\d+) articles", out[0], re.M).group(1))
    assert first > 0
    assert re.search(r"^added 0 articles", out[1], re.M), out[1]
    for text in out:
        again = re.search(
            r"^second crawl .*: \d+ pages, (\d+) article pages \((\d+) unchanged: 304\), "
            r"added (\d+)",
            text,
            re.M,
        )
        # every article asked for again with its validators, and each answered 304
        assert again and int(again.group(1)) == int(again.group(2)) == first, text
        assert again.group(3) == "0", text
    per = dict(re.findall(r"^\s+(first|second)\s+\d+\s+.*?([\d.]+) kB\s*$", out[0], re.M))
    assert float(per["second"]) < float(per["first"]) / 3, per
    con = duckdb.connect(str(tmp_path / "archive.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone() == (
            first,
            first,
        )
        runs = con.execute("SELECT status, outlets FROM crawl_runs").fetchall()
    finally:
        con.close()
    assert runs == [("finished", ["nypost"])] * 4
    # the demo's WARCs (four crawls, revisits of both kinds of run) pass both checkers
    files = [str(p) for p in sorted((tmp_path / "warc").glob("*.warc.gz"))]
    res = subprocess.run([str(ROOT / ".venv" / "bin" / "warcio"), "check", *files])
    assert res.returncode == 0
    fastwarc = ROOT / ".venv-dev" / "bin" / "fastwarc"
    require(fastwarc.exists(), "fastwarc", "make devtools")
    for f in files:
        res = subprocess.run([str(fastwarc), "check", "-q", "-p", f], capture_output=True)
        assert res.returncode == 0, (f, res.stdout[-500:], res.stderr[-500:])


def test_crawl_blocked_by_a_reader_says_it_waits_and_for_whom(tmp_path, replica):
    db = tmp_path / "archive.duckdb"
    duckdb.connect(str(db)).close()  # an (empty) archive a reader can open
    reader = duckdb.connect(str(db), read_only=True)  # this process holds the file
    cmd = [
        sys.executable,
        "-m",
        "newsarchive",
        "crawl",
        "--outlets",
        "nypost",
        "--fast",
        "--db",
        str(db),
        "--warc-dir",
        str(tmp_path / "warc"),
        "-s",
        "NEWSARCHIVE_INDEX_MERGE_INTERVAL=0",
    ]
    env = {**os.environ, **replica.env(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = []
    try:  # hold the file until the crawl says it waits (start-up is slow on a loaded machine)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if "locked by" in line or "held by" in line:
                break
    finally:
        reader.close()
    stdout, rest = proc.communicate(timeout=180)
    stderr = "".join(seen) + rest
    assert proc.returncode == 0, stdout + stderr[-3000:]
    assert f"pid {os.getpid()} (" in stderr, stderr[-3000:]
    assert re.search(r"(locked by|held by) pid \d+", stderr)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone()[0] > 0
    finally:
        con.close()


def test_runs_left_running_by_a_killed_process_are_closed_as_killed(tmp_path):
    db = tmp_path / "a.duckdb"
    # Two processes that die (SIGKILL) after recording their start, as a killed crawl does.
    for outlet in ("nypost", "mirror"):
        code = (
            "import os, signal, sys; from newsarchive.index.db import start_run; "
            "start_run([sys.argv[1]], sys.argv[2]); os.kill(os.getpid(), signal.SIGKILL)"
        )
        dead = subprocess.run(
            [sys.executable, "-c", code, outlet, str(db)],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert dead.returncode == -9
    assert sorted(r[0] for r in _runs(db)) == ["running", "running"]
    proxy = _dead_proxy()
    env = {"http_proxy": proxy, "https_proxy": proxy, "no_proxy": ""}
    args = ("crawl", "--outlets", "nypost", "--fast", "--db", str(db), "--warc-dir", "w")
    assert _cli(tmp_path, *args, env=env).returncode == 1
    by_outlet = {tuple(outlets): (status, reason) for status, reason, outlets in _runs(db)}
    # the nypost lock was free, so the old nypost run had no process: killed
    killed = [r for r in _runs(db) if r[0] == "killed"]
    assert len(killed) == 1 and killed[0][2] == ["nypost"]
    assert "its process was gone" in killed[0][1]
    # mirror's run shares no outlet with this crawl: nothing says its process is gone
    assert by_outlet[("mirror",)][0] == "running"
    assert sorted(r[0] for r in _runs(db)) == ["failed", "killed", "running"]
