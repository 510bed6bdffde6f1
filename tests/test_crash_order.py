"""Crash-ordered writes (issue 17 point 6): a WARC record is fsync'd before any index row
pointing at it can be committed. Observed in a real crawl at the system-call level (see
tests/fsync_order.py): when a spool segment is sealed (its rows become committable), every
capture row in it points at WARC bytes already fsync'd and readable from the file on disk."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from crawling import run_crawl

SCRIPT = Path(__file__).with_name("fsync_order.py")


def test_every_committed_row_points_at_fsynced_warc_bytes(tmp_path, replica, monkeypatch):
    log = tmp_path / "order.jsonl"
    warc_dir = tmp_path / "warc"
    monkeypatch.setenv("FSYNC_ORDER_LOG", str(log))
    monkeypatch.setenv("FSYNC_ORDER_WARC_DIR", str(warc_dir))
    run = run_crawl(
        tmp_path,
        replica,
        ["nypost", "mirror"],
        # small batches: many segments sealed while the WARC files are still being written
        "NEWSARCHIVE_INDEX_BATCH_SIZE=4",
        "NEWSARCHIVE_INDEX_MERGE_INTERVAL=0",
        entry=(str(SCRIPT),),
        warc_dir=warc_dir,
    )
    assert run["ok"]
    checks = [json.loads(line) for line in log.read_text().splitlines()]
    segments = {c["segment"] for c in checks}
    assert len(segments) >= 3, segments  # the barrier was exercised mid-crawl, not only at close
    late = [c for c in checks if c["end"] > c["synced"] or not c["readable"]]
    assert not late, late[:5]
    # rows were sealed while their WARC file was still being written, so the fsync that
    # covered them was the barrier's, not the one every file gets when it is closed
    assert any(c["open"] for c in checks), checks[:3]
    # and every capture row committed to the archive was among the rows checked
    con = duckdb.connect(str(tmp_path / "archive.duckdb"), read_only=True)
    try:
        committed = {r[0] for r in con.execute("SELECT id FROM captures").fetchall()}
    finally:
        con.close()
    assert committed and committed <= {c["id"] for c in checks}
