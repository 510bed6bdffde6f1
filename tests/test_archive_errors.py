"""Locked archives, redirect loops and archive file names through the real CLI (issue 17
point 7): a crawl whose rows could not reach the archive says so and exits non-zero, having
waited for the lock once, not once per outlet; redirect loops are ``fetch_errors``; an
archive named ``fts.duckdb`` crawls and searches like any other."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from crawling import ROOT, run_crawl

from newsarchive.index.db import connect
from newsarchive.index.fts import fts_status
from newsarchive.index.fts import search as fts_search
from newsarchive.replica import Replica

HOLD = (
    "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
    "print('held', flush=True); sys.stdin.read()"
)
CLOSE_TIMEOUT = 3


def test_locked_archive_fails_the_crawl_and_waits_once(tmp_path, replica):
    db = tmp_path / "archive.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        run = run_crawl(
            tmp_path,
            replica,
            ["nypost", "mirror", "cbc"],
            f"NEWSARCHIVE_INDEX_CLOSE_TIMEOUT={CLOSE_TIMEOUT}",
            check=False,
            db=db,
        )
        took = time.monotonic() - started
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    out = run["_stdout"].strip().splitlines()
    assert run["_returncode"] == 1, run["_stdout"] + run["_stderr"][-3000:]
    assert len(out) == 1 and out[0].startswith("crawl FAILED:"), out
    assert "rows could not reach the archive" in out[0], out[0]
    assert f"locked by pid {holder.pid}" in out[0], out[0]
    assert "Traceback" not in run["_stderr"]
    # Every wait for the lock is announced ("waiting up to N s"): one at the start (the
    # first optional read gives up, later ones do not wait again) and one at the close.
    waits = [float(w) for w in re.findall(r"waiting up to (\d+(?:\.\d+)?) s", run["_stderr"])]
    assert waits.count(CLOSE_TIMEOUT) == 1, waits
    assert sum(waits) <= 10 + CLOSE_TIMEOUT, waits
    # ... and the wall clock agrees: a 3-outlet crawl of seconds, plus those two waits
    # (before: 10 + 30 + 2 + 2 s at the start, 20 s per outlet, 30 + 10 s at the end)
    assert took < 10 + CLOSE_TIMEOUT + 45, took  # (slack for a loaded machine)

    # nothing is lost: the next writer open merges the rows that waited in the spool
    con = connect(db, read_only=False, timeout=30)
    try:
        articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        status, reason = con.execute(
            "SELECT status, stats->>'reason' FROM crawl_runs WHERE id = ?", [run["run_id"]]
        ).fetchone()
    finally:
        con.close()
    assert articles > 0
    assert status == "failed" and "could not reach the archive" in reason


@pytest.fixture(scope="module")
def loop_replica():
    r = Replica(seed=0, articles_per_outlet=3, faults={"nypost": ["redirect_loop"]})
    r.start()
    try:
        yield r
    finally:
        r.stop()


def _errors(db: Path, kind: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT url, detail FROM fetch_errors WHERE kind = ?", [kind]).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("max_times", [None, 0])
def test_redirect_loops_are_fetch_errors_in_an_archive_named_fts(tmp_path, loop_replica, max_times):
    """A -> B -> A (and, with REDIRECT_MAX_TIMES=0, a chain past the limit) gives a
    ``redirect_loop`` row; the archive is named ``fts.duckdb``, like the full-text catalog,
    and crawl, full-text rebuild and search all work on it."""
    plan = loop_replica.fault_plans["nypost"]
    loop_url = plan.by_fault("redirect_loop").url
    db = tmp_path / "fts.duckdb"
    settings = ["NEWSARCHIVE_INDEX_FTS=true"]
    if max_times is not None:
        settings.append(f"REDIRECT_MAX_TIMES={max_times}")
    run = run_crawl(tmp_path, loop_replica, ["nypost"], *settings, db=db)
    assert run["ok"]
    rows = _errors(db, "redirect_loop")
    urls = {u for u, _ in rows}
    assert loop_url in urls or plan.loop_partner in urls, rows
    details = " ".join(d or "" for _, d in rows)
    if max_times is None:
        assert f"{loop_url} -> {plan.loop_partner} -> {loop_url}" in details, details
    else:
        assert "more than 0 redirects" in details, details
    assert (tmp_path / "fts.duckdb.fts").exists()  # the side file was built

    con = duckdb.connect(str(db), read_only=True)
    try:
        titles = [
            t for (t,) in con.execute("SELECT title FROM articles WHERE is_article").fetchall()
        ]
    finally:
        con.close()
    assert titles
    word = max(re.findall(r"[A-Za-z]{6,}", titles[0]), key=len)
    proc = subprocess.run(
        [sys.executable, "-m", "newsarchive", "search", "--db", str(db), word, "--format", "json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hits = json.loads(proc.stdout)["hits"]
    assert titles[0] in [h["title"] for h in hits], hits
    # the full-text side file answers too, though the archive's own catalog is "fts"
    con = connect(db, read_only=True)
    try:
        assert fts_status(con) == (True, True)
        assert titles[0] in [h.title for h in fts_search(con, word)]
    finally:
        con.close()
