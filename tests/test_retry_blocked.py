"""A bot challenge or an empty page stands in for an article on the first run; the second
run, with the same feed date, fetches and indexes the real article (issue 17, point 5)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from crawling import run_crawl

from newsarchive.replica import Replica


@pytest.mark.xfail(
    strict=True,
    reason="issue 17 point 5 not finished: the feeds answer 304 on the second run, so the "
    "blocked URL is never rediscovered; the spider must requeue retry URLs from the archive",
)
@pytest.mark.parametrize("kind", ["challenge", "empty"])
def test_stand_in_page_is_retried_next_run(tmp_path: Path, kind: str) -> None:
    rep = Replica(seed=5, articles_per_outlet=4)
    site = rep.sites["nypost"]
    url = site.url(next(n for n in site.newest(site.total) if site.in_window(n)))
    rep.stand_ins[url] = kind
    rep.start()
    try:
        run_crawl(tmp_path, rep, ["nypost"])
        db = tmp_path / "archive.duckdb"
        con = duckdb.connect(str(db), read_only=True)
        first = con.execute("SELECT count(*) FROM normal_articles WHERE url = ?", [url]).fetchone()[
            0
        ]
        con.close()
        assert first == 0
        del rep.stand_ins[url]  # same feeds, same dates: only the page changed
        run_crawl(tmp_path, rep, ["nypost"])
        con = duckdb.connect(str(db), read_only=True)
        got = con.execute("SELECT title FROM normal_articles WHERE url = ?", [url]).fetchall()
        con.close()
    finally:
        rep.stop()
    assert len(got) == 1 and got[0][0]
