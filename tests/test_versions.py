"""The version rule (newsarchive.index.versions): one article row per canonical URL and
payload, kept on the earliest capture whatever order the rows are merged in."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsarchive.index.db import connect
from newsarchive.index.rows import article_row, capture_row
from newsarchive.index.spool import Spool


def _capture(cid: str, when: str, digest: str, kind: str = "response") -> dict:
    return capture_row(
        {
            "id": cid,
            "url": "https://example.test/a/1",
            "canonical_url": "https://example.test/a/1",
            "outlet": "x",
            "fetched_at": when,
            "status": 200,
            "mime": "text/html",
            "payload_digest": digest,
            "record_type": kind,
            "warc_filename": "f.warc.gz",
            "warc_offset": 0,
            "warc_length": 1,
        }
    )


def _article(cid: str) -> dict:
    page = {
        "capture_id": cid,
        "url": "https://example.test/a/1",
        "canonical_url": "https://example.test/a/1",
        "outlet": "x",
    }
    return article_row(page, {"title": "t", "text": "word " * 40})


@pytest.mark.parametrize("order", [("early", "late"), ("late", "early")])
def test_one_article_per_payload_whatever_the_merge_order(tmp_path: Path, order) -> None:
    db = tmp_path / "a.duckdb"
    caps = {
        "early": _capture("<urn:uuid:1>", "2026-06-01T10:00:00+00:00", "sha1:AAA"),
        "late": _capture("<urn:uuid:2>", "2026-06-01T11:00:00+00:00", "sha1:AAA", "revisit"),
    }
    changed = _capture("<urn:uuid:3>", "2026-06-01T12:00:00+00:00", "sha1:BBB")
    for name in order:  # one merge each
        spool = Spool(db)
        spool.append("captures", caps[name])
        spool.append("articles", _article(caps[name]["id"]))
        spool.seal()
        assert spool.try_merge(timeout=10)
    spool = Spool(db)
    spool.append("captures", changed)
    spool.append("articles", _article(changed["id"]))
    spool.seal()
    assert spool.try_merge(timeout=10)
    con = connect(db, read_only=True)
    try:
        ids = [r[0] for r in con.execute("SELECT id FROM articles ORDER BY id").fetchall()]
        n_caps = con.execute("SELECT count(*) FROM captures").fetchone()[0]
    finally:
        con.close()
    assert ids == ["<urn:uuid:1>", "<urn:uuid:3>"]  # the revisit is a capture only
    assert n_caps == 3
