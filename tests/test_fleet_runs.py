"""Fleet runs in ``crawl_runs``, and a worker that loses Redis.

Real redis-server processes on loopback (one per test: some tests kill it), real
``newsarchive worker`` processes against the replica, ``newsarchive ingest`` into a DuckDB
file. A worker run reaches ``crawl_runs`` through its spool with the crawl's stats; a
SIGKILLed worker's run is recorded as killed; a worker whose Redis dies stops within its
``NEWSARCHIVE_FLEET_REDIS_TIMEOUT`` (one-line error, WARC files closed, run failed, its
leases redone by another worker), and carries on when Redis is back within it.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import require
from test_fleet import URL, _free_port

ROOT = Path(__file__).resolve().parents[1]
SETTING = "NEWSARCHIVE_FLEET_REDIS_TIMEOUT"
OUTLET = "nypost"
MAX_AGE_DAYS = 1.0
DELAY = 0.02


class RedisServer:
    """One redis-server on loopback. ``persistent``: every write is in the append-only file
    before it is acknowledged, so a SIGKILL and a restart lose nothing (as a production
    fleet's Redis is configured)."""

    def __init__(self, workdir: Path, persistent: bool = False) -> None:
        self.binary = shutil.which("redis-server")
        require(self.binary is not None, "redis-server", "apt-get install redis-server")
        self.workdir = workdir
        self.persistent = persistent
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        persist = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else []
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + (persist or ["--appendonly", "no"])
            + ["--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        pytest.fail(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path):
    servers: list[RedisServer] = []

    def make(persistent: bool = False) -> RedisServer:
        workdir = tmp_path / f"redis{len(servers)}"
        workdir.mkdir()
        server = RedisServer(workdir, persistent)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.kill()


@pytest.fixture
def replica():
    from newsarchive.registry import load_outlets
    from newsarchive.replica import Replica

    registry = load_outlets()
    # latency: a crawl long enough (a few seconds) to kill things in the middle of it
    r = Replica(
        seed=5,
        articles_per_outlet=90,
        outlets={OUTLET: registry[OUTLET]},
        faults={OUTLET: ["binary"]},
        latency=0.05,
    )
    r.start()
    try:
        yield r
    finally:
        r.stop()


def _worker(url: str, replica, tmp: Path, wid: str, *extra: str) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "newsarchive", "worker",
        "--redis", url,
        "--proxy", replica.proxy_url,
        "--warc-dir", str(tmp / "warc"),
        "--spool-dir", str(tmp / "spool"),
        "--worker-id", wid,
        "--outlets", OUTLET,
        "--until-idle", "1",
        "--lease", "3",
        "-s", f"NEWSARCHIVE_FLEET_DELAY={DELAY}",
        "-s", "CONCURRENT_REQUESTS=2",
        "-s", "NEWSARCHIVE_EXTRACT_WORKERS=0",
        "-s", "NEWSARCHIVE_REQUISITES=off",
        "-s", f"NEWSARCHIVE_MAX_AGE_DAYS={MAX_AGE_DAYS}",
        # a host's fleet-wide in-flight place held by a dead worker frees itself after
        # DOWNLOAD_TIMEOUT + 5 s: keep that short here
        "-s", "DOWNLOAD_TIMEOUT=5",
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = open(tmp / f"{wid}.out", "w")  # noqa: SIM115 - closed with the process
    err = open(tmp / f"{wid}.err", "w")  # noqa: SIM115
    return subprocess.Popen(cmd, cwd=tmp, env=env, stdout=out, stderr=err)


def _busy(url: str, wid: str, pages: int, leases: int) -> bool:
    from newsarchive.fleet import fleet_status

    status = {w.worker: w for w in fleet_status(url, [OUTLET]).workers}
    w = status.get(wid)
    return w is not None and w.pages >= pages and w.leases >= leases


def _wait_pages(
    url: str, wid: str, n: int, proc: subprocess.Popen, tmp: Path, leases: int = 0
) -> None:
    """Until worker ``wid`` has fetched ``n`` pages (and holds ``leases`` leases)."""
    deadline = time.monotonic() + 40
    while not _busy(url, wid, n, leases):
        assert proc.poll() is None, (tmp / f"{wid}.err").read_text()[-2000:]
        assert time.monotonic() < deadline, f"worker {wid} never got {n} pages"
        time.sleep(0.05)


def _runs(db: Path) -> dict[str, dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT id, started, finished, outlets, status, stats FROM crawl_runs"
        ).fetchall()
    finally:
        con.close()
    return {
        r[0]: {
            "started": r[1],
            "finished": r[2],
            "outlets": r[3],
            "status": r[4],
            "stats": json.loads(r[5]) if r[5] else None,
        }
        for r in rows
    }


def _expected(replica) -> set[str]:
    """In-window articles listed in a discovery document the replica served, less those
    within 10 minutes of the window's edge (as in test_fleet)."""
    listed: set[str] = set()
    for s in list(replica.sent):
        if replica.truth_for(s.url) is None and s.status == 200:
            body = gzip.decompress(s.body) if s.body[:2] == b"\x1f\x8b" else s.body
            listed.update(u.decode("utf-8", "replace") for u in URL.findall(body))
    edge = replica.now - timedelta(days=MAX_AGE_DAYS) + timedelta(minutes=10)
    site = replica.sites[OUTLET]
    return {
        site.url(n)
        for n in range(site.total)
        if site.kind(n) == "article" and site.published(n) >= edge and site.url(n) in listed
    }


def _article_counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(
            con.execute("SELECT canonical_url, count(*) FROM articles GROUP BY 1").fetchall()
        )
    finally:
        con.close()


def _each_in_window_article_once(db: Path, replica) -> None:
    """Every in-window article the replica listed is in the archive, none twice."""
    counts = _article_counts(db)
    expected = _expected(replica)
    assert len(expected) >= 10
    missing = expected - set(counts)
    assert not missing, f"{len(missing)} in-window articles lost, e.g. {sorted(missing)[:3]}"
    twice = [u for u, n in counts.items() if n > 1]
    assert not twice, f"articles archived more than once: {twice[:3]}"


def _no_open_files(tmp: Path) -> None:
    assert not list((tmp / "warc").glob("*.open")), "a WARC file was left .open"
    assert not list((tmp / "spool").rglob("*.open")), "a spool segment was left open"


@pytest.mark.timeout(120)
def test_worker_run_reaches_crawl_runs_through_ingest(redis_server, replica, tmp_path):
    from newsarchive.fleet import seed_outlets
    from newsarchive.fleet.ingest import ingest
    from newsarchive.index.reindex import reindex

    redis = redis_server()
    seed_outlets(redis.url, [OUTLET])
    proc = _worker(redis.url, replica, tmp_path, "a")
    assert proc.wait(60) == 0, (tmp_path / "a.err").read_text()[-3000:]
    sent = [s for s in replica.sent if s.method != "CONNECT"]
    _no_open_files(tmp_path)

    db = tmp_path / "archive.duckdb"
    ingest(tmp_path / "spool", db, fts=False)
    runs = _runs(db)
    assert len(runs) == 1
    ((run_id, run),) = runs.items()
    assert run_id.startswith("fleet-a-20") and run_id in (tmp_path / "a.out").read_text()
    assert run["status"] == "finished" and run["outlets"] == [OUTLET]
    assert run["started"] < run["finished"]
    stats = run["stats"]
    assert stats["run_id"] == run_id and stats["ok"] and stats["worker"] == "a"
    # the crawl's figures: every response (each a capture), every article the archive got
    con = duckdb.connect(str(db), read_only=True)
    captures, articles, errors = con.execute(
        "SELECT (SELECT count(*) FROM captures), (SELECT count(*) FROM articles), "
        "(SELECT count(*) FROM fetch_errors)"
    ).fetchone()
    error_runs = {r[0] for r in con.execute("SELECT DISTINCT run_id FROM fetch_errors").fetchall()}
    con.close()
    # every leased request fetched, processed and acknowledged is one capture; the pages
    # count also has robots.txt as read by Scrapy's robots middleware
    assert stats["fleet"]["acked"] == captures >= len(sent) - 1 > 10
    assert captures <= stats["pages"] <= captures + 1
    assert stats["articles"] == articles >= 10
    assert stats["outlets"][OUTLET]["pages"] == stats["pages"]
    assert stats["errors"] >= 1 and errors >= 1  # the replica's binary page
    assert error_runs == {run_id}  # fetch_errors rows name the run
    part_of = set()
    for path in (tmp_path / "warc").glob("*.warc.gz"):
        from newsarchive.index.resume import _run_of

        part_of.add(_run_of(path))
    assert part_of == {run_id}  # and so do the WARC files' warcinfo records

    # a second ingest changes nothing; reindex keeps the run, as for a one-machine crawl
    ingest(tmp_path / "spool", db, fts=False)
    assert _runs(db) == runs
    before = _article_counts(db)
    reindex([str(tmp_path / "warc")], db, workers=1, progress=False, query_index=False)
    assert _runs(db) == runs
    assert _article_counts(db) == before


@pytest.mark.timeout(120)
def test_sigkilled_worker_run_is_recorded_killed_not_finished(redis_server, replica, tmp_path):
    from newsarchive.fleet import seed_outlets
    from newsarchive.fleet.ingest import ingest

    redis = redis_server()
    seed_outlets(redis.url, [OUTLET])
    proc = _worker(redis.url, replica, tmp_path, "k")
    try:
        _wait_pages(redis.url, "k", 8, proc, tmp_path)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert list((tmp_path / "spool").rglob("*.jsonl.open")), "killed with rows in an open segment"
    # The same worker id started again (systemd Restart=always) seals what the dead process
    # left open and finishes the frontier.
    proc = _worker(redis.url, replica, tmp_path, "k")
    assert proc.wait(60) == 0, (tmp_path / "k.err").read_text()[-3000:]

    db = tmp_path / "archive.duckdb"
    result = ingest(tmp_path / "spool", db, fts=False)  # no heartbeat information at all
    runs = _runs(db)
    assert len(runs) == 2
    first, second = sorted(runs, key=lambda rid: runs[rid]["started"])
    assert result.killed == [first]
    assert runs[first]["status"] == "killed" and runs[first]["finished"] is None
    assert "started run " + second in runs[first]["stats"]["reason"]
    assert second.startswith("fleet-k-") and runs[second]["status"] == "finished"
    _each_in_window_article_once(db, replica)


def test_runs_of_gone_workers_are_closed_as_killed_by_ingest(tmp_path):
    """A run is closed as killed when the same worker id started a later run, or when its
    worker has no heartbeat; without heartbeat information its last run is left as is."""
    from newsarchive.fleet.ingest import ingest
    from newsarchive.index.spool import Spool

    def start(worker: str, rid: str, day: int) -> None:
        spool = Spool(tmp_path / "spool" / worker)
        spool.append(
            "crawl_runs",
            {"id": rid, "started": f"2026-01-0{day}T00:00:00+00:00", "outlets": [OUTLET],
             "status": "running", "stats": {"worker": worker}},
        )  # fmt: skip
        spool.seal()

    db = tmp_path / "archive.duckdb"
    start("w", "fleet-w-20260101T000000Z", 1)
    start("v", "fleet-v-20260101T000000Z", 1)
    assert ingest(tmp_path / "spool", db, fts=False).killed == []
    assert {r["status"] for r in _runs(db).values()} == {"running"}
    start("w", "fleet-w-20260102T000000Z", 2)
    assert ingest(tmp_path / "spool", db, fts=False).killed == ["fleet-w-20260101T000000Z"]
    result = ingest(tmp_path / "spool", db, alive={"w"}, fts=False)
    assert result.killed == ["fleet-v-20260101T000000Z"]
    runs = _runs(db)
    assert runs["fleet-v-20260101T000000Z"]["stats"]["reason"] == (
        "worker v had no heartbeat when ingest ran"
    )
    assert runs["fleet-w-20260102T000000Z"]["status"] == "running"
    # an end row that comes later (a worker only out of reach) still wins
    spool = Spool(tmp_path / "spool" / "v")
    spool.append(
        "crawl_runs",
        {"id": "fleet-v-20260101T000000Z", "finished": "2026-01-01T01:00:00+00:00",
         "status": "finished", "stats": {"worker": "v", "pages": 3}},
    )  # fmt: skip
    spool.seal()
    ingest(tmp_path / "spool", db, alive=set(), final=False, fts=False)
    runs = _runs(db)
    assert runs["fleet-v-20260101T000000Z"]["status"] == "finished"
    assert runs["fleet-w-20260102T000000Z"]["status"] == "killed"


@pytest.mark.timeout(120)
def test_worker_that_loses_redis_stops_within_timeout(redis_server, replica, tmp_path):
    from newsarchive.fleet import seed_outlets
    from newsarchive.fleet.ingest import ingest

    timeout = 6
    redis = redis_server(persistent=True)
    seed_outlets(redis.url, [OUTLET])
    proc = _worker(redis.url, replica, tmp_path, "r", "-s", f"{SETTING}={timeout}")
    try:
        _wait_pages(redis.url, "r", 8, proc, tmp_path, leases=1)
        redis.kill()
        killed_at = time.monotonic()
        code = proc.wait(timeout + 20)
        took = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    err = (tmp_path / "r.err").read_text()
    assert code == 1, err[-3000:]
    assert timeout <= took < timeout + 15, f"stopped {took:.1f} s after Redis died"
    last = err.strip().splitlines()[-1]
    assert last.startswith("newsarchive worker: lost Redis for 6 s (") and "failed" in last
    assert "Traceback" not in err
    _no_open_files(tmp_path)
    assert list((tmp_path / "warc").glob("newsarchive-r-*.warc.gz"))

    db = tmp_path / "archive.duckdb"
    ingest(tmp_path / "spool", db, fts=False)
    (run,) = _runs(db).values()
    assert run["status"] == "failed" and run["finished"] is not None
    assert run["stats"]["reason"].startswith("redis: lost Redis for 6 s")

    # Redis back (from its append-only file): the requests the stopped worker held are
    # returned to the queue by lease expiry, and another worker does them. Nothing is lost.
    redis.start()
    proc = _worker(redis.url, replica, tmp_path, "s")
    assert proc.wait(60) == 0, (tmp_path / "s.err").read_text()[-3000:]
    ingest(tmp_path / "spool", db, fts=False)
    _each_in_window_article_once(db, replica)
    (second,) = (r for rid, r in _runs(db).items() if rid.startswith("fleet-s-"))
    assert second["status"] == "finished"
    assert second["stats"]["fleet"]["requeued"] >= 1  # the leases r held when it stopped


@pytest.mark.timeout(120)
def test_worker_carries_on_when_redis_is_back_within_timeout(redis_server, replica, tmp_path):
    from newsarchive.fleet import seed_outlets
    from newsarchive.fleet.ingest import ingest

    redis = redis_server(persistent=True)
    seed_outlets(redis.url, [OUTLET])
    proc = _worker(redis.url, replica, tmp_path, "b", "-s", f"{SETTING}=30")
    try:
        _wait_pages(redis.url, "b", 8, proc, tmp_path)
        redis.kill()
        time.sleep(3)
        assert proc.poll() is None, "the worker gave up before its timeout"
        redis.start()
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    err = (tmp_path / "b.err").read_text()
    assert code == 0, err[-3000:]
    assert "Redis unreachable" in err and "reachable again" in err
    assert "Traceback" not in err
    _no_open_files(tmp_path)
    db = tmp_path / "archive.duckdb"
    ingest(tmp_path / "spool", db, fts=False)
    (run,) = _runs(db).values()
    assert run["status"] == "finished"
    con = duckdb.connect(str(db), read_only=True)
    kinds = {r[0] for r in con.execute("SELECT DISTINCT kind FROM fetch_errors").fetchall()}
    con.close()
    assert kinds == {"binary"}, "the outage was recorded as the site's fault"
    _each_in_window_article_once(db, replica)


def test_health_baseline_of_a_crawl_leaves_fleet_runs_out(tmp_path):
    """A worker's per-outlet figures are its share of the fleet's work: not a baseline for
    a one-machine crawl of the outlet. A one-machine start never closes fleet runs either."""
    from newsarchive.fleet.ingest import ingest
    from newsarchive.index.db import stale_runs
    from newsarchive.index.spool import Spool
    from newsarchive.report import recent_runs

    spool = Spool(tmp_path / "spool" / "w")
    rows = [
        ("fleet-w-20260101T000000Z", "finished", {"outlets": {OUTLET: {"found": 3}}}),
        ("fleet-w-20260102T000000Z", "running", {"worker": "w"}),
        ("3f1c0a", "finished", {"outlets": {OUTLET: {"found": 40}}}),
    ]
    for i, (rid, status, stats) in enumerate(rows):
        spool.append(
            "crawl_runs",
            {"id": rid, "started": f"2026-01-0{i + 1}T00:00:00+00:00", "outlets": [OUTLET],
             "status": status, "stats": stats},
        )  # fmt: skip
    spool.seal()
    db = tmp_path / "archive.duckdb"
    ingest(tmp_path / "spool", db, fts=False)
    assert [r["outlets"][OUTLET]["found"] for r in recent_runs(db, [OUTLET])] == [40]
    assert stale_runs(db, [OUTLET]) == []
