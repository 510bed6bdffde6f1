"""Full-text search over normal articles (DuckDB ``fts`` extension, BM25), offline.

The extension is loaded with ``LOAD fts`` when DuckDB already has it, else installed from the
``duckdb-extension-fts`` wheel's file (no network). DuckDB's FTS index is not maintained by
inserts, so it is rebuilt after a crawl, and only when the set of articles changed since the
last build (a signature kept in ``index_meta``). The index is built from a scratch table of
normal articles that is dropped afterwards, so article text is not stored twice.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from newsarchive.index.db import ArchiveError, connect

DOC_TABLE = "article_search"
FTS_SCHEMA = f"fts_main_{DOC_TABLE}"
SIG_SQL = (
    "SELECT count(*)::VARCHAR || ':' || coalesce(bit_xor(hash(id))::VARCHAR, '0') "
    "FROM articles WHERE is_article AND NOT coalesce(paywalled, false)"
)


class SearchError(ArchiveError):
    pass


def extension_file() -> Path | None:
    """``fts.duckdb_extension`` shipped in the ``duckdb-extension-fts`` wheel, if installed."""
    try:
        dist = importlib.metadata.distribution("duckdb-extension-fts")
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if str(f).endswith("fts.duckdb_extension"):
            p = Path(dist.locate_file(f))
            if p.exists():
                return p
    return None


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("LOAD fts")
        return
    except duckdb.Error:
        pass
    path = extension_file()
    if path is None:
        raise SearchError(
            "DuckDB's fts extension is not available offline; install it with: "
            f"pip install duckdb-extension-fts=={duckdb.__version__}"
        )
    try:
        con.execute(f"INSTALL '{os.fspath(path)}'")
        con.execute("LOAD fts")
    except duckdb.Error as exc:
        raise SearchError(f"cannot load the fts extension from {path}: {exc}") from None


def _meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM index_meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def fts_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = 'doc_meta'",
            [FTS_SCHEMA],
        ).fetchone()[0]
    )


def fts_status(con: duckdb.DuckDBPyConnection) -> tuple[bool, bool]:
    """(index exists, index is current)."""
    if not fts_exists(con):
        return False, False
    return True, _meta(con, "fts_signature") == con.execute(SIG_SQL).fetchone()[0]


def rebuild_fts(db_path: str | os.PathLike, timeout: float = 60.0, force: bool = False) -> bool:
    """Rebuild the index when articles changed (or ``force``); True when it was rebuilt."""
    con = connect(db_path, read_only=False, timeout=timeout)
    try:
        exists, current = fts_status(con)
        if exists and current and not force:
            return False
        load_fts(con)
        signature = con.execute(SIG_SQL).fetchone()[0]
        con.execute(
            f"CREATE OR REPLACE TABLE {DOC_TABLE} AS SELECT id, coalesce(title, '') AS title, "
            "coalesce(text, '') AS text FROM articles "
            "WHERE is_article AND NOT coalesce(paywalled, false)"
        )
        con.execute(
            f"PRAGMA create_fts_index('{DOC_TABLE}', 'id', 'title', 'text', overwrite=1, "
            "stemmer='porter', stopwords='english', strip_accents=1, lower=1)"
        )
        con.execute(f"DROP TABLE {DOC_TABLE}")
        # Postings sorted by term: a query reads only the row groups of its terms (zone
        # maps), instead of scanning every token as the extension's match_bm25 does.
        con.execute(
            f"CREATE TABLE {FTS_SCHEMA}.postings AS SELECT termid, docid, "
            f"count(*)::INTEGER AS tf FROM {FTS_SCHEMA}.terms GROUP BY termid, docid "
            "ORDER BY termid, docid"
        )
        # What the filters need, per document, so a query joins the archive only for its hits.
        con.execute(
            f"CREATE TABLE {FTS_SCHEMA}.doc_meta AS SELECT d.docid, a.id, a.outlet, "
            f"coalesce(a.published, c.fetched_at) AS ts FROM {FTS_SCHEMA}.docs d "
            "JOIN articles a ON a.id = d.name LEFT JOIN captures c ON c.id = a.capture_id "
            "ORDER BY d.docid"
        )
        con.execute(
            "INSERT INTO index_meta VALUES ('fts_signature', ?), ('fts_built_at', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [signature, datetime.now().astimezone().isoformat()],
        )
        con.execute("CHECKPOINT")
        return True
    finally:
        con.close()


# BM25 (k1 = 1.2, b = 0.75, as the extension's match_bm25) over the postings of the query's
# terms only, then the article filters and the top N.
_RANK = """
WITH q AS (SELECT DISTINCT stem(unnest({s}.tokenize(?)), 'porter') AS t),
qt AS (SELECT d.termid, d.df FROM {s}.dict d JOIN q ON d.term = q.t),
st AS (SELECT num_docs, avgdl FROM {s}.stats),
sc AS (
    SELECT p.docid, sum(
        log(((st.num_docs - qt.df + 0.5) / (qt.df + 0.5)) + 1)
        * (p.tf * 2.2) / (p.tf + 1.2 * (0.25 + 0.75 * dl.len / st.avgdl))) AS score
    FROM {s}.postings p JOIN qt ON p.termid = qt.termid
    JOIN {s}.docs dl ON dl.docid = p.docid CROSS JOIN st
    GROUP BY p.docid),
