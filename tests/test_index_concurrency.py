"""Reading the archive while a real crawl writes it, and recovering after a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from test_index import cli, count, harness

from newsarchive.index.db import connect
from newsarchive.index.seen import load_seen
from newsarchive.index.spool import spool_dir

N = 3000


def extract_errors(n: int, first: int = 0) -> int:
    return sum(1 for i in range(first, first + n) if i % 97 == 3)


def test_readers_during_ingest_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    # ~10 s of ingest in small batches, merged every 0.5 s at most.
    proc = harness(tmp_path, n=N, delay=0.003, batch_size=100, batch_seconds=0.5)
    failures, runs, counts = [], 0, []
    try:
        deadline = time.monotonic() + 20
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        while proc.poll() is None:
            # merges now also update the query index and the stories: allow a long one
            r = cli(
                "sql", "SELECT count(*) FROM captures", "--db", str(db), "--format", "csv",
                "--timeout", "60", timeout=90,
            )  # fmt: skip
            runs += 1
            if r.returncode:
                failures.append(r.stderr)
            else:
                counts.append(int(r.stdout.splitlines()[1]))
            s = cli(
                "search", "zeppelin river", "--db", str(db), "--limit", "3", "--timeout", "60",
                timeout=90,
            )  # fmt: skip
            runs += 1
            if s.returncode:
                failures.append(s.stderr)
    finally:
        assert proc.wait(timeout=120) == 0
    print(f"reader runs={runs} counts={counts[:3]}..{counts[-3:]}")
    assert failures == []
    # a loaded machine (or parallel test workers) leaves the readers few turns; two suffice
    assert runs >= 2, "the readers hardly ran while the crawl was writing"
    assert counts == sorted(counts) and counts and counts[0] < N  # they saw it grow
    acked = (tmp_path / "ack").read_text().split()
    assert len(acked) == N
    assert count(db, "SELECT count(DISTINCT id) FROM captures") == N
    assert count(db, "SELECT count(*) FROM captures") == N
    assert count(db, "SELECT count(*) FROM articles") == N - extract_errors(N)
    stats = json.loads((tmp_path / "stats.json").read_text())
    # batched, never a row per transaction: 2 rows per item, 100 per batch, plus time flushes
    assert stats["newsarchive/index/transactions"] <= stats["newsarchive/index/batches"]
    assert stats["newsarchive/index/transactions"] <= 2 * N / 100 + stats.get(
        "newsarchive/index/time_flushes", 0
    )
    assert not list(spool_dir(db).glob("*.jsonl*"))


def test_sigkill_mid_run_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    ack = tmp_path / "ack"
    proc = harness(tmp_path, n=N, delay=0.001, batch_size=250, batch_seconds=60, fts=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ack.exists() and len(ack.read_bytes().splitlines()) >= 1100:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    acked = set(ack.read_text().split())
    assert 1100 <= len(acked) < N
    left = list(spool_dir(db).glob("*.jsonl*"))
    assert left, "the kill should have left rows in the spool"
    # The seen-set already counts articles still in the spool.
    seen_urls = set(load_seen(db, ["nypost", "mirror", "bbc"]))
    # The next writer folds the spool in.
    connect(db, read_only=False, timeout=10).close()
    assert not list(spool_dir(db).glob("*.jsonl*"))
    con = connect(db)
    ids = [r[0] for r in con.execute("SELECT id FROM captures").fetchall()]
    article_urls = {r[0] for r in con.execute("SELECT canonical_url FROM articles").fetchall()}
    con.close()
    assert len(ids) == len(set(ids))  # no duplicates
    assert acked <= set(ids)  # nothing acknowledged is lost
    assert seen_urls == article_urls
    # A second crawl on the same archive adds its rows next to the recovered ones.
    (tmp_path / "ack").unlink()
    proc = harness(tmp_path, n=50, first=N, fts=False)
    assert proc.wait(timeout=60) == 0
    assert count(db, "SELECT count(*) FROM captures") == len(ids) + 50


def test_fts_rebuild_does_not_hold_the_archive(tmp_path: Path) -> None:
    import subprocess
    import sys

    from test_index import ROOT, fill

    from newsarchive.index.db import try_connect
    from newsarchive.index.fts import fts_path

    db = tmp_path / "a.duckdb"
    fill(db, 5000)
    side = fts_path(db)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from newsarchive.index.fts import rebuild_fts; "
            "rebuild_fts(sys.argv[1], force=True)",
            str(db),
        ],
        cwd=ROOT,
    )
    wrote_during_build = False
    try:
        while proc.poll() is None and not wrote_during_build:
            building = list(side.parent.glob(f"{side.name}.tmp-*"))
            if not building:
                time.sleep(0.005)
                continue
            con = try_connect(db, read_only=False)  # a crawl's merge, one attempt
            if con is not None:
                con.execute("INSERT INTO index_meta VALUES ('probe', 'x') ON CONFLICT DO NOTHING")
                con.close()
                wrote_during_build = any(p.exists() for p in building)
            time.sleep(0.01)
    finally:
        assert proc.wait(timeout=120) == 0
    assert wrote_during_build, "the archive was locked for the whole index build"
    assert side.exists()
