"""Scheduled incremental crawls against the replica: only what is new or updated is fetched,
unchanged sources cost a 304, overlapping runs are refused, and a SIGKILLed run resumes
with nothing lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from crawling import ROOT, run_crawl

from newsarchive.registry import load_outlets
from newsarchive.replica import Replica
from newsarchive.urls import canonicalize_url, primary_host_map

OUTLETS = load_outlets()
HOSTS = primary_host_map({k: o.domains for k, o in OUTLETS.items()})
SOURCES = {"feed", "sitemap", "news_sitemap"}


def in_window(replica: Replica, key: str) -> set[str]:
    return {t.url for t in replica.truth(key) if t.kind == "article" and t.in_window}


def article_fetches(replica: Replica, start: int, keys: list[str]) -> list[str]:
    """Canonical URLs of article pages fetched since ``start`` in ``replica.sent``."""
    truth = {t.url for k in keys for t in replica.truth(k)}
    urls = [
        canonicalize_url(s.url, HOSTS)
        for s in replica.sent[start:]
        if s.method == "GET" and s.status == 200
    ]
    return [u for u in urls if u in truth]


def query(db: Path, sql: str, *params):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_second_run_fetches_only_new_and_updated(tmp_path):
    keys = ["nypost", "mirror", "cbc"]
    r = Replica(seed=11, articles_per_outlet=14)
    r.start()
    try:
        run_crawl(tmp_path, r, keys)
        first = article_fetches(r, 0, keys)
        assert set(first) == set().union(*(in_window(r, k) for k in keys))

        updated = r.update("cbc", 1) + r.update("nypost", 1)
        new = r.publish("nypost", 3) + r.publish("mirror", 2)
        mark = len(r.sent)
        stats = run_crawl(tmp_path, r, keys)
        second = article_fetches(r, mark, keys)
    finally:
        r.stop()
    expected = {t.url for t in new} | {t.url for t in updated}
    assert len(expected) == 7
    assert sorted(second) == sorted(expected), "run 2 must fetch exactly the 5 new + 2 updated"
    run2 = r.sent[mark:]
    assert any(s.status == 304 for s in run2), "unchanged feeds/sitemaps should answer 304"
    assert stats["ok"]
    assert sum(o["new_articles"] for o in stats["outlets"].values()) == 5
    assert sum(o["updated_articles"] for o in stats["outlets"].values()) == 2
    db = tmp_path / "archive.duckdb"
    for t in updated:
        versions = query(
            db,
            "SELECT count(*), count(DISTINCT capture_id) FROM articles WHERE canonical_url = ?",
            t.url,
        )[0]
        assert versions == (2, 2), t.url
    runs = query(db, "SELECT status, stats IS NOT NULL FROM crawl_runs ORDER BY started")
    assert runs == [("finished", True), ("finished", True)]


def test_overlapping_run_is_refused(tmp_path):
    r = Replica(seed=12, articles_per_outlet=14, crawl_delay={"cbc": 0.5})
    r.start()
    try:
        env = {**os.environ, **r.env(), "PYTHONPATH": str(ROOT)}
        cmd = [
            sys.executable,
            "-m",
            "newsarchive",
            "crawl",
            "--outlets",
            "cbc",
            "--fast",
            "--db",
            str(tmp_path / "archive.duckdb"),
            "--warc-dir",
            str(tmp_path / "warc"),
        ]
        slow = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.time() + 30
            while time.time() < deadline and not any("cbc.ca" in s.url for s in r.sent):
                time.sleep(0.05)
            second = subprocess.run(
                cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
            )
            assert slow.poll() is None, "the first run should still be going"
        finally:
            out, err = slow.communicate(timeout=120)
    finally:
        r.stop()
    assert second.returncode == 75, second.stderr
    assert "refused" in second.stderr and "cbc" in second.stderr
    assert slow.returncode == 0, err[-2000:]


def test_sigkill_then_rerun_loses_and_duplicates_nothing(tmp_path):
    keys = ["nypost"]
    r = Replica(seed=13, articles_per_outlet=40, crawl_delay={"nypost": 0.25})
    r.start()
    try:
        expected = in_window(r, "nypost")
        assert len(expected) >= 10
        env = {**os.environ, **r.env(), "PYTHONPATH": str(ROOT)}
        cmd = [
            sys.executable,
            "-m",
            "newsarchive",
            "crawl",
            "--outlets",
            "nypost",
            "--fast",
            "--db",
            str(tmp_path / "archive.duckdb"),
            "--warc-dir",
            str(tmp_path / "warc"),
            "-s",
            "NEWSARCHIVE_INDEX_BATCH_SIZE=2",
        ]
        victim = subprocess.Popen(
            cmd,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline and len(article_fetches(r, 0, keys)) < len(expected) // 2:
            time.sleep(0.02)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        fetched_before = set(article_fetches(r, 0, keys))
        assert 0 < len(fetched_before) < len(expected), "the kill must land mid-run"
        assert list((tmp_path / "warc").glob("*.open")), "a killed run leaves its WARC open"

        stats = run_crawl(tmp_path, r, keys)
    finally:
        r.stop()
    assert stats["ok"]
    db = tmp_path / "archive.duckdb"
    rows = query(db, "SELECT canonical_url FROM articles WHERE outlet = 'nypost'")
    urls = [u for (u,) in rows]
    assert sorted(urls) == sorted(expected), "every article indexed exactly once"
    assert not list((tmp_path / "warc").glob("*.open"))
    check = subprocess.run(
        [sys.executable, "-m", "newsarchive", "warc", "check", str(tmp_path / "warc")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    pytest.importorskip("warcio")
    for f in (tmp_path / "warc").glob("*.warc.gz"):
        wc = subprocess.run(
            [str(Path(sys.executable).parent / "warcio"), "check", str(f)],
            capture_output=True,
            text=True,
        )
        assert wc.returncode == 0, wc.stdout + wc.stderr


def test_scrapy_crawl_takes_the_outlet_lock_and_records_its_run(tmp_path):
    """A spider started with plain `scrapy crawl` gets the lock and the crawl_runs row too."""
    from newsarchive.locks import OutletLocks

    r = Replica(seed=14, articles_per_outlet=8)
    r.start()
    db = tmp_path / "archive.duckdb"
    env = {**os.environ, **r.env(), "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        "cbc",
        "-s",
        f"NEWSARCHIVE_DB={db}",
        "-s",
        f"NEWSARCHIVE_WARC_DIR={tmp_path / 'warc'}",
        "-s",
        "DOWNLOAD_DELAY=0",
        "-s",
        "AUTOTHROTTLE_ENABLED=false",
    ]
    try:
        with OutletLocks(tmp_path / ".archive.duckdb.locks", ["cbc"]):
            held = subprocess.run(
                cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
            )
        during_held = [s.url for s in r.sent if "/news/" in s.url]
        free = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    finally:
        r.stop()
    assert "finish_reason': 'locked'" in held.stderr, held.stderr[-2000:]
    assert during_held == [], "a refused run must not fetch articles"
    assert "finish_reason': 'finished'" in free.stderr, free.stderr[-2000:]
    runs = query(db, "SELECT outlets, status FROM crawl_runs")
    assert runs == [(["cbc"], "finished")]