top AS (
    SELECT m.id, sc.score FROM sc JOIN {s}.doc_meta m ON m.docid = sc.docid
    WHERE {where} ORDER BY sc.score DESC, m.id LIMIT ?)
SELECT top.id, top.score, a.title, a.outlet, a.published, c.fetched_at, a.url
FROM top JOIN articles a ON a.id = top.id
LEFT JOIN captures c ON c.id = a.capture_id
ORDER BY top.score DESC, top.id
"""


@dataclass
class Hit:
    id: str
    score: float
    title: str | None
    outlet: str | None
    published: datetime | None
    fetched_at: datetime | None
    url: str | None
    snippet: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("published", "fetched_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


WORD = re.compile(r"[A-Za-z\u00C0-\u024F0-9]+")


def search(
    con: duckdb.DuckDBPyConnection,
    query: str,
    outlet: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    marks: tuple[str, str] = ("**", "**"),
) -> list[Hit]:
    """BM25-ranked hits among normal articles; dates filter on published (else fetch time)."""
    if not query or not WORD.search(query):
        raise SearchError("empty query: give at least one word to search for")
    if limit < 1:
        raise SearchError("--limit must be at least 1")
    load_fts(con)
    if not fts_exists(con):
        raise SearchError("no full-text index yet; run: newsarchive search --rebuild")
    where, params = ["true"], [query]
    if outlet:
        where.append("m.outlet IN (SELECT unnest(string_split(?, chr(31))))")
        params.append("\x1f".join(outlet))
    if since:
        where.append("m.ts >= ?")
        params.append(since)
    if until:
        where.append("m.ts < ?")
        params.append(until)
    params.append(limit)
    try:
        rows = con.execute(_RANK.format(s=FTS_SCHEMA, where=" AND ".join(where)), params).fetchall()
    except duckdb.Error as exc:
        raise SearchError(f"search failed: {exc}") from None
    stems = _stems(con, WORD.findall(query))
    # Text is read only for the hits shown, not for every candidate row.
    texts = (
        dict(
            con.execute(
                "SELECT id, text FROM articles "
                "WHERE id IN (SELECT unnest(string_split(?, chr(31))))",
                ["\x1f".join(r[0] for r in rows)],
            ).fetchall()
        )
        if rows
        else {}
    )
    # One stemming call for the words of every hit's text.
    toks = [list(WORD.finditer((texts.get(r[0]) or "")[:20000])) for r in rows]
    flat = _stem_all(con, [m.group(0) for t in toks for m in t]) if any(toks) else []
    hits, pos = [], 0
    for r, t in zip(rows, toks, strict=True):
        text = texts.get(r[0]) or ""
        snip = snippet(text, t, flat[pos : pos + len(t)], stems, marks)
        pos += len(t)
        hits.append(Hit(r[0], float(r[1]), r[2], r[3], r[4], r[5], r[6], snip))
    return hits


def _stem_all(con: duckdb.DuckDBPyConnection, words: list[str]) -> list[str]:
    # One string parameter: binding a Python list costs a lookup per element.
    return con.execute(
        "SELECT list_transform(string_split(?, ' '), w -> stem(lower(strip_accents(w)), 'porter'))",
        [" ".join(words)],
    ).fetchone()[0]


def _stems(con: duckdb.DuckDBPyConnection, words: list[str]) -> set[str]:
    return {s for s in _stem_all(con, words) if s} if words else set()


def snippet(
    text: str,
    tokens: list[re.Match],
    token_stems: list[str],
    stems: set[str],
    marks: tuple[str, str],
    width: int = 30,
) -> str:
    """About ``width`` words around the densest run of matches, matched words marked."""
    if not tokens:
        return ""
    hits = [i for i, s in enumerate(token_stems) if s in stems]
    best = 0
    if hits:
        # Prefer the window showing the most distinct query terms, then the most matches.
        best_key = (-1, -1)
        for h in hits:
            inside = [j for j in hits if h <= j < h + width - 3]
            key = (len({token_stems[j] for j in inside}), len(inside))
            if key > best_key:
                best, best_key = max(0, h - 3), key
    end = min(len(tokens), best + width)
    start_char = tokens[best].start()
    end_char = tokens[end - 1].end()
    out, pos = [], start_char
    hit_set = set(hits)
    for i in range(best, end):
        m = tokens[i]
        out.append(text[pos : m.start()])
        out.append(f"{marks[0]}{m.group(0)}{marks[1]}" if i in hit_set else m.group(0))
        pos = m.end()
    out.append(text[pos:end_char])
    body = " ".join("".join(out).split())
    return ("… " if best > 0 else "") + body + (" …" if end < len(tokens) else "")
