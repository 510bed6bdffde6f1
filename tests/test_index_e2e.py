"""End to end: a real crawl of the replica (WARC writer + extractor + index), then the
archive rebuilt from the WARCs alone must equal it; torn WARCs are recorded, not fatal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from crawling import run_crawl
from test_index import cli

from newsarchive.index.reindex import reindex

replica_mod = pytest.importorskip("newsarchive.replica")

PIPELINES = json.dumps(
    {
        "newsarchive.extract.pipeline.ExtractionPipeline": 300,
        "newsarchive.index.pipeline.IndexPipeline": 800,
    }
)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("e2e")
    rep = replica_mod.Replica(seed=11, articles_per_outlet=15)
    rep.start()
    try:
        for _ in range(2):  # the second crawl adds revisits and re-fetched pages
            run_crawl(tmp, rep, ["nypost", "mirror"], f"ITEM_PIPELINES={PIPELINES}")
    finally:
        rep.stop()
    return tmp


def rows(db: Path, table: str) -> list[tuple]:
    cols = "* EXCLUDE (indexed_at)" if table == "articles" else "*"
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(con.execute(f"SELECT {cols} FROM {table}").fetchall(), key=repr)
    finally:
        con.close()


def test_reindex_equals_online_index(crawled: Path, tmp_path: Path) -> None:
    online = crawled / "archive.duckdb"
    before = {t: rows(online, t) for t in ("captures", "articles")}
    assert len(before["articles"]) >= 10
    assert any(r[8] == "revisit" for r in before["captures"])
    assert all(
        r[13] is not None
        for r in before["captures"]
        if r[5] == 200 and r[8] == "response" and "/20" in r[1]
    )  # discovered_via on article captures
    db = tmp_path / "archive.duckdb"
    shutil.copy(online, db)
    db.unlink()  # the WARCs alone
    r = cli("reindex", str(crawled / "warc"), "--db", str(db), "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert "%" in r.stderr  # the progress bar
    after = {t: rows(db, t) for t in ("captures", "articles")}
    assert after["captures"] == before["captures"]
    assert after["articles"] == before["articles"]
    # and search works on the rebuilt archive
    title = before["articles"][0][5]
    word = max(title.split(), key=len).strip(".,:;'\"")
    s = cli("search", word, "--db", str(db), "--format", "json")
    assert s.returncode == 0 and json.loads(s.stdout)


def provenance(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT id, is_article, text_source, title_source, date_source FROM articles ORDER BY id"
        ).fetchall()
    finally:
        con.close()


def test_reindex_fills_provenance_like_the_crawl(crawled: Path, tmp_path: Path) -> None:
    online = provenance(crawled / "archive.duckdb")
    articles = [r for r in online if r[1]]
    assert len(articles) >= 10
    # the crawl filled them: every article says where its text, title and date came from
    assert all(r[2] and r[3] and r[4] for r in articles), articles[:3]
    assert {r[2] for r in articles} <= {"trafilatura", "articleBody", "fallback"}
    db = tmp_path / "rebuilt.duckdb"
    r = cli("reindex", str(crawled / "warc"), "--db", str(db), "--workers", "1", "-q", "--no-fts")
    assert r.returncode == 0, r.stderr
    assert provenance(db) == online


def test_reindex_records_torn_warc_and_goes_on(crawled: Path, tmp_path: Path) -> None:
    src = sorted((crawled / "warc").glob("*.warc.gz"))[0]
    data = src.read_bytes()
    torn = tmp_path / "warc" / src.name
    torn.parent.mkdir()
    # garbage in the middle and a record cut in half at the end
    third = len(data) // 3
    torn.write_bytes(data[:third] + b"\x00garbage\xff" * 40 + data[third : len(data) - 200])
    db = tmp_path / "a.duckdb"
    result = reindex([str(torn.parent)], db, workers=1, progress=False)
    assert result.errors >= 1 and result.captures >= 1
    con = duckdb.connect(str(db), read_only=True)
    kinds = con.execute("SELECT kind, detail FROM fetch_errors").fetchall()
    n = con.execute("SELECT count(*) FROM captures").fetchone()[0]
    con.close()
    assert any(k == "warc" for k, _ in kinds)
    full = reindex([str(src)], tmp_path / "b.duckdb", workers=1, progress=False)
    assert 0 < n < full.captures


def test_export_parquet(crawled: Path, tmp_path: Path) -> None:
    out = tmp_path / "pq"
    r = cli("export", "parquet", str(out), "--db", str(crawled / "archive.duckdb"))
    assert r.returncode == 0, r.stderr
    parts = {p.parent.parent.name for p in (out / "articles").glob("*/*/*.parquet")}
    assert parts == {"outlet=nypost", "outlet=mirror"}
    n = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{out}/articles/*/*/*.parquet', hive_partitioning=1)"
    ).fetchone()[0]
    assert n == len(rows(crawled / "archive.duckdb", "articles"))
    assert (out / "captures").is_dir()


def all_tables(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in names}
    finally:
        con.close()


def test_reindex_killed_midway_leaves_the_archive_as_it_was(crawled: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    db = tmp_path / "archive.duckdb"
    shutil.copy(crawled / "archive.duckdb", db)
    before = all_tables(db)
    assert before["articles"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsarchive",
            "reindex",
            str(crawled / "warc"),
            "--db",
            str(db),
            "--workers",
            "1",
            "-q",
            "--no-fts",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    scratch: list[Path] = []
    deadline = time.monotonic() + 120  # a guard against a hang, not a timing assertion
    while not scratch and proc.poll() is None and time.monotonic() < deadline:
        # its spool: the kept rows are copied and WARC rows are being merged in
        scratch = list(tmp_path.glob("archive.duckdb.reindex-*.spool"))
        time.sleep(0.01)
    assert proc.poll() is None, "reindex finished before it could be killed"
    assert scratch, "reindex never started writing its new file"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert all_tables(db) == before
    # the next reindex removes the dead one's scratch files and completes
    r = cli("reindex", str(crawled / "warc"), "--db", str(db), "--workers", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert not list(tmp_path.glob("archive.duckdb.reindex-*"))
