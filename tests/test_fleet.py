"""The fleet: a real redis-server, real worker processes, the replica, one archive.

The heavy test runs 4 ``newsarchive worker`` processes over a replica of more than 10^4
pages, kills one with SIGKILL mid-crawl, and checks that every in-window article was
archived exactly once, that the killed worker's leased requests were done by the others,
and that no host ever saw two requests closer than the configured fleet delay.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import require

ROOT = Path(__file__).resolve().parents[1]
DELAY = 0.02  # fleet-wide seconds between two requests to one host
# Six outlets of 1700 articles each: a replica of > 10^4 pages, few idle crawlers per worker.
OUTLETS = ["apnews", "bbc", "guardian", "nypost", "reuters", "telegraph"]
SCALE = int(os.environ.get("NEWSARCHIVE_FLEET_TEST_SCALE", "1700"))
MAX_AGE_DAYS = 0.5  # the crawl window: a sixth of the replica's 3 days keeps the test short


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server", "apt-get install redis-server (make sysdeps)")
    import redis

    workdir = tmp_path_factory.mktemp("redis")
    for _ in range(5):  # redis-server cannot bind port 0: pick a free port, retry on a race
        port = _free_port()
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port)
        for _ in range(50):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        pytest.fail("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def _worker(redis_url: str, replica, tmp: Path, wid: str, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "newsarchive", "worker",
        "--redis", redis_url,
        "--proxy", replica.proxy_url,
        "--warc-dir", str(tmp / "warc"),
        "--spool-dir", str(tmp / "spool"),
        "--worker-id", wid,
        "--until-idle", "2",
        "--lease", "4",
        "-s", f"NEWSARCHIVE_FLEET_DELAY={DELAY}",
        "-s", "CONCURRENT_REQUESTS=2",
        "-s", "NEWSARCHIVE_EXTRACT_WORKERS=0",
        # pages only: each article's images would go through the fleet's one request in
        # flight per host (requisites are tested in test_replay.py)
        "-s", "NEWSARCHIVE_REQUISITES=off",
        "-s", "LOG_LEVEL=WARNING",
        "-s", f"NEWSARCHIVE_MAX_AGE_DAYS={MAX_AGE_DAYS}",
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = open(tmp / f"{wid}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)


URL = re.compile(rb"https?://[^\s<>\"']+")


def _expected(replica, sent) -> set[str]:
    """In-window articles listed in a discovery document the replica served (sitemap, feed,
    section front), less those within 10 minutes of the window's edge (the crawl's clock
    runs a little later than the replica's)."""
    listed: set[str] = set()
    for s in sent:
        if replica.truth_for(s.url) is None and s.status == 200:
            body = s.body
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            listed.update(u.decode("utf-8", "replace") for u in URL.findall(body))
    out = set()
    edge = replica.now - timedelta(days=MAX_AGE_DAYS) + timedelta(minutes=10)
    for site in replica.sites.values():
        for n in range(site.total):
            url = site.url(n)
            if site.kind(n) == "article" and site.published(n) >= edge and url in listed:
                out.add(url)
    return out


