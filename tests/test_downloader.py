"""Each download slot's concurrency holds for requisites too (newsarchive.downloader).

A real crawl (subprocess, real Scrapy engine) of one replica outlet with requisites on and
``CONCURRENT_REQUESTS_PER_DOMAIN=3``: the replica counts the CONNECT tunnels it serves. With
Scrapy's own downloader under the asyncio reactor, requisites started as many transfers as
were queued (measured 34 tunnels open at once against a limit of 4), each a new TLS
connection the pool then dropped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from newsarchive.replica import Replica

ROOT = Path(__file__).resolve().parent.parent


def test_requisites_stay_within_the_slot_and_reuse_connections(tmp_path):
    rep = Replica(seed=5, articles_per_outlet=12)
    rep.start()
    try:
        cmd = [
            sys.executable, "-m", "newsarchive", "crawl", "--outlets", "guardian", "--fast",
            "--proxy", rep.proxy_url, "--db", str(tmp_path / "a.duckdb"),
            "--warc-dir", str(tmp_path / "warc"),
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=3", "-s", "NEWSARCHIVE_EXTRACT_WORKERS=0",
            "-s", "NEWSARCHIVE_REQUISITES=images,css", "-s", "NEWSARCHIVE_MAX_AGE_DAYS=36500",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        res = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
        )
        assert res.returncode == 0, res.stdout[-500:] + res.stderr[-500:]
        tunnels = rep.tunnels()
        requisites = [s for s in rep.sent if any(k == "Referer" for k, _ in s.request_headers)]
    finally:
        rep.stop()
    assert len(requisites) >= 12, "the crawl must fetch requisites for this test to mean anything"
    assert max(t["peak"] for t in tunnels.values()) <= 3, tunnels
    # Kept alive and pooled: at most the slot's connections per host for all its requests.
    assert all(t["opened"] <= 3 for t in tunnels.values()), tunnels
    assert sum(t["opened"] for t in tunnels.values()) < len(rep.sent) / 3, tunnels
