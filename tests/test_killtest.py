"""A small kill test: one crawl SIGKILLed a few times in a row at random moments, then
resumed, loses and duplicates nothing, its WARCs and pointers check out, and a reindex of
its WARCs into a new file equals its archive row for row (bench/killtest.py: 20 kills)."""

from __future__ import annotations

from tests.crawling import load_killtest


def test_killed_crawls_resume_without_loss_and_equal_their_reindex(tmp_path):
    killtest = load_killtest()
    rounds, summary = killtest.run_killtest(
        rounds=4,
        seed=3,
        outlets="nypost,cbc",
        scale=12,
        workdir=tmp_path,
        log=lambda *_: None,
        latency=0.1,
    )
    assert summary["reference_articles"] > 0
    [r] = rounds  # chain mode: one archive, killed four times, then resumed
    assert r.resume_rc == 0 and r.reindex_rc == 0
    assert (r.lost, r.duplicated, r.unexpected, r.bad_pointers) == (0, 0, 0, 0), r
    assert r.pointers > 0 and not r.warcio_bad and r.warc_check_rc == 0, r
    # row for row, ids and values (indexed_at aside)
    assert r.comparison["captures"]["crawl"] == r.pointers
    assert r.comparison["articles"]["crawl"] >= summary["reference_articles"]
    for table, t in r.comparison.items():
        assert t["crawl"] == t["reindex"], (table, t)
        assert t["only_in_crawl"] == t["only_in_reindex"] == 0, (table, t)
        assert not t["schema_differs"], (table, t)
    assert r.ok
