"""The query index: an inverted index in plain DuckDB tables of the archive itself.

DuckDB's fts extension is not maintained by inserts and needs ~10 GB to build at 10^6
articles, so the index is our own, kept up to date at every spool merge of the crawl
(``update_index`` runs in the merging connection, right after the merge commits):

* ``qi_docs``   one row per indexed article version: docid, article id, the fields filters
                need (outlet, lang, section, authors, url, ts) and its BM25 length ``dl``;
                ``latest`` marks the newest version of each canonical URL; ``cjk``: the
                title or text has CJK characters (their tokens are cut at script changes).
* ``qi_lex``    (lang, surface token) -> term, the Snowball stem, cached so Python stems each
                distinct token once.
* ``qi_terms``  term -> termid.
* ``qi_post``   postings (termid, docid, tf in text, ttf in title, pos): two segments, the big
                ``qi_post_main`` sorted by termid (a term's postings sit in a few row groups,
                found by zone maps) and ``qi_post_tail`` appended at each merge. When the tail
                outgrows max(TAIL_MIN, main) it is folded into main (a sort), so the work per
                posting stays O(log n) and queries never scan a large unsorted tail.
                ``pos`` lists where the term stands in the doc's token stream: title tokens
                first (0, 1, ...), then the text's, every token counted (stopwords too), the
                same stream a phrase's regex sees. A phrase needs its words at consecutive
                positions before its regex runs. Docs below ``qi_meta.pos_from`` (indexed
                before positions existed, in an archive upgraded in place) have NULL ``pos``.

``rebuild_index`` recreates everything from ``articles`` in chunks under a DuckDB memory limit,
so its peak memory does not grow with the archive.
"""

from __future__ import annotations

import logging
import os
import time

import duckdb

from newsarchive.query.analysis import CJK_CLASS, install_macros, stem_many

logger = logging.getLogger(__name__)

TITLE_BOOST = 3  # a title token counts as this many text tokens (BM25F-style)
TAIL_MIN = 4_000_000  # postings
CHUNK = 20_000  # articles per indexing step
VERSION = "2"  # 2: postings carry positions

DDL = """
CREATE TABLE IF NOT EXISTS qi_docs (
    docid INTEGER, article_id VARCHAR, akey VARCHAR, outlet VARCHAR, lang VARCHAR,
    section VARCHAR, authors VARCHAR, url VARCHAR, ts TIMESTAMPTZ, fetched_at TIMESTAMPTZ,
    dl INTEGER, latest BOOLEAN, cjk BOOLEAN);
CREATE TABLE IF NOT EXISTS qi_lex (lang VARCHAR, tok VARCHAR, term VARCHAR, termid INTEGER);
CREATE TABLE IF NOT EXISTS qi_terms (termid INTEGER, term VARCHAR);
CREATE TABLE IF NOT EXISTS qi_post_main (
    termid INTEGER, docid INTEGER, tf USMALLINT, ttf USMALLINT, pos UINTEGER[]);
CREATE TABLE IF NOT EXISTS qi_post_tail (
    termid INTEGER, docid INTEGER, tf USMALLINT, ttf USMALLINT, pos UINTEGER[]);
CREATE TABLE IF NOT EXISTS qi_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE OR REPLACE VIEW qi_post AS
    SELECT * FROM qi_post_main UNION ALL SELECT * FROM qi_post_tail;
"""

TABLES = ("qi_docs", "qi_lex", "qi_terms", "qi_post_main", "qi_post_tail", "qi_meta")


def has_index(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'qi_docs' AND NOT temporary"
    ).fetchone()
    return bool(row[0])