@pytest.mark.timeout(600)
def test_four_workers_one_killed_nothing_lost_politeness_fleet_wide(redis_url, tmp_path):
    from newsarchive.fleet import fleet_status, seed_outlets
    from newsarchive.fleet.ingest import ingest
    from newsarchive.fleet.status import drained
    from newsarchive.registry import load_outlets
    from newsarchive.replica import Replica

    registry = load_outlets()
    outlets = OUTLETS
    replica = Replica(seed=3, articles_per_outlet=SCALE, outlets={k: registry[k] for k in outlets})
    pages = sum(s.total + len(s.extra_numbers) for s in replica.sites.values())
    assert pages >= 10_000
    replica.start()
    try:
        seeded = seed_outlets(redis_url, outlets, prefix="t1")
        assert sum(seeded.seeded.values()) >= len(outlets)
        args = ("--prefix", "t1", "--outlets", ",".join(outlets))
        workers = {w: _worker(redis_url, replica, tmp_path, w, *args) for w in "abcd"}
        try:
            # Kill one worker mid-crawl, while it holds leases.
            deadline = time.monotonic() + 120
            victim_leases = 0
            while time.monotonic() < deadline:
                status = {w.worker: w for w in fleet_status(redis_url, outlets, "t1").workers}
                b = status.get("b")
                if b and b.pages >= 30 and b.leases > 0:
                    victim_leases = b.leases
                    os.kill(workers["b"].pid, signal.SIGKILL)
                    break
                time.sleep(0.2)
            assert victim_leases, "worker b never got going"
            workers["b"].wait(10)
            for wid, proc in workers.items():
                if wid != "b":
                    assert proc.wait(240) == 0, (tmp_path / f"{wid}.log").read_text()[-3000:]
            assert drained(redis_url, outlets, "t1")
        finally:
            for proc in workers.values():  # never leave a worker behind a failed test
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
        sent = list(replica.sent)
    finally:
        replica.stop()

    db = tmp_path / "archive.duckdb"
    result = ingest(tmp_path / "spool", db, final=True, fts=False)
    assert set(result.workers) == set("abcd")
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT canonical_url, count(*) FROM articles GROUP BY 1").fetchall()
    counts = dict(rows)
    expected = _expected(replica, sent)
    assert len(expected) >= 800
    missing = expected - set(counts)
    assert not missing, f"{len(missing)} in-window articles lost, e.g. {sorted(missing)[:3]}"
    twice = {u: n for u, n in counts.items() if n > 1}
    assert not twice, f"articles archived more than once: {list(twice.items())[:3]}"
    # one crawl_runs row per worker run; the SIGKILLed one is not recorded as finished
    runs = con.execute("SELECT id, status FROM crawl_runs").fetchall()
    assert {rid.split("-")[1]: st for rid, st in runs} == {
        "a": "finished",
        "b": "killed",
        "c": "finished",
        "d": "finished",
    }
    # Every article row points at a capture that is in a worker's WARC file.
    files = {p.name for p in (tmp_path / "warc").glob("*.warc.gz*")}
    orphans = con.execute(
        "SELECT count(*) FROM articles a LEFT JOIN captures c ON c.id = a.capture_id "
        "WHERE c.id IS NULL"
    ).fetchone()[0]
    assert orphans == 0
    named = {r[0] for r in con.execute("SELECT DISTINCT warc_filename FROM captures").fetchall()}
    assert all(n.startswith("newsarchive-") for n in named)
    assert {n.split("-")[1] for n in named} >= {"a", "c", "d"}
    assert all(n in files or f"{n}.open" in files for n in named)

    # Politeness across the fleet: per host, arrivals at the replica never closer than DELAY.
    by_host: dict[str, list] = defaultdict(list)
    for s in sent:
        if s.method != "CONNECT":
            by_host[s.host].append(s)
    gaps = []
    for group in by_host.values():
        group.sort(key=lambda s: s.time)
        gaps += [(b.time - a.time, a.url, b.url) for a, b in zip(group, group[1:], strict=False)]
    worst = min(gaps)
    assert worst[0] >= DELAY, f"two requests only {worst[0]:.4f} s apart: {worst[1:]}"
    assert len(sent) >= len(expected)


def test_lease_expires_back_into_queue_and_ack_forgets(redis_url):
    import scrapy
    from scrapy.spiderloader import SpiderLoader

    from newsarchive.crawl import crawl_settings
    from newsarchive.fleet.keys import connect
    from newsarchive.fleet.queue import LEASE_META, LeasedQueue

    server = connect(redis_url)
    spider = SpiderLoader.from_settings(crawl_settings()).load("nypost")()
    q = LeasedQueue(server, spider, "t2:q:nypost")
    q.lease_seconds = 0.3
    for i in range(3):
        q.push(scrapy.Request(f"https://nypost.com/a{i}", callback=spider.parse_article))
    first = q.pop()
    second = q.pop()
    assert first.callback == spider.parse_article and LEASE_META in first.meta
    assert (len(q), q.leased()) == (1, 2)
    q.ack(first.meta[LEASE_META])
    assert q.reap() == 0  # not expired yet
    q.held.clear()  # as if this worker died: nobody renews the other lease
    time.sleep(0.4)
    assert q.reap() == 1
    assert (len(q), q.leased()) == (2, 0)
    urls = {q.pop().url, q.pop().url}
    assert second.url in urls and first.url not in urls


def test_run_lock_refuses_second_seed_and_fleet_verb_reports(redis_url, tmp_path):
    from newsarchive.fleet import RunLockHeld, seed_outlets

    seed_outlets(redis_url, ["bbc"], prefix="t3")
    with pytest.raises(RunLockHeld):
        seed_outlets(redis_url, ["bbc", "nypost"], prefix="t3")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "newsarchive"]
    crawl = subprocess.run(
        [*run, "crawl", "--outlets", "bbc", "--redis", redis_url, "-s",
         "NEWSARCHIVE_FLEET_PREFIX=t3"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert crawl.returncode == 75 and "still being crawled" in crawl.stderr
    status = subprocess.run(
        [*run, "fleet", "--redis", redis_url, "--prefix", "t3"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert status.returncode == 0
    assert any(
        line.startswith("bbc") and "(running)" in line for line in status.stdout.splitlines()
    )
    bad = subprocess.run(
        [*run, "fleet", "--redis", "redis://127.0.0.1:1/0"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
