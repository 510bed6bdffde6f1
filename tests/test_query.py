"""The query language, the incremental query index and the research verbs (issue 13)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from newsarchive.index.db import connect
from newsarchive.index.spool import Spool
from newsarchive.query import (
    QuerySyntaxError,
    Scope,
    count,
    parse,
    sample,
    search,
    top_outlets,
    top_words,
)
from newsarchive.query.export import read_cursor, write_rows
from newsarchive.query.index import rebuild_index, update_index
from newsarchive.query.parser import And, Not, Or, Phrase, Range, Term

ROOT = Path(__file__).resolve().parents[1]


# ---- parser ---------------------------------------------------------------------------------
def test_parser_operators() -> None:
    assert parse("a b") == And((Term("a", pos=0), Term("b", pos=2)), 0)
    assert parse("a AND b") == And((Term("a", pos=0), Term("b", pos=6)), 0)
    assert parse("a OR b") == Or((Term("a", pos=0), Term("b", pos=5)), 0)
    assert parse('"new york"') == Phrase("new york", None, 0)
    assert parse("NOT a") == Not(Term("a", pos=4), 0)
    assert parse("a -b") == And((Term("a", pos=0), Not(Term("b", pos=3), 2)), 0)
    assert parse("(a OR b) c") == And(
        (Or((Term("a", pos=1), Term("b", pos=6)), 1), Term("c", pos=9)), 0
    )
    assert parse("elect*") == Term("elect", None, True, 0)
    assert parse('title:"vote count"') == Phrase("vote count", "title", 6)
    assert parse("title:(a OR b)") == Or((Term("a", "title", pos=7), Term("b", "title", pos=12)), 7)
    for f in ("text", "author", "outlet", "collection", "lang", "section", "url", "story"):
        node = parse(f"{f}:x")
        assert isinstance(node, Term) and node.field == f and node.text == "x"
    assert parse("published:[2024-01-01 TO 2024-02-01]") == Range(
        "published", "2024-01-01", "2024-02-01", 0
    )
    assert parse("published:[* TO 2024]") == Range("published", None, "2024", 0)
    assert parse("url:https://x.com/a:b") == Term("https://x.com/a:b", "url", False, 4)
    # a or b binds looser than adjacency: a b OR c == (a b) OR c
    assert isinstance(parse("a b OR c"), Or)
    # lower-case operators are words
    assert parse("cats and dogs") == And(
        (Term("cats", pos=0), Term("and", pos=5), Term("dogs", pos=9)), 0
    )


@pytest.mark.parametrize(
    "q, pos, words",
    [
        ("", 0, "empty query"),
        ('a "b c', 2, "unclosed quote"),
        ("a (b", 2, "unclosed '('"),
        ("a b)", 3, "unmatched ')'"),
        ("a OR", 2, "OR needs"),
        ("AND a", 0, "unexpected"),
        ("a NOT", 2, "NOT needs"),
        ("foo:bar", 0, "unknown field 'foo'"),
        ("title: x", 0, "needs a value right after"),
        ("published:[2024 2025]", 10, "[FROM TO UNTIL]"),
        ("published:[2024 TO 2025", 10, "unclosed range"),
        ("title:[a TO b]", 6, "ranges work on"),
        ("a ()", 2, "empty parentheses"),
        ("x*y", 1, "'*' only works at the end"),
        ('""', 0, "empty phrase"),
        ("!!!", 0, "no searchable word"),
    ],
)
def test_parser_errors_name_the_position(q: str, pos: int, words: str) -> None:
    with pytest.raises(QuerySyntaxError) as e:
        parse(q)
    assert e.value.position == pos, str(e.value)
    assert words in str(e.value)
    assert f"position {pos}" in str(e.value)


# ---- a small archive, written through the real spool and merge --------------------------------
T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)

DOCS = [
    # key, outlet, lang, title, text, day offset, canonical url (versions share it)
    ("ru1", "moscowtimes", "ru", "Новости из Москвы", "Вчера в Москве прошёл большой митинг.", 0, None),
    ("uk1", "bbc", "uk", "Київ сьогодні", "Столиця України Київ готується до зими.", 1, None),
    ("zh1", "euronews", "zh", "北京大学的新闻", "北京大学今天举行了开学典礼。学生们很高兴。", 2, None),
    ("el1", "euronews", "el", "Ειδήσεις από την Αθήνα", "Η κυβέρνηση στην Αθήνα ανακοίνωσε μέτρα.", 2, None),
    ("ar1", "euronews", "ar", "أخبار القاهرة", "أعلنت الحكومة في القاهرة عن خطة جديدة.", 3, None),
    ("en1", "guardian", "en", "Council votes on housing plan", "The city council voted on the new housing plan after a long debate about rents.", 0, None),
    ("en2", "bbc", "en", "Election results", "The election was close. Voters in the city council wards turned out early.", 1, None),
    ("en3", "nypost", "en-US", "Mayor angers voters", "The mayor said the housing plan was dead. Critics called it a disaster for renters.", 1, None),
    ("en4", "dailymail", "en", "Tabloid story on housing", "Housing prices rose again; a new record for the capital and its council estates.", 2, None),
    ("v1", "guardian", "en", "Storm hits coast", "An early report: the storm is approaching the coast.", 3, "https://guardian.example/storm"),
    ("v2", "guardian", "en", "Storm hits coast, thousands without power", "Updated: the storm hit the coast overnight and thousands lost power.", 3, "https://guardian.example/storm"),
]  # fmt: skip


def _rows(i: int, key: str, outlet: str, lang: str, title: str, text: str, day: int, canon):
    from newsarchive.index.rows import article_row, capture_row

    url = canon or f"https://{outlet}.example/{key}"
    fetched = T0 + timedelta(days=day, minutes=i)
    cap = {
        "id": f"<urn:uuid:q-{key}>", "url": url, "canonical_url": url, "outlet": outlet,
        "fetched_at": fetched, "status": 200, "mime": "text/html",
        "payload_digest": f"sha1:{key}", "record_type": "response",
        "warc_filename": "q.warc.gz", "warc_offset": 1000 * i, "warc_length": 999,
    }  # fmt: skip
    art = {
        "title": title, "text": text, "authors": [f"Writer {outlet}"], "published": fetched,
        "section": "news", "language": lang, "is_article": True, "page_type": "article",
        "paywalled": False, "extractor_version": "test",
    }  # fmt: skip
    page = {"capture_id": cap["id"], "url": url, "canonical_url": url, "outlet": outlet}
    return capture_row(cap), article_row(page, art)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("q") / "a.duckdb"
    spool = Spool(db)
    for half in (DOCS[:6], DOCS[6:]):  # two merges: the index is appended, not rebuilt
        for i, d in enumerate(half, DOCS.index(half[0])):
            cap, art = _rows(i, *d)
            spool.append("captures", cap)
            spool.append("articles", art)
        spool.seal()
        assert spool.try_merge(timeout=30)
    return db


def ids(res) -> set[str]:
    return {h.article_id.split("-", 1)[1].rstrip(">") for h in res.hits}


def test_scripts_and_stemming(small: Path) -> None:
    con = connect(small, read_only=True)
    try:
        assert ids(search(con, "Київ")) == {"uk1"}
        assert ids(search(con, "Москва")) == {"ru1"}  # Russian stems: Москвы, Москве
        assert ids(search(con, "北京")) == {"zh1"}  # a bigram
        assert ids(search(con, "北京大学")) == {"zh1"}  # bigrams as a phrase
        assert ids(search(con, "学生")) == {"zh1"}
        assert ids(search(con, "北大")) == set()  # not adjacent in the text
        assert ids(search(con, "Αθήνα")) == {"el1"}
        assert ids(search(con, "القاهرة")) == {"ar1"}
        assert ids(search(con, "vote")) == {"en1"}  # English stems: votes, voted
        assert ids(search(con, "voters")) == {"en2", "en3"}
    finally:
        con.close()


def test_operators_against_the_index(small: Path) -> None:
    con = connect(small, read_only=True)
    try:
        assert ids(search(con, "housing plan")) == {"en1", "en3"}
        assert ids(search(con, '"housing plan"')) == {"en1", "en3"}
        assert ids(search(con, '"plan housing"')) == set()
        assert ids(search(con, "housing -mayor")) == {"en1", "en4"}
        assert ids(search(con, "housing NOT (mayor OR tabloid)")) == {"en1"}
        assert ids(search(con, "mayor OR election")) == {"en2", "en3"}
        assert ids(search(con, "title:housing")) == {"en1", "en4"}
        assert ids(search(con, "text:housing -title:housing")) == {"en3"}
        assert ids(search(con, "hous*")) == {"en1", "en3", "en4"}
        assert ids(search(con, "council outlet:bbc")) == {"en2"}
        assert ids(search(con, "council collection:tabloids")) == {"en4"}
        assert ids(search(con, "council lang:en")) == {"en1", "en2", "en4"}
        assert ids(search(con, 'housing author:"writer nypost"')) == {"en3"}
        assert ids(search(con, "council url:guardian")) == {"en1"}
        assert ids(search(con, "council published:[2024-03-02 TO 2024-03-03]")) == {"en2", "en4"}
        assert ids(search(con, "council", Scope(outlets=("guardian", "bbc")))) == {"en1", "en2"}
        assert ids(search(con, "council", Scope(collections=("uk-national",)))) == {
            "en1",
            "en2",
            "en4",
        }
        # title boost: the article with the word in its title ranks first
        assert search(con, "housing").hits[0].article_id.endswith("en4>") or search(
            con, "housing"
        ).hits[0].title.lower().count("housing")
        # story: reads story_members, which every merge fills: an unknown story matches nothing
        assert search(con, "story:abc").total == 0
    finally:
        con.close()


def test_one_hit_per_article_latest_version(small: Path) -> None:
    con = connect(small, read_only=True)
    try:
        res = search(con, "storm coast")
        assert res.total == 1 and ids(res) == {"v2"}  # the latest version only
        assert ids(search(con, "storm coast", all_versions=True)) == {"v1", "v2"}
        assert ids(search(con, "approaching")) == set()  # only in the superseded version
        assert ids(search(con, "approaching", all_versions=True)) == {"v1"}
        h = res.hits[0]
        assert h.warc_filename == "q.warc.gz" and h.warc_length == 999
        assert len(h.snippet) <= 300
        for s, e in h.highlights:
            assert h.snippet[s:e].lower() in ("storm", "coast")
        assert h.highlights
        dated = search(con, "council", sort="date")
        dates = [x.published for x in dated.hits]
        assert dates == sorted(dates, reverse=True)
    finally:
        con.close()


def test_snippet_is_short_and_offsets_point_at_words(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    spool = Spool(db)
    text = ("filler words here. " * 200) + "The rare zebrafish appeared. " + ("more filler. " * 200)
    cap, art = _rows(0, "long", "bbc", "en", "Long piece", text, 0, None)
    spool.append("captures", cap)
    spool.append("articles", art)
    spool.seal()
    assert spool.try_merge(timeout=30)
    con = connect(db, read_only=True)
    try:
        h = search(con, "zebrafish").hits[0]
        assert len(h.snippet) <= 300 and "zebrafish" in h.snippet
        assert [h.snippet[s:e] for s, e in h.highlights] == ["zebrafish"]
    finally:
        con.close()


def test_count_normalize_matches_hand_written_sql(small: Path) -> None:
    con = connect(small, read_only=True)
    try:
        got = count(con, "council OR storm", by="day", normalize=True)
        want = con.execute(
            """
            WITH latest AS (
                SELECT a.*, c.fetched_at FROM articles a JOIN captures c ON c.id = a.capture_id
                QUALIFY row_number() OVER (PARTITION BY a.canonical_url ORDER BY c.fetched_at DESC) = 1)
            SELECT strftime(published AT TIME ZONE 'UTC', '%Y-%m-%d') AS k,
                   count(*) FILTER (WHERE regexp_matches(lower(title || ' ' || text), 'council|storm')),
                   count(*)
            FROM latest GROUP BY k ORDER BY k
            """
        ).fetchall()
        assert [(b.key, b.n, b.total) for b in got] == want
        for b in got:
            assert b.share == pytest.approx(b.n / b.total)
        # normalised by the same outlets: scope to two outlets
        got = count(con, "council", Scope(outlets=("bbc", "guardian")), by="outlet", normalize=True)
        assert {(b.key, b.n, b.total) for b in got} == {("bbc", 1, 2), ("guardian", 1, 2)}
        assert [(b.key, b.n) for b in top_outlets(con, "council")][:1] in (
            [("bbc", 1)],
            [("dailymail", 1)],
            [("guardian", 1)],
        )
        words = dict(top_words(con, "housing"))
        assert "the" not in words and "housing" not in words and words.get("plan", 0) >= 2
    finally:
        con.close()


def test_sample_is_reproducible(small: Path) -> None:
    con = connect(small, read_only=True)
    try:
        a = sample(con, "*", n=4, seed=7)
        b = sample(con, "*", n=4, seed=7)
        assert a == b and len(a) == 4
        others = [tuple(r["article_id"] for r in sample(con, "*", n=4, seed=s)) for s in range(8)]
        assert len(set(others)) > 1  # the seed matters
        assert len(sample(con, "*", n=100, seed=1)) == len(DOCS) - 1  # one per article
    finally:
        con.close()


def test_sql_macro_ranks_with_bm25(small: Path) -> None:
    # plain DuckDB, no project code: the macro is stored in the archive
    con = duckdb.connect(str(small), read_only=True)
    try:
        rows = con.execute(
            "SELECT a.title FROM bm25('housing') b JOIN articles a ON a.id = b.article_id "
            "ORDER BY b.score DESC"
        ).fetchall()
        assert len(rows) == 3 and "housing" in rows[0][0].lower()
    finally:
        con.close()


def test_cli_verbs(small: Path, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "newsarchive", *args, "--db", str(small)],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip

    r = run("search", "Київ", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["total"] == 1 and out["hits"][0]["highlights"] and "**" not in r.stdout
    r = run("search", "a (b")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: unclosed '(', expected ')' (at position 2)"
    ]
    svg = tmp_path / "c.svg"
    r = run("count", "council", "--by", "day", "--normalize", "--format", "csv", "--plot", str(svg))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "day,n,total,share" and svg.read_text().startswith("<svg")
    r = run("top-words", "housing", "--format", "json", "--collection", "uk-national")
    assert r.returncode == 0 and json.loads(r.stdout)
    r = run("count", "x", "--collection", "nope")
    assert r.returncode == 2 and "unknown collection 'nope'" in r.stderr


# ---- export of 10^5 rows, interrupted and resumed ------------------------------------------
N_EXPORT = 100_000


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """10^5 short articles inserted in bulk (SQL), then indexed by update_index."""
    db = tmp_path_factory.mktemp("big") / "b.duckdb"
    con = connect(db, read_only=False)
    try:
        con.execute(
            f"""
            INSERT INTO captures (id, url, canonical_url, outlet, fetched_at, warc_filename,
                                  warc_offset, warc_length)
            SELECT 'c' || i, 'https://x.example/' || i, 'https://x.example/' || i,
                   'outlet' || (i % 7), TIMESTAMPTZ '2024-01-01' + INTERVAL (i) MINUTE,
                   'big-' || (i // 10000) || '.warc.gz', i * 700, 699
            FROM range({N_EXPORT}) t(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO articles (id, capture_id, outlet, url, canonical_url, title, text,
                                  language, is_article, paywalled, published)
            SELECT 'c' || i, 'c' || i, 'outlet' || (i % 7), 'https://x.example/' || i,
                   'https://x.example/' || i, 'Item ' || i,
                   'common word ' || CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END,
                   'en', true, false, TIMESTAMPTZ '2024-01-01' + INTERVAL (i) MINUTE
            FROM range({N_EXPORT}) t(i)
            """
        )
        assert update_index(con) == N_EXPORT
    finally:
        con.close()
    return db


def test_export_interrupted_and_resumed(big: Path, tmp_path: Path) -> None:
    out = tmp_path / "e.jsonl"
    code = (
        "import sys; from newsarchive.index.db import connect; "
        "from newsarchive.query.export import write_rows; "
        f"con = connect({str(big)!r}); write_rows(con, 'common', fmt='jsonl', "
        f"out_path_or_file={str(out)!r}, chunk=5000)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it mid-way, between or inside chunks
        cur = out.with_name(out.name + ".cursor")
        if cur.exists() and int(json.loads(cur.read_text())["cursor"].split("@")[0]) > 20_000:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cursor = read_cursor(out)
    assert cursor is not None
    lines_before = out.read_bytes().count(b"\n")
    assert 0 < lines_before < N_EXPORT, "the export was not interrupted mid-way"
    with open(out, "a") as f:  # as if killed in the middle of writing a chunk
        f.write('{"article_id": "torn')
    con = connect(big, read_only=True)
    try:
        n, _ = write_rows(con, "common", fmt="jsonl", out_path_or_file=out, cursor=cursor)
    finally:
        con.close()
    got = [json.loads(line)["article_id"] for line in out.read_text().splitlines()]
    assert len(got) == N_EXPORT and len(set(got)) == N_EXPORT
    assert set(got) == {f"c{i}" for i in range(N_EXPORT)}
    first = json.loads(out.read_text().splitlines()[0])
    assert first["warc_filename"].startswith("big-") and first["warc_length"] == 699
    assert n == N_EXPORT - lines_before


def test_export_csv_and_parquet(big: Path, tmp_path: Path) -> None:
    con = connect(big, read_only=True)
    try:
        n, _ = write_rows(
            con, "even outlet:outlet3", fmt="csv", out_path_or_file=tmp_path / "e.csv"
        )
        want = sum(1 for i in range(N_EXPORT) if i % 2 == 0 and i % 7 == 3)
        assert n == want
        n, _ = write_rows(con, "odd", fmt="parquet", out_path_or_file=tmp_path / "pq", chunk=20000)
        assert n == N_EXPORT // 2
        assert (
            con.execute(
                f"SELECT count(DISTINCT article_id) FROM '{tmp_path / 'pq'}/*.parquet'"
            ).fetchone()[0]
            == N_EXPORT // 2
        )
    finally:
        con.close()


def test_rebuild_equals_incremental(small: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "c.duckdb"
    shutil.copy(small, copy)
    assert rebuild_index(copy) == len(DOCS)
    a = connect(small, read_only=True)
    b = connect(copy, read_only=True)
    try:
        for q in ("council", "housing -mayor", "Київ", '"housing plan"', "storm"):
            ra, rb = search(a, q), search(b, q)
            assert [(h.article_id, round(h.score, 6)) for h in ra.hits] == [
                (h.article_id, round(h.score, 6)) for h in rb.hits
            ]
    finally:
        a.close()
        b.close()


# ---- during a running crawl: captured at t, found by search before t + 60 s -------------------
def test_searchable_within_60s_during_a_crawl(tmp_path: Path) -> None:
    replica_mod = pytest.importorskip("newsarchive.replica")
    from newsarchive.index.spool import spool_rows

    rep = replica_mod.Replica(seed=5, articles_per_outlet=10)
    rep.start()
    db = tmp_path / "archive.duckdb"
    cmd = [
        sys.executable, "-m", "newsarchive", "crawl", "--outlets", "nypost,mirror", "--fast",
        "--db", str(db), "--warc-dir", str(tmp_path / "warc"),
        "-s", "NEWSARCHIVE_INDEX_BATCH_SECONDS=2", "-s", "NEWSARCHIVE_INDEX_BATCH_SIZE=5",
        "-s", "DOWNLOAD_DELAY=0.4", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
    ]  # fmt: skip
    env = {**os.environ, **rep.env(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        captured: dict[str, datetime] = {}  # capture id -> fetched_at
        titles: dict[str, tuple[str, str]] = {}
        found: dict[str, datetime] = {}
        found_while_running = 0
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            running = proc.poll() is None
            for r in spool_rows(db, "captures"):
                if r.get("fetched_at"):
                    captured.setdefault(r["id"], datetime.fromisoformat(r["fetched_at"]))
            for r in spool_rows(db, "articles"):
                if r.get("title") and r.get("is_article"):
                    titles.setdefault(r["id"], (r["title"], r["url"]))
            pending = [k for k in titles if k not in found]
            if db.exists() and pending:
                try:
                    con = connect(db, read_only=True, timeout=5)
                except Exception:
                    con = None
                if con is not None:
                    try:
                        for k in pending:
                            title, url = titles[k]
                            q = f'title:"{title}" url:"{url}"'
                            try:
                                hit = any(
                                    h.article_id == k
                                    for h in search(con, q, all_versions=True).hits
                                )
                            except Exception:
                                hit = False  # no index yet
                            if hit:
                                found[k] = datetime.now(UTC)
                                found_while_running += running
                    finally:
                        con.close()
            if not running and not pending:
                break
            time.sleep(0.5)
        assert proc.wait(timeout=60) == 0, proc.stdout.read().decode()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        rep.stop()
    assert found, "no article was found by search"
    assert found_while_running >= 1, "nothing was found while the crawl was still running"
    late = {k: (found[k] - captured[k]).total_seconds() for k in found if k in captured}
    assert late and max(late.values()) < 60, late
    assert set(found) == set(titles), "some crawled articles never became searchable"


def test_python_and_sql_tokenizers_agree() -> None:
    from newsarchive.query.analysis import install_macros, surface_tokens

    con = duckdb.connect()
    install_macros(con)
    for text in [
        "Hello, World! Київ — столиця",
        "北京大学的学生 iPhone手机 x北京y",
        "Ελλάδα και Αθήνα; مرحبا بالعالم",
        "e-mail don't 3.14 ñandú 한국어 텍스트 カタカナ",
    ]:
        assert con.execute("SELECT qi_words(?)", [text]).fetchone()[0] == surface_tokens(text)