def ensure_index(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables and stored macros once (a merge then only reads the version row)."""
    if has_index(con):
        try:
            if _meta(con, "schema", "") == VERSION:
                return
        except duckdb.Error:
            pass
    con.execute(DDL)
    _add_positions(con)
    install_macros(con)
    from newsarchive.query.sqlmacros import install_sql_macros

    install_sql_macros(con)
    _set_meta(con, "schema", VERSION)


def _add_positions(con: duckdb.DuckDBPyConnection) -> None:
    """Upgrade an index built before positions in place: its postings get a NULL ``pos``
    and ``pos_from`` (the first docid indexed with positions) tells phrases which docs can
    only be checked by their regex. A new index gets ``pos_from`` 0."""
    have = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_columns() WHERE column_name = 'pos' "
            "AND table_name IN ('qi_post_main', 'qi_post_tail') AND database_name <> 'temp'"
        ).fetchall()
    }
    for t in ("qi_post_main", "qi_post_tail"):
        if t not in have:
            con.execute(f"ALTER TABLE {t} ADD COLUMN pos UINTEGER[]")
    con.execute("ALTER TABLE qi_docs ADD COLUMN IF NOT EXISTS cjk BOOLEAN")
    if len(have) < 2:
        con.execute(
            "CREATE OR REPLACE VIEW qi_post AS "
            "SELECT * FROM qi_post_main UNION ALL SELECT * FROM qi_post_tail"
        )
    if not _meta(con, "pos_from", ""):
        top = con.execute("SELECT coalesce(max(docid), 0) FROM qi_docs").fetchone()[0]
        _set_meta(con, "pos_from", str(top + 1 if have != {"qi_post_main", "qi_post_tail"} else 0))


def _meta(con: duckdb.DuckDBPyConnection, key: str, default: str = "") -> str:
    row = con.execute("SELECT value FROM qi_meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def _set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute(
        "INSERT INTO qi_meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def update_index(con: duckdb.DuckDBPyConnection, chunk: int = CHUNK, compact: bool = True) -> int:
    """Index the articles added since the last call; returns how many. Cheap when none."""
    ensure_index(con)
    done = 0
    while True:
        wm = int(_meta(con, "watermark", "-1"))
        top = con.execute("SELECT max(rowid) FROM articles").fetchone()[0]
        if top is None or top <= wm:
            break
        hi = min(top, wm + chunk)
        con.execute("BEGIN TRANSACTION")
        try:
            done += _index_rows(con, wm, hi)
            _set_meta(con, "watermark", str(hi))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    if compact:
        maybe_compact(con)
    return done


def _index_rows(con: duckdb.DuckDBPyConnection, lo: int, hi: int) -> int:
    base = con.execute("SELECT coalesce(max(docid), 0) FROM qi_docs").fetchone()[0]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE qi_new AS
        SELECT ({base} + row_number() OVER (ORDER BY a.rowid))::INTEGER AS docid,
               a.id AS article_id, coalesce(a.canonical_url, a.url, a.id) AS akey,
               a.outlet, lower(split_part(replace(coalesce(a.language, ''), '_', '-'), '-', 1)) AS lang,
               qi_lang(a.language) AS slang,
               lower(a.section) AS section, lower(array_to_string(a.authors, '; ')) AS authors,
               a.url, coalesce(a.published, c.fetched_at) AS ts, c.fetched_at,
               qi_words(a.title) AS tw, qi_words(a.text) AS xw,
               regexp_matches(coalesce(a.title, '') || ' ' || coalesce(a.text, ''),
                              '[{CJK_CLASS}]') AS cjk
        FROM articles a LEFT JOIN captures c ON c.id = a.capture_id
        WHERE a.rowid > {lo} AND a.rowid <= {hi}
          AND a.is_article
          -- probe qi_docs with this range's ids: no hash table of every indexed id per merge
          AND a.id NOT IN (SELECT article_id FROM qi_docs WHERE article_id IN (
              SELECT id FROM articles WHERE rowid > {lo} AND rowid <= {hi}))
        """
    )
    n = con.execute("SELECT count(*) FROM qi_new").fetchone()[0]
    if not n:
        return 0
    # Stem the (language, token) pairs never seen before, in Python, once each.
    missing = con.execute(
        "SELECT lang, list(tok) FROM (SELECT DISTINCT slang AS lang, "
        "unnest(list_concat(xw, tw)) AS tok FROM qi_new) n "
        "WHERE NOT EXISTS (SELECT 1 FROM qi_lex l WHERE l.lang = n.lang AND l.tok = n.tok) "
        "GROUP BY lang"
    ).fetchall()
    if missing:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE qi_lexnew (lang VARCHAR, tok VARCHAR, term VARCHAR)"
        )
        for lang, toks in missing:
            stems = stem_many(lang, toks)
            # One string per column: binding a Python list costs a lookup per element.
            con.execute(
                "INSERT INTO qi_lexnew SELECT ?, unnest(string_split(?, chr(31))), "
                "unnest(string_split(?, chr(31)))",
                [lang, "\x1f".join(toks), "\x1f".join(stems)],
            )
        con.execute(
            """
            INSERT INTO qi_terms
            SELECT (SELECT coalesce(max(termid), 0) FROM qi_terms)
                   + row_number() OVER (ORDER BY term), term
            FROM (SELECT DISTINCT term FROM qi_lexnew) n
            WHERE NOT EXISTS (SELECT 1 FROM qi_terms x WHERE x.term = n.term)
            """
        )
        con.execute(
            "INSERT INTO qi_lex SELECT n.lang, n.tok, n.term, x.termid FROM qi_lexnew n "
            "JOIN qi_terms x ON x.term = n.term"
        )
        con.execute("DROP TABLE qi_lexnew")
    con.execute(
        """
        INSERT INTO qi_post_tail
        SELECT l.termid, t.docid, least(count(*) FILTER (WHERE NOT t.title), 65535)::USMALLINT,
               least(count(*) FILTER (WHERE t.title), 65535)::USMALLINT, list(t.p)::UINTEGER[]
        FROM (SELECT docid, slang, unnest(xw) AS tok,
                     unnest(range(len(tw), len(tw) + len(xw))) AS p, false AS title FROM qi_new
              UNION ALL SELECT docid, slang, unnest(tw) AS tok, unnest(range(len(tw))) AS p,
                               true AS title FROM qi_new) t
        JOIN qi_lex l ON l.lang = t.slang AND l.tok = t.tok
        GROUP BY ALL
        """
    )
    # Versions: the newest capture of a canonical URL is the one searched by default.
    con.execute(
        f"""
        INSERT INTO qi_docs
        SELECT docid, article_id, akey, outlet, lang, section, authors, url, ts, fetched_at,
               (len(xw) + {TITLE_BOOST} * len(tw))::INTEGER,
               row_number() OVER (PARTITION BY akey ORDER BY fetched_at DESC NULLS LAST, docid DESC) = 1,
               cjk
        FROM qi_new
        """
    )
    con.execute(
        f"""
        UPDATE qi_docs SET latest = (qi_docs.docid = w.best)
        FROM (SELECT akey, arg_max(docid, (coalesce(fetched_at, TIMESTAMPTZ '1970-01-01'), docid)) AS best
              FROM qi_docs WHERE akey IN (
                  SELECT akey FROM qi_docs WHERE docid <= {base}
                  AND akey IN (SELECT akey FROM qi_new))
              GROUP BY akey) w
        WHERE qi_docs.akey = w.akey
        """
    )
    con.execute("DROP TABLE qi_new")
    return n


