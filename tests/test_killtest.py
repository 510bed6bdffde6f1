"""A small kill test (2 rounds): crawls SIGKILLed at a random moment and resumed lose and
duplicate nothing, and their WARCs, pointers and reindex all check out (bench/killtest.py
runs 20 rounds)."""

from __future__ import annotations

import importlib.util
import sys

from tests.crawling import ROOT


def test_killed_crawls_resume_without_loss(tmp_path):
    spec = importlib.util.spec_from_file_location("killtest", ROOT / "bench" / "killtest.py")
    killtest = importlib.util.module_from_spec(spec)
    sys.modules["killtest"] = killtest  # dataclasses look their module up there
    spec.loader.exec_module(killtest)
    rounds, summary = killtest.run_killtest(
        rounds=2, seed=3, outlets="nypost,cbc", scale=6, workdir=tmp_path, log=lambda *_: None
    )
    assert summary["reference_articles"] > 0
    for r in rounds:
        assert r.resume_rc == 0
        assert (r.lost, r.duplicated, r.unexpected, r.bad_pointers) == (0, 0, 0, 0), r
        assert r.pointers > 0 and not r.warcio_bad and r.warc_check_rc == 0, r
        assert not any(r.reindex_diff.values()), r.reindex_diff
