"""The fleet's archive is the archive its WARC files give: two workers crawl the replica,
``newsarchive ingest`` merges their spools, and ``newsarchive reindex`` over the workers'
WARC files builds a new archive equal to it row for row (bench/killtest.py's comparison)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from crawling import load_killtest
from test_fleet import ROOT, _worker, redis_url  # noqa: F401 - the fixture is used by name


@pytest.mark.timeout(300)
def test_reindex_of_the_workers_warcs_equals_the_ingested_archive(redis_url, tmp_path):  # noqa: F811
    from newsarchive.fleet import seed_outlets
    from newsarchive.fleet.ingest import ingest
    from newsarchive.registry import load_outlets
    from newsarchive.replica import Replica

    outlets = ["nypost", "guardian"]
    registry = load_outlets()
    replica = Replica(seed=5, articles_per_outlet=150, outlets={k: registry[k] for k in outlets})
    replica.start()
    try:
        seed_outlets(redis_url, outlets, prefix="rx")
        args = ("--prefix", "rx", "--outlets", ",".join(outlets))
        workers = [_worker(redis_url, replica, tmp_path, w, *args) for w in ("p", "q")]
        try:
            for proc in workers:
                assert proc.wait(200) == 0
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
    finally:
        replica.stop()

    ingested = tmp_path / "archive.duckdb"
    ingest(tmp_path / "spool", ingested, final=True, fts=False)
    rebuilt = tmp_path / "reindexed.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "newsarchive", "reindex", str(tmp_path / "warc")]
    cmd += ["--db", str(rebuilt), "--no-fts", "--quiet", "--workers", "1"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]

    killtest = load_killtest()
    comparison = killtest.compare_archives(ingested, rebuilt)
    assert comparison["articles"]["crawl"] >= 20, comparison
    assert {w for w in ("p", "q")} <= {
        name.split("-")[1] for name in os.listdir(tmp_path / "warc")
    }, "both workers wrote WARC files"
    for table, t in comparison.items():
        assert t["crawl"] == t["reindex"], (table, t)
        assert t["only_in_crawl"] == t["only_in_reindex"] == 0, (table, t)
        assert not t["schema_differs"], (table, t)
