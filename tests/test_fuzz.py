"""The small, seeded run of ``bench/fuzz.py``: mutated HTML through ``extract_article`` and
mutated WARC files (byte flips, truncation, record deletion, gzip member damage, header
garbage, huge headers, nested tags, bad charsets) through check, cdxj, reindex and repair,
as library calls and a few through the CLI. No uncaught exception, no hang, no record lost.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import fuzz  # noqa: E402


def test_mutated_pages_never_raise_or_hang() -> None:
    tally = fuzz.Tally()
    fuzz.fuzz_html(200, seed=7, tally=tally, timeout=10.0)
    assert tally.runs["extract_article"] == 200
    assert tally.crashes == [] and tally.hangs == []


def test_mutated_warcs_never_raise_hang_or_lose_records(tmp_path: Path) -> None:
    tally = fuzz.Tally()
    fuzz.fuzz_warcs(
        50, seed=7, tally=tally, timeout=10.0, workdir=tmp_path, cli_sample=2, reindex_sample=50
    )
    for verb in ("check_file", "index_file", "write_index", "reindex.scan_file", "repair_file"):
        assert tally.runs[verb] == 50
    assert tally.runs["reindex"] == 1 and tally.runs["cli cdxj"] == 2
    assert tally.crashes == [], "\n".join(tally.crashes[:3])
    assert tally.hangs == [] and tally.lost == []


def test_the_fuzzer_finds_a_crash_when_there_is_one(tmp_path: Path) -> None:
    """The harness is not blind: a reader that raises on bad input is counted."""
    tally = fuzz.Tally()

    def fragile() -> None:
        raise ValueError("Port out of range 0-65535")

    tally.call("reader", "x", fragile, timeout=5.0)

    def endless() -> None:
        while True:
            pass

    tally.call("reader", "y", endless, timeout=0.5)
    assert len(tally.crashes) == 1 and len(tally.hangs) == 1


def test_page_whose_root_is_an_svg_does_not_raise() -> None:
    """Found by bench/fuzz.py (seed 10, page 271): htmldate dropped the root element and
    lxml asserted; extract_article raised AssertionError on main."""
    from newsarchive.extract import extract_article

    page = '<svg><foreignObject><!DOCTYPE html><html lang="en<p>word word wor'
    extract_article(page, None)
    extract_article(page.encode(), "https://nypost.com/2024/05/03/x/")
