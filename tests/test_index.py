"""Index: schema, spool merge, pipeline batching (count and time), FTS search, sql CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from scrapy import Spider
from scrapy.utils.test import get_crawler
from test_index_harness import capture_for, synthetic_article

from newsarchive.index.db import connect
from newsarchive.index.fts import SearchError, fts_path, fts_status, rebuild_fts, search
from newsarchive.index.pipeline import IndexPipeline
from newsarchive.index.rows import article_row, capture_row
from newsarchive.index.seen import load_seen
from newsarchive.index.spool import Spool, spool_dir

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
    return subprocess.run(
        [sys.executable, "-m", "newsarchive", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def harness(tmp: Path, **config) -> subprocess.Popen:
    cfg = {"db": str(tmp / "a.duckdb"), "ack": str(tmp / "ack"), "stats": str(tmp / "stats.json")}
    cfg.update(config)
    (tmp / "cfg.json").write_text(json.dumps(cfg))
    env = {k: v for k, v in os.environ.items() if k != "NEWSARCHIVE_DB"}
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "test_index_harness.py"), str(tmp / "cfg.json")],
        cwd=ROOT,
        env=env,
    )


def fill(db: Path, n: int, first: int = 0) -> None:
    """Put n synthetic captures + articles into the archive through the spool."""
    spool = Spool(db)
    for i in range(first, first + n):
        cap = capture_for(i)
        spool.append("captures", capture_row(cap))
        page = {
            "capture_id": cap["id"],
            "url": cap["url"],
            "canonical_url": cap["url"],
            "outlet": cap["outlet"],
        }
        spool.append("articles", article_row(page, synthetic_article(i)))
    spool.seal()
    assert spool.try_merge(timeout=10)


def count(db: Path, sql: str) -> int:
    con = connect(db, read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


# -- schema and spool ------------------------------------------------------------------------


def test_schema_types_and_idempotent_merge(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    fill(db, 5)
    fill(db, 5)  # the same captures again: still one row each
    con = duckdb.connect(str(db), read_only=True)  # plain duckdb, no project code
    types = dict(
        con.execute(
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
        ).fetchall()
    )
    assert types["captures.fetched_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["captures.warc_offset"] == "BIGINT"
    assert types["captures.discovered_via"] == "JSON"
    assert types["articles.authors"] == "VARCHAR[]"
    assert types["crawl_runs.outlets"] == "VARCHAR[]"
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM captures").fetchone() == (5, 5)
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 5
    via = con.execute("SELECT discovered_via->>'$.source' FROM captures LIMIT 1").fetchone()[0]
    assert via == "feed"
    con.close()
    assert not list(spool_dir(db).glob("*.jsonl"))


def test_archive_of_an_older_schema_gains_the_new_columns_in_place(tmp_path: Path) -> None:
    """The version rule: a column added to a table is added to older archives on the next
    writer open; their rows keep their values (NULL in the new column) and new merges
    fill it."""
    from newsarchive.index.schema import ARTICLES, SCHEMA_VERSION, TABLES, table_ddl

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    for name in TABLES:  # the archive as schema version 1 wrote it
        con.execute(table_ddl(name))
    for col in ("text_source", "title_source", "date_source"):
        con.execute(f"ALTER TABLE articles DROP COLUMN {col}")
    con.execute("CREATE TABLE index_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO index_meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO articles (id, title) VALUES ('old', 'An old row')")
    con.close()

    fill(db, 2)  # a writer open: the schema is brought up to date, then rows are merged
    con = duckdb.connect(str(db), read_only=True)
    cols = [r[0] for r in con.execute("SELECT name FROM pragma_table_info('articles')").fetchall()]
    assert cols == list(ARTICLES)
    assert con.execute("SELECT value FROM index_meta WHERE key = 'schema_version'").fetchone() == (
        SCHEMA_VERSION,
    )
    assert con.execute(
        "SELECT title, text_source, title_source FROM articles WHERE id = 'old'"
    ).fetchone() == ("An old row", None, None)
    got = con.execute(
        "SELECT DISTINCT text_source, title_source, date_source FROM articles WHERE id <> 'old'"
    ).fetchall()
    con.close()
    assert got == [("trafilatura", "og", "jsonld")]


def test_a_page_without_a_date_takes_its_feed_date() -> None:
    via = {"source": "feed", "source_url": "https://o.example/feed", "published": "2024-05-03"}
    page = {"capture_id": "x", "url": "u", "outlet": "o", "discovered_via": via}
    row = article_row(page, {"title": "T", "text": "t", "published": None})
    assert (row["published"], row["date_source"]) == ("2024-05-03T00:00:00+00:00", "feed")
    own = {"published": "2024-05-01T10:00:00+00:00", "date_source": "jsonld"}
    row = article_row(page, own)
    assert (row["published"][:10], row["date_source"]) == ("2024-05-01", "jsonld")
    # no date anywhere, or not an article: no date and no source
    row = article_row({**page, "discovered_via": {"source": "sitemap"}}, {"published": None})
    assert (row["published"], row["date_source"]) == (None, None)
    assert article_row(page, None)["date_source"] is None


def test_bad_values_become_null_not_a_failed_merge(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    spool = Spool(db)
    spool.append("captures", capture_row({"id": "x", "fetched_at": "not a date", "status": "x"}))
    page = {"capture_id": "x", "url": "u", "outlet": "o"}
    spool.append(
        "articles",
        article_row(page, {"published": "yesterday", "authors": "Solo", "tags": [1, None, "t"]}),
    )
    spool.seal()
    assert spool.try_merge()
    con = connect(db)
    assert con.execute("SELECT fetched_at, status FROM captures").fetchone() == (None, None)
    assert con.execute("SELECT published, authors, tags FROM articles").fetchone() == (
        None,
        ["Solo"],
        ["1", "t"],
    )
    con.close()


def test_orphan_open_segment_with_torn_line_is_recovered(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    d = spool_dir(db)
    d.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    rows = [json.dumps(dict(capture_row(capture_for(i)), _seq=i)) for i in range(3)]
    torn = rows[2][: len(rows[2]) // 2]
    (d / f"{time.time_ns():020d}-{dead}-000001.captures.jsonl.open").write_text(
        rows[0] + "\n" + rows[1] + "\n" + torn
    )
    connect(db, read_only=False).close()  # any writer open folds the spool
    assert count(db, "SELECT count(*) FROM captures") == 2
    assert not list(d.iterdir())


def test_crawl_runs_start_and_finish(tmp_path: Path) -> None:
    from newsarchive.index.db import finish_run, start_run

    db = tmp_path / "a.duckdb"
    run = start_run(["nypost", "mirror"], db_path=db)
    finish_run(run, {"pages": 3, "when": datetime.now(UTC)}, "finished", db_path=db)
    con = connect(db)
    row = con.execute(
        "SELECT outlets, status, stats->>'$.pages', started <= finished "
        "FROM crawl_runs WHERE id = ?",
        [run],
    ).fetchone()
    con.close()
    assert row == (["nypost", "mirror"], "finished", "3", True)


# -- pipeline batching -----------------------------------------------------------------------


@pytest.mark.parametrize("n,batch", [(1000, 300), (600, 200), (7, 500)])
def test_pipeline_batches_by_count(tmp_path: Path, n: int, batch: int) -> None:
    db = tmp_path / "a.duckdb"
    crawler = get_crawler(
        Spider,
        {
            "NEWSARCHIVE_DB": str(db),
            "NEWSARCHIVE_INDEX_BATCH_SIZE": batch,
            "NEWSARCHIVE_INDEX_FTS": False,
        },
    )
    crawler.stats.open_spider()
    os.environ.pop("NEWSARCHIVE_DB", None)
    pipe = IndexPipeline.from_crawler(crawler)
    for i in range(n):
        cap = capture_for(i)
        item = {
            "kind": "page",
            "capture_id": cap["id"],
            "url": cap["url"],
            "canonical_url": cap["url"],
            "outlet": cap["outlet"],
            "fetched_at": cap["fetched_at"],
            "article": synthetic_article(i),
        }
        assert pipe.process_item(item) is item
    pipe.finish()
    stats = crawler.stats.get_stats()
    # Sealed batches follow the count exactly; merges run off the reactor and may fold
    # several sealed batches into one transaction, never more transactions than batches.
    assert stats["newsarchive/index/batches"] == math.ceil(n / batch)
    assert 1 <= stats["newsarchive/index/transactions"] <= math.ceil(n / batch)
    assert stats["newsarchive/index/rows/articles"] == n
    assert count(db, "SELECT count(*) FROM articles") == n
    if n == 7:  # the spider's fetch_error items land in fetch_errors
        pipe.process_item(
            {
                "kind": "fetch_error",
                "url": "https://x/1",
                "outlet": "nypost",
                "error_kind": "http_404",
                "detail": "article",
                "time": datetime.now(UTC),
            }
        )
        pipe.finish()
        assert count(db, "SELECT kind FROM fetch_errors WHERE url = 'https://x/1'") == "http_404"


def test_pipeline_is_off_when_disabled() -> None:
    from scrapy.exceptions import NotConfigured

    crawler = get_crawler(Spider, {"NEWSARCHIVE_INDEX_ENABLED": False})
    with pytest.raises(NotConfigured):
        IndexPipeline.from_crawler(crawler)


def test_time_trigger_flushes_partial_batch_in_a_real_crawl(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    proc = harness(
        tmp_path, n=7, batch_size=500, batch_seconds=0.3, pause_after=7, pause=15, fts=False
    )
    seen_mid = 0
    deadline = time.monotonic() + 12  # well inside the spider's 15 s pause
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    seen_mid = count(db, "SELECT count(*) FROM captures")
                except Exception:  # noqa: BLE001 - racing the writer's first open
                    seen_mid = 0
                if seen_mid == 7:
                    break
            time.sleep(0.1)
        assert proc.poll() is None, "the crawl ended before the pause"
    finally:
        proc.wait(timeout=60)
    assert seen_mid == 7  # merged while the spider was still running, well before close
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["newsarchive/index/time_flushes"] >= 1
    assert stats["newsarchive/index/rows/captures"] == 7


def test_extract_errors_and_flags_are_recorded(tmp_path: Path) -> None:
    proc = harness(tmp_path, n=200, batch_size=64, fts=False)
    assert proc.wait(timeout=60) == 0
    db = tmp_path / "a.duckdb"
    errors = [i for i in range(200) if i % 97 == 3]
    assert count(db, "SELECT count(*) FROM fetch_errors WHERE kind = 'extract:timeout'") == len(
        errors
    )
    assert count(db, "SELECT count(*) FROM articles") == 200 - len(errors)
    assert count(db, "SELECT count(*) FROM articles WHERE NOT is_article") == len(
        [i for i in range(200) if i % 50 == 7 and i % 97 != 3]
    )
    assert count(db, "SELECT count(*) FROM captures") == 200


def test_seen_set_includes_spool(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    fill(db, 6)
    spool = Spool(db)
    cap = capture_for(99)
    row = article_row(
        {
            "capture_id": cap["id"],
            "url": cap["url"],
            "canonical_url": cap["url"],
            "outlet": cap["outlet"],
        },
        synthetic_article(99),
    )
    row["_fetched_at"] = cap["fetched_at"].isoformat()
    spool.append("articles", row)  # still open, not merged
    seen = load_seen(db, ["nypost"])
    want = {capture_for(i)["url"] for i in range(6) if capture_for(i)["outlet"] == "nypost"}
    assert set(seen) == want | {cap["url"]}
    # the version date: the newest of the page's published/modified and the source's dates
    for i in (3, 99):
        assert seen[capture_for(i)["url"]] == datetime.fromisoformat(
            synthetic_article(i)["published"]
        )
    assert load_seen(tmp_path / "none.duckdb", ["nypost"]) == {}


# -- full-text search ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def search_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("fts") / "a.duckdb"
    fill(db, 300)
    assert rebuild_fts(db)
    return db


def test_fts_finds_the_right_documents(search_db: Path) -> None:
    want = {capture_for(i)["id"] for i in range(300) if i % 10 == 0 and i % 50 != 7}
    con = connect(search_db)
    hits = search(con, "zeppelin", limit=100)
    assert {h.id for h in hits} == want  # non-articles (liveblogs) are not indexed
    assert all("**zeppelin**" in h.snippet.lower() for h in hits)
    only = search(con, "zeppelin", outlet=["mirror"], limit=100)
    assert {h.id for h in only} == {
        capture_for(i)["id"]
        for i in range(300)
        if i % 10 == 0 and capture_for(i)["outlet"] == "mirror"
    }
    since, until = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    dated = search(con, "zeppelin", since=since, until=until, limit=100)
    assert dated and all(since <= h.published < until for h in dated)
    assert len(dated) < len(hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(SearchError, match="empty query"):
        search(con, "  ?! ")
    con.close()


def test_fts_rebuild_only_when_articles_changed(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    fill(db, 20)
    assert rebuild_fts(db) is True
    assert rebuild_fts(db) is False
    fill(db, 5, first=20)
    con = connect(db)
    assert fts_status(con) == (True, False)  # stale: search still answers, and says so
    con.close()
    assert rebuild_fts(db) is True
    con = connect(db)
    assert fts_status(con) == (True, True)
    assert len(search(con, "zeppelin", limit=50)) == 3  # 0, 10, 20
    con.close()
    # The index is a side file: the archive itself stays plain DuckDB tables and views.
    assert fts_path(db).exists() and not list(db.parent.glob("*.tmp-*"))
    plain = duckdb.connect(str(db), read_only=True)
    schemas = {r[0] for r in plain.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
    plain.close()
    assert not any(s.startswith("fts_main") for s in schemas)


def test_search_cli(search_db: Path) -> None:
    r = cli("search", "zeppelin", "--db", str(search_db), "--outlet", "bbc", "--limit", "3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("bbc ·") == 3 and "zeppelin" in r.stdout.lower()
    r = cli(
        "search",
        "zeppelin",
        "--db",
        str(search_db),
        "--format",
        "json",
        "--since",
        "2024-02-01",
        "--until",
        "2024-03-01",
    )
    hits = json.loads(r.stdout)["hits"]
    assert hits and all("2024-02" in h["published"] for h in hits)
    for bad, msg in ((["  "], "empty query"), (["x", "--since", "soon"], "not a date")):
        r = cli("search", *bad, "--db", str(search_db))
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr
    r = cli("search", "x", "--db", str(search_db.parent / "missing.duckdb"))
    assert r.returncode == 2 and "no archive" in r.stderr


# -- sql -------------------------------------------------------------------------------------


def test_sql_cli_formats_and_errors(search_db: Path, tmp_path: Path) -> None:
    q = "SELECT outlet, count(*) AS n FROM articles GROUP BY 1 ORDER BY 1"
    r = cli("sql", q, "--db", str(search_db))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["outlet", "|", "n"] and lines[2].startswith("bbc")
    r = cli("sql", "SELECT text FROM articles LIMIT 1", "--db", str(search_db), "--width", "12")
    assert max(len(x.rstrip("-")) for x in r.stdout.splitlines()) <= 12 and "…" in r.stdout
    r = cli("sql", "SELECT id FROM captures", "--db", str(search_db), "--max-rows", "5")
    assert len(r.stdout.splitlines()) == 2 + 5 and "first 5 rows shown" in r.stderr
    r = cli("sql", q, "--db", str(search_db), "--format", "csv")
    assert r.stdout.splitlines()[0] == "outlet,n" and len(r.stdout.splitlines()) == 4
    r = cli("sql", q, "--db", str(search_db), "--format", "json")
    assert sum(row["n"] for row in json.loads(r.stdout)) == 300
    out = tmp_path / "x.parquet"
    assert cli("sql", q, "--db", str(search_db), "--format", "parquet").returncode == 2
    r = cli("sql", q, "--db", str(search_db), "--format", "parquet", "--output", str(out))
    assert r.returncode == 0 and duckdb.sql(f"SELECT sum(n) FROM '{out}'").fetchone()[0] == 300
    r = cli("sql", "SELEC oops", "--db", str(search_db))
    assert r.returncode == 2 and "Parser Error" in r.stderr and "Traceback" not in r.stderr
    r = cli("sql", "DELETE FROM articles", "--db", str(search_db))
    assert r.returncode == 2 and "read-only" in r.stderr