def maybe_compact(con: duckdb.DuckDBPyConnection, force: bool = False) -> bool:
    tail = con.execute("SELECT count(*) FROM qi_post_tail").fetchone()[0]
    if not tail:
        return False
    main = con.execute("SELECT count(*) FROM qi_post_main").fetchone()[0]
    if not force and tail < max(TAIL_MIN, main):
        return False
    t0 = time.monotonic()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TABLE qi_post_new AS SELECT * FROM qi_post ORDER BY termid, docid"
        )
        con.execute("DROP VIEW qi_post")
        con.execute("DROP TABLE qi_post_main")
        con.execute("ALTER TABLE qi_post_new RENAME TO qi_post_main")
        con.execute("DELETE FROM qi_post_tail")
        con.execute(
            "CREATE OR REPLACE VIEW qi_post AS "
            "SELECT * FROM qi_post_main UNION ALL SELECT * FROM qi_post_tail"
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    logger.info(
        "query index: folded %d tail postings into %d in %.1f s", tail, main, time.monotonic() - t0
    )
    return True


def rebuild_index(
    db_path: str | os.PathLike, memory_limit: str = "3GB", timeout: float = 60.0
) -> int:
    """Drop and rebuild the index from ``articles``; returns the articles indexed.

    Chunks of CHUNK articles and a DuckDB memory limit (spilling sorts to disk) keep the
    peak memory flat however large the archive is."""
    from newsarchive.index.db import connect

    con = connect(db_path, read_only=False, timeout=timeout)
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")
        for t in TABLES:
            con.execute("DROP VIEW IF EXISTS qi_post")
            con.execute(f"DROP TABLE IF EXISTS {t}")
        ensure_index(con)
        _set_meta(con, "version", VERSION)
        n = update_index(con, chunk=CHUNK * 2, compact=False)
        maybe_compact(con, force=True)
        con.execute("CHECKPOINT")
        return n
    finally:
        con.close()


def index_status(con: duckdb.DuckDBPyConnection) -> dict:
    if not has_index(con):
        return {"exists": False}
    wm = int(_meta(con, "watermark", "-1"))
    top = con.execute("SELECT coalesce(max(rowid), -1) FROM articles").fetchone()[0]
    return {
        "exists": True,
        "docs": con.execute("SELECT count(*) FROM qi_docs").fetchone()[0],
        "pending_rows": max(0, top - wm),
        "tail_postings": con.execute("SELECT count(*) FROM qi_post_tail").fetchone()[0],
        "main_postings": con.execute("SELECT count(*) FROM qi_post_main").fetchone()[0],
    }
