"""What a killed crawl leaves half-indexed is completed from the WARCs at the next start
(newsarchive.index.resume), so the archive equals a reindex of its WARCs row for row
(issue 17 point 1). The kill's leftovers are made exactly here, on a real crawl's archive:
a capture without its article, a WARC record without its capture row or article, an article
row whose record never reached a WARC."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from crawling import ROOT, load_killtest, run_crawl

from newsarchive.index.db import connect
from newsarchive.replica import Replica


def _reindex(warc: Path, db: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "newsarchive", "reindex", str(warc), "--db", str(db)]
        + ["--no-fts", "-q", "--workers", "1"],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _differing(killtest, a: Path, b: Path) -> dict:
    comparison = killtest.compare_archives(a, b)
    assert comparison["captures"]["crawl"] and comparison["articles"]["crawl"]
    return {t: c for t, c in comparison.items() if c["only_in_crawl"] or c["only_in_reindex"]}


def test_resume_completes_a_killed_runs_rows_from_the_warcs(tmp_path: Path) -> None:
    killtest = load_killtest()
    db, warc = tmp_path / "archive.duckdb", tmp_path / "warc"
    rep = Replica(seed=7, articles_per_outlet=12)
    rep.start()
    try:
        run_crawl(tmp_path, rep, ["nypost"])
        _reindex(warc, tmp_path / "before.duckdb")
        assert _differing(killtest, db, tmp_path / "before.duckdb") == {}

        # What a SIGKILL leaves behind, made on purpose.
        con = duckdb.connect(str(db))
        arts = con.execute(
            "SELECT a.id, a.url FROM articles a WHERE a.is_article ORDER BY a.id"
        ).fetchall()
        assert len(arts) >= 4
        no_article = arts[:2]  # capture row and WARC record, no article row
        nothing = arts[2]  # WARC record only
        con.execute(
            "DELETE FROM articles WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [[i for i, _ in [*no_article, nothing]]],
        )
        con.execute("DELETE FROM captures WHERE id = ?", [nothing[0]])
        # an article row whose record the writer thread never wrote
        con.execute(
            "INSERT INTO articles SELECT * REPLACE ('<urn:uuid:lost>' AS id, "
            "'<urn:uuid:lost>' AS capture_id, url || '-lost' AS url, "
            "canonical_url || '-lost' AS canonical_url) FROM articles WHERE id = ?",
            [arts[3][0]],
        )
        con.close()
        sent = len(rep.sent)
        stats = run_crawl(tmp_path, rep, ["nypost"])
        refetched = {s.url for s in rep.sent[sent:]}
    finally:
        rep.stop()

    _reindex(warc, tmp_path / "after.duckdb")
    assert _differing(killtest, db, tmp_path / "after.duckdb") == {}
    # completed from the WARC bytes, under the killed capture's own id: not fetched again
    assert not refetched & {u for _, u in [*no_article, nothing]}
    con = connect(db, read_only=True)
    try:
        back = con.execute(
            "SELECT id FROM articles WHERE id IN (SELECT unnest(?::VARCHAR[]))",
            [[i for i, _ in [*no_article, nothing]]],
        ).fetchall()
        lost = con.execute("SELECT count(*) FROM articles WHERE id = '<urn:uuid:lost>'").fetchone()
    finally:
        con.close()
    assert len(back) == 3 and lost == (0,)
    assert stats.get("resumed_from_warcs") == {"captures": 1, "articles": 3, "orphans": 1}
