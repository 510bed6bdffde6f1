"""Phrases checked by word positions before (or instead of) the regex on the text (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsarchive.index.db import connect
from newsarchive.index.rows import article_row, capture_row
from newsarchive.index.spool import Spool
from newsarchive.query import search
from newsarchive.query.engine import Compiler, facts
from newsarchive.query.index import update_index
from newsarchive.query.parser import parse

T0 = datetime(2024, 5, 1, tzinfo=UTC)

# key, language, title, text
DOCS = [
    ("sw1", "en", "State of the union", "The speech was long. Nothing of the kind was said."),
    ("sw2", "en", "Union news", "The union of the states held; the of order is odd."),
    ("st1", "en", "Runners", "She was running fast when the storm came."),
    ("st2", "en", "Race", "He runs fast every morning."),
    ("w3a", "en", "Bye", "They said bye bye now and left."),
    ("w3b", "en", "Bye again", "Bye now, bye bye later."),
    (
        "par",
        "en",
        "Harbour closed",
        "The ferry stopped at the end\n\nStart of the works is next week.",
    ),
    ("cjk", "zh", "混合", "xyz abc北京 and more xyz abc text."),
    ("cj2", "zh", "混合二", "xyz abc北京 only here."),
]


def _rows(i: int, key: str, lang: str, title: str, text: str):
    url = f"https://p.example/{key}"
    fetched = T0 + timedelta(minutes=i)
    cap = {
        "id": f"<urn:uuid:p-{key}>", "url": url, "canonical_url": url, "outlet": "p",
        "fetched_at": fetched, "status": 200, "mime": "text/html",
        "payload_digest": f"sha1:{key}", "record_type": "response",
        "warc_filename": "p.warc.gz", "warc_offset": 1000 * i, "warc_length": 999,
    }  # fmt: skip
    art = {
        "title": title, "text": text, "authors": [], "published": fetched, "section": "news",
        "language": lang, "is_article": True, "page_type": "article", "paywalled": False,
        "extractor_version": "test",
    }  # fmt: skip
    page = {"capture_id": cap["id"], "url": url, "canonical_url": url, "outlet": "p"}
    return capture_row(cap), article_row(page, art)


def _ingest(db: Path, docs: list[tuple], start: int = 0) -> None:
    spool = Spool(db)
    for i, d in enumerate(docs, start):
        cap, art = _rows(i, *d)
        spool.append("captures", cap)
        spool.append("articles", art)
    spool.seal()
    assert spool.try_merge(timeout=30)


@pytest.fixture(scope="module")
def arch(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("pos") / "a.duckdb"
    _ingest(db, DOCS)
    return db


def ids(res) -> set[str]:
    return {h.article_id.split("-", 1)[1].rstrip(">") for h in res.hits}


def test_positions_count_every_token_title_first(arch: Path) -> None:
    con = connect(arch, read_only=True)
    try:
        rows = con.execute(
            "SELECT t.term, list_sort(p.pos) FROM qi_post p JOIN qi_terms t USING (termid) "
            "JOIN qi_docs d USING (docid) WHERE d.article_id = '<urn:uuid:p-sw1>' ORDER BY 1"
        ).fetchall()
        pos = dict(rows)
        # title "State of the union" = 0..3, text "The speech was long. Nothing of the kind..."
        assert pos["state"] == [0]
        assert pos["of"] == [1, 9]
        assert pos["the"] == [2, 4, 10]
        assert pos["union"] == [3]
        assert pos["kind"] == [11]
    finally:
        con.close()


def test_phrase_sql_uses_positions(arch: Path) -> None:
    con = connect(arch, read_only=True)
    try:
        sql = Compiler(con, facts(con)).compile(parse('"of the"'))
        assert "unnest(pos)" in sql and "SEMI JOIN" in sql
    finally:
        con.close()


def test_stopword_and_three_word_phrases(arch: Path) -> None:
    con = connect(arch, read_only=True)
    try:
        assert ids(search(con, '"of the"')) == {"sw1", "sw2", "par"}
        assert ids(search(con, '"the of"')) == {"sw2"}  # "the of order"
        assert ids(search(con, '"of the kind"')) == {"sw1"}
        assert ids(search(con, '"the union of the states"')) == {"sw2"}
        assert ids(search(con, '"union of the states"')) == {"sw2"}
        assert ids(search(con, '"state of the union"')) == {"sw1"}  # in the title
        assert ids(search(con, '"bye bye now"')) == {"w3a"}
        assert ids(search(con, '"now bye bye"')) == {"w3b"}
        assert ids(search(con, '"bye bye bye"')) == set()
        assert ids(search(con, '"bye now"')) == {"w3a", "w3b"}
        assert ids(search(con, '"said bye"')) == {"w3a"}
        assert ids(search(con, '"bye said"')) == set()
    finally:
        con.close()


def test_a_stemmed_form_at_the_right_place_is_not_the_phrase(arch: Path) -> None:
    # "running" and "runs" share the stem "run": positions line up, the text does not
    con = connect(arch, read_only=True)
    try:
        assert ids(search(con, "run")) == {"st1", "st2"}
        assert ids(search(con, '"running fast"')) == {"st1"}
        assert ids(search(con, '"runs fast"')) == {"st2"}
        assert ids(search(con, '"run fast"')) == set()
    finally:
        con.close()


def test_phrase_crosses_paragraphs_and_title_as_the_regex_does(arch: Path) -> None:
    con = connect(arch, read_only=True)
    try:
        assert ids(search(con, '"end start"')) == {"par"}  # across a blank line
        assert ids(search(con, '"closed the ferry"')) == {"par"}  # title, then text
        assert ids(search(con, 'text:"closed the ferry"')) == set()
        assert ids(search(con, 'title:"closed the ferry"')) == set()
        assert ids(search(con, 'text:"end start"')) == {"par"}
        assert ids(search(con, 'title:"harbour closed"')) == {"par"}
        assert ids(search(con, 'text:"harbour closed"')) == set()
    finally:
        con.close()


def test_word_next_to_cjk_is_left_to_the_regex(arch: Path) -> None:
    # tokens "xyz" "abc" are consecutive in both docs, but "abc北京" has no word edge after abc
    con = connect(arch, read_only=True)
    try:
        assert ids(search(con, '"xyz abc"')) == {"cjk"}
        assert ids(search(con, '"abc 北京"')) == set()  # no separator in the text
        assert ids(search(con, '"abc北京"')) == {"cjk", "cj2"}
    finally:
        con.close()


def test_positions_beyond_65535(tmp_path: Path) -> None:
    db = tmp_path / "long.duckdb"
    # 70,000 tokens, one word 70,000 times (its tf is capped at the USMALLINT maximum)
    text = "filler " * 35_000 + " ".join(f"w{i % 500}" for i in range(35_000))
    text += " needle haystack end"
    _ingest(db, [("long", "en", "Long", text), ("short", "en", "Short", "haystack needle")])
    con = connect(db, read_only=True)
    try:
        top = con.execute("SELECT max(list_max(pos)) FROM qi_post").fetchone()[0]
        assert top > 70_000
        assert ids(search(con, '"needle haystack"')) == {"long"}
        assert ids(search(con, '"haystack needle"')) == {"short"}
    finally:
        con.close()


def _to_old_format(db: Path) -> None:
    """What an archive indexed before positions looks like (schema 1)."""
    con = connect(db, read_only=False)
    try:
        con.execute("DROP VIEW qi_post")
        for t in ("qi_post_main", "qi_post_tail"):
            con.execute(f"ALTER TABLE {t} DROP COLUMN pos")
        con.execute("ALTER TABLE qi_docs DROP COLUMN cjk")
        con.execute(
            "CREATE VIEW qi_post AS SELECT * FROM qi_post_main UNION ALL SELECT * FROM qi_post_tail"
        )
        con.execute("DELETE FROM qi_meta WHERE key = 'pos_from'")
        con.execute("UPDATE qi_meta SET value = '1' WHERE key = 'schema'")
    finally:
        con.close()


def test_old_format_archive_answers_phrases_and_upgrades_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    _ingest(db, DOCS)
    _to_old_format(db)
    con = connect(db, read_only=True)
    try:
        assert facts(con).pos_from is None
        assert ids(search(con, '"of the"')) == {"sw1", "sw2", "par"}
        assert ids(search(con, '"runs fast"')) == {"st2"}
    finally:
        con.close()
    # the next merge upgrades it: old docs keep NULL positions, new ones get them
    _ingest(
        db, [("new1", "en", "Fresh", "Half of the vote runs fast."), ("new2", "en", "X", "of")], 50
    )
    con = connect(db, read_only=True)
    try:
        f = facts(con)
        assert f.pos_from == len(DOCS) + 1
        nulls = con.execute(
            "SELECT count(*) FILTER (WHERE pos IS NULL), count(*) FILTER (WHERE docid >= ?) "
            "FROM qi_post",
            [f.pos_from],
        ).fetchone()
        assert nulls[0] > 0 and nulls[1] > 0
        assert ids(search(con, '"of the"')) == {"sw1", "sw2", "par", "new1"}
        assert ids(search(con, '"runs fast"')) == {"st2", "new1"}
        assert ids(search(con, '"the of"')) == {"sw2"}
    finally:
        con.close()
    # and a writer's update_index on the upgraded archive is a no-op for the schema
    con = connect(db, read_only=False)
    try:
        assert update_index(con) == 0
    finally:
        con.close()
