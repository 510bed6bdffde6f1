"""Conditional GET over a real crawl: validators from the archive, 304s answered from it."""

from __future__ import annotations

import duckdb

from newsarchive.warc.scan import iter_members
from tests.crawling import run_crawl

OUTLET = "guardian"


def _articles(db) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT url FROM articles").fetchall()}
    finally:
        con.close()


def test_an_unchanged_feed_is_read_again_so_no_article_is_lost(tmp_path):
    """A run stopped after two article requests leaves the rest of what its feeds listed
    unfetched. The next run gets 304s for those feeds; they are answered from the archive and
    read, so the rest is fetched (before, the 304 skipped them until the feed changed)."""
    from newsarchive.replica import Replica

    rep = Replica(seed=5, articles_per_outlet=24)
    rep.start()
    try:
        control = tmp_path / "control"
        control.mkdir()
        run_crawl(control, rep, [OUTLET])
        run_crawl(tmp_path, rep, [OUTLET], "NEWSARCHIVE_MAX_ARTICLES=2")
        partial = _articles(tmp_path / "archive.duckdb")
        second = run_crawl(tmp_path, rep, [OUTLET])
    finally:
        rep.stop()
    everything = _articles(control / "archive.duckdb")
    assert len(partial) == 2 and len(everything) > 4, everything
    assert _articles(tmp_path / "archive.duckdb") == everything
    stats = second["outlets"][OUTLET]
    assert stats["unchanged"] > 0 and stats["status_counts"].get("304", 0) > 0
    # each 304 is a server-not-modified revisit; the pages fetched for the first time are not
    revisits = [
        rec
        for path in sorted((tmp_path / "warc").glob("*.warc.gz"))
        for m in iter_members(path)
        for rec in m.records or []
        if rec.type == "revisit"
    ]
    assert revisits and all(
        r.header("WARC-Profile").endswith("/server-not-modified") for r in revisits
    )
    assert not {r.url for r in revisits} & (everything - partial)
