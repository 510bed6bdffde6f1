"""A bot challenge or an empty page stands in for an article on the first run; the second
run, with the same feed date, fetches and indexes the real article (issue 17, point 5)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from crawling import run_crawl

from newsarchive.replica import Replica


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


def test_a_page_that_stays_blocked_is_retried_with_backoff(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from newsarchive.index.seen import load_retries

    rep = Replica(seed=6, articles_per_outlet=4)
    site = rep.sites["nypost"]
    url = site.url(next(n for n in site.newest(site.total) if site.in_window(n)))
    rep.stand_ins[url] = "challenge"
    rep.start()
    db = tmp_path / "archive.duckdb"
    try:
        run_crawl(tmp_path, rep, ["nypost"])
        now = datetime.now(UTC)
        assert load_retries(db, ["nypost"], now) == [url]  # one try: due at the next run
        run_crawl(tmp_path, rep, ["nypost"])  # asked again, blocked again
    finally:
        rep.stop()
    now = datetime.now(UTC)
    assert load_retries(db, ["nypost"], now, base_hours=1.0) == []  # two tries: wait 1 h
    assert load_retries(db, ["nypost"], now + timedelta(hours=1.1), base_hours=1.0) == [url]
    assert load_retries(db, ["nypost"], now + timedelta(days=9), max_attempts=2) == []
    assert load_retries(db, ["mirror"], now + timedelta(days=9)) == []
