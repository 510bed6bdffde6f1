"""SQL macros stored in the archive, so plain DuckDB (and ``newsarchive sql``) can rank.

``bm25(q)`` is a table macro: the words of ``q`` (tokenised like the index, any known surface
form; OR semantics, summed), scored with BM25 (k1 = 1.2, b = 0.75, title tokens counted
TITLE_BOOST times) over the latest version of each article::

    SELECT b.score, a.title FROM bm25('council vote') b JOIN articles a ON a.id = b.article_id
    ORDER BY b.score DESC LIMIT 10;

The full query language (phrases, fields, NOT) is in Python: ``newsarchive search``.
"""

from __future__ import annotations

import duckdb

K1 = 1.2
B = 0.75


def bm25_expr(tf: str, ttf: str, df: str, n: str, dl: str, avgdl: str, boost: int) -> str:
    """The BM25 term score as a SQL expression over the given column expressions."""
    x = f"({tf} + {boost} * {ttf})"
    return (
        f"ln(1 + ({n} - {df} + 0.5) / ({df} + 0.5)) * ({x} * {K1 + 1}) / "
        f"({x} + {K1} * (1 - {B} + {B} * {dl} / {avgdl}))"
    )


def install_sql_macros(con: duckdb.DuckDBPyConnection) -> None:
    from newsarchive.query.index import TITLE_BOOST

    score = bm25_expr("p.tf", "p.ttf", "df.df", "st.n", "d.dl", "st.avgdl", TITLE_BOOST)
    con.execute(
        f"""
        CREATE OR REPLACE MACRO bm25(q) AS TABLE
        WITH qt AS (
            SELECT DISTINCT x.termid FROM (SELECT unnest(qi_words(q)) AS tok) w
            JOIN qi_lex l ON l.tok = w.tok JOIN qi_terms x ON x.term = l.term),
        st AS (SELECT count(*) AS n, avg(dl) AS avgdl FROM qi_docs),
        df AS (SELECT termid, count(*) AS df FROM qi_post WHERE termid IN (SELECT termid FROM qt)
               GROUP BY termid),
        sc AS (
            SELECT p.docid, sum({score}) AS score
            FROM qi_post p JOIN df ON df.termid = p.termid JOIN qi_docs d ON d.docid = p.docid
            CROSS JOIN st GROUP BY p.docid)
        SELECT d.article_id, sc.score, d.outlet, d.ts AS published
        FROM sc JOIN qi_docs d ON d.docid = sc.docid WHERE d.latest
        """
    )
