"""Full-text search over normal articles (DuckDB ``fts`` extension, BM25), offline.

The extension is loaded with ``LOAD fts`` when DuckDB already has it, else installed from the
``duckdb-extension-fts`` wheel's file (no network). DuckDB's FTS index is not maintained by
inserts, so it is rebuilt after a crawl, and only when the set of normal articles changed
since the last build (a signature kept with the index). The index lives in a side file,
``<db>.fts``, built from a copy of the articles and swapped in atomically: the slow build
never holds the archive's lock, so crawls keep merging and readers keep reading meanwhile.
``connect(read_only=True)`` attaches it as catalog ``fts``.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from newsarchive.index.db import ArchiveError, connect
from newsarchive.locks import pid_alive

DOC_TABLE = "article_search"
FTS_CATALOG = "fts"
# An archive named fts.duckdb has "fts" as its own catalog: its side file goes here instead.
ALT_CATALOG = "fts_side"
FTS_SCHEMA = f"fts_main_{DOC_TABLE}"


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


def fts_path(db_path: str | os.PathLike) -> Path:
    """The side file holding the full-text index of ``db_path``."""
    return Path(f"{os.fspath(db_path)}.fts")


def attach_fts(con: duckdb.DuckDBPyConnection, db_path: str | os.PathLike) -> bool:
    """Attach the side file (read-only) as catalog ``fts``; False when there is none."""
    side = fts_path(db_path)
    catalog = fts_catalog(con)
    attached = {
        r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    }
    if catalog in attached:
        return True
    if not side.exists():
        return False
    try:
        con.execute(f"ATTACH '{_q(side)}' AS {catalog} (READ_ONLY)")
    except duckdb.Error as exc:
        raise SearchError(f"cannot open the full-text index {side}: {exc}") from None
    return True


def fts_catalog(con: duckdb.DuckDBPyConnection) -> str:
    """The catalog name the full-text side file is (or would be) attached as."""
    own = con.execute("SELECT current_database()").fetchone()[0]
    return ALT_CATALOG if own == FTS_CATALOG else FTS_CATALOG


def _q(path: Path) -> str:
    return os.fspath(path).replace("'", "''")


def fts_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = ? "
            "AND table_schema = ? AND table_name = 'doc_meta'",
            [fts_catalog(con), FTS_SCHEMA],
        ).fetchone()[0]
    )


def fts_status(con: duckdb.DuckDBPyConnection) -> tuple[bool, bool]:
    """(index exists, index is current) for a connection made by ``connect``."""
    if not fts_exists(con):
        return False, False
    row = con.execute(
        f"SELECT value FROM {fts_catalog(con)}.fts_meta WHERE key = 'signature'"
    ).fetchone()
    return True, bool(row) and row[0] == con.execute(_sig_sql("")).fetchone()[0]


def _sig_sql(prefix: str) -> str:
    return (
        "SELECT count(*)::VARCHAR || ':' || coalesce(bit_xor(hash(id))::VARCHAR, '0') "
        f"FROM {prefix}articles WHERE is_article"
    )


def _attach_source(mem: duckdb.DuckDBPyConnection, db_path: Path, timeout: float) -> None:
    from newsarchive.index.db import ArchiveLocked, is_lock_error

    deadline, delay = time.monotonic() + timeout, 0.02
    while True:
        try:
            mem.execute(f"ATTACH '{_q(db_path)}' AS src (READ_ONLY)")
            return
        except duckdb.Error as exc:
            if not is_lock_error(exc):
                raise ArchiveError(f"cannot open archive {db_path}: {exc}") from None
            if time.monotonic() >= deadline:
                raise ArchiveLocked(
                    f"archive {db_path} stayed locked for {timeout:.0f} s"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def rebuild_fts(db_path: str | os.PathLike, timeout: float = 60.0, force: bool = False) -> bool:
    """Rebuild the index when articles changed (or ``force``); True when it was rebuilt.

    The archive is held (read-only) only while the articles are copied out; the slow index
    build runs on a scratch file that then replaces ``<db>.fts`` atomically, so neither a
    crawl's merges nor readers wait for it.
    """
    db_path = Path(db_path)
    if not db_path.exists():
        raise ArchiveError(f"no archive at {db_path} (crawl first, or pass --db)")
    connect(db_path, read_only=False, timeout=timeout).close()  # schema + leftover spool
    side = fts_path(db_path)
    tmp = side.with_name(f"{side.name}.tmp-{os.getpid()}")
    for stale in side.parent.glob(f"{side.name}.tmp-*"):  # left by a killed rebuild
        pid = stale.name.split(".tmp-")[1].split(".")[0]
        if pid.isdigit() and (int(pid) == os.getpid() or not pid_alive(int(pid))):
            stale.unlink(missing_ok=True)
    mem = duckdb.connect()
    try:
        _attach_source(mem, db_path, timeout)
        signature = mem.execute(_sig_sql("src.")).fetchone()[0]
        if side.exists() and not force:
            mem.execute(f"ATTACH '{_q(side)}' AS old (READ_ONLY)")
            try:
                row = mem.execute("SELECT value FROM old.fts_meta WHERE key = 'signature'")
                row = row.fetchone()
            except duckdb.Error:
                row = None
            mem.execute("DETACH old")
            if row and row[0] == signature:
                return False
        mem.execute(f"ATTACH '{_q(tmp)}' AS scratch")
        normal = "WHERE a.is_article"
        mem.execute(
            f"CREATE TABLE scratch.{DOC_TABLE} AS SELECT a.id, coalesce(a.title, '') AS title, "
            f"coalesce(a.text, '') AS text FROM src.articles a {normal}"
        )
        mem.execute(
            "CREATE TABLE scratch.meta_src AS SELECT a.id, a.outlet, "
            "coalesce(a.published, c.fetched_at) AS ts FROM src.articles a "
            f"LEFT JOIN src.captures c ON c.id = a.capture_id {normal}"
        )
        mem.execute("DETACH src")  # the archive is free again
        mem.execute("DETACH scratch")
    finally:
        mem.close()
    try:
        con = duckdb.connect(os.fspath(tmp))
        try:
            _build(con, signature)
        finally:
            con.close()
        os.replace(tmp, side)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _build(con: duckdb.DuckDBPyConnection, signature: str) -> None:
    load_fts(con)
    con.execute(
        f"PRAGMA create_fts_index('{DOC_TABLE}', 'id', 'title', 'text', overwrite=1, "
        "stemmer='porter', stopwords='english', strip_accents=1, lower=1)"
    )
    con.execute(f"DROP TABLE {DOC_TABLE}")
    # Postings sorted by term: a query reads only the row groups of its terms (zone maps),
    # instead of scanning every token as the extension's match_bm25 does.
    con.execute(
        f"CREATE TABLE {FTS_SCHEMA}.postings AS SELECT termid, docid, "
        f"count(*)::INTEGER AS tf FROM {FTS_SCHEMA}.terms GROUP BY termid, docid "
        "ORDER BY termid, docid"
    )
    # What the filters need, per document, so a query joins the archive only for its hits.
    con.execute(
        f"CREATE TABLE {FTS_SCHEMA}.doc_meta AS SELECT d.docid, m.id, m.outlet, m.ts "
        f"FROM {FTS_SCHEMA}.docs d JOIN meta_src m ON m.id = d.name ORDER BY d.docid"
    )
    con.execute("DROP TABLE meta_src")
    con.execute("CREATE TABLE fts_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT INTO fts_meta VALUES ('signature', ?), ('built_at', ?)",
        [signature, datetime.now().astimezone().isoformat()],
    )
    con.execute("CHECKPOINT")


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
        rows = con.execute(
            _RANK.format(s=f"{fts_catalog(con)}.{FTS_SCHEMA}", where=" AND ".join(where)),
            params,
        ).fetchall()
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
