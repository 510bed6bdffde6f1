"""Stories inside the archive: tables, and assignment of newly merged articles.

``assign_pending(con)`` runs wherever rows are merged into the archive (the writer open in
:func:`newsarchive.index.db.connect`, so: the crawl's merge thread, the final merge, a
``reindex``, any writer), never on the reactor. It picks up every article not yet seen by the
detector, in publication order (then id), sketches the clusterable ones, finds candidate pairs
by joining their LSH band keys with ``story_bands`` inside the publication window, judges the
pairs, stores the same-story edges and rewrites the stories those edges touch, all in one
transaction. Because pair verdicts depend on the two articles only and stories are connected
components, a crawl that assigns articles batch by batch and a ``reindex`` that assigns them
all at once produce the same stories.

Public tables (plain SQL): ``stories`` and ``story_members`` (the origin is a member with
relation ``origin``). Internal: ``story_seen`` (every article looked at, and why it was left
out), ``story_sketches``, ``story_bands``, ``story_edges``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from datetime import datetime

import duckdb
import numpy as np

from newsarchive.stories.detector import (
    DEFAULT,
    WINDOW_DAYS,
    Thresholds,
    band_keys,
    compare,
    describe,
    is_candidate,
    story_id,
)
from newsarchive.stories.features import Features, featurize

logger = logging.getLogger(__name__)

DDL = """
CREATE TABLE IF NOT EXISTS stories (
    story_id VARCHAR PRIMARY KEY,
    first_published TIMESTAMPTZ,
    first_outlet VARCHAR,
    origin_article_id VARCHAR,
    size INTEGER,
    outlets VARCHAR[]
);
CREATE TABLE IF NOT EXISTS story_members (
    story_id VARCHAR,
    article_id VARCHAR PRIMARY KEY,
    relation VARCHAR,
    similarity DOUBLE,
    origin_article_id VARCHAR
);
CREATE TABLE IF NOT EXISTS story_seen (
    article_id VARCHAR PRIMARY KEY,
    status VARCHAR
);
CREATE TABLE IF NOT EXISTS story_sketches (
    article_id VARCHAR PRIMARY KEY,
    published TIMESTAMPTZ,
    outlet VARCHAR,
    url_key VARCHAR,
    sketch BLOB
);
CREATE TABLE IF NOT EXISTS story_bands (
    band UBIGINT,
    kind TINYINT,
    article_id VARCHAR,
    published TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS story_edges (
    a VARCHAR,
    b VARCHAR,
    relation VARCHAR,
    similarity DOUBLE,
    PRIMARY KEY (a, b)
);
"""
INTERNAL = ("story_seen", "story_sketches", "story_bands", "story_edges")


def _ids(values: Iterable[str]) -> str:
    # One string parameter split in SQL: DuckDB's client binds a Python list value by value,
    # at a cost that dominated assignment.
    return "\x1f".join(sorted(set(values)))


def enabled() -> bool:
    return os.environ.get("NEWSARCHIVE_STORIES", "1").lower() not in ("0", "false", "no", "off")


def ensure_story_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def assign_pending(
    con: duckdb.DuckDBPyConnection,
    thresholds: Thresholds = DEFAULT,
    window_days: float = WINDOW_DAYS,
    stats: dict | None = None,
) -> int:
    """Assign every article the detector has not seen yet; returns how many were looked at."""
    ensure_story_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        touched = _forget_deleted(con)
        rows = _pending(con)
        started = time.perf_counter()
        new_ids = _sketch(con, rows) if rows else []
        edges = _edges(con, new_ids, thresholds, window_days) if new_ids else 0
        if new_ids or touched:
            _restory(con, set(new_ids) | touched, thresholds)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if stats is not None and rows:
        stats["stories/assigned"] = stats.get("stories/assigned", 0) + len(rows)
        stats["stories/edges"] = stats.get("stories/edges", 0) + edges
        stats["stories/seconds"] = round(
            stats.get("stories/seconds", 0.0) + time.perf_counter() - started, 3
        )
    return len(rows)


def _pending(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Articles the detector has not seen, in the order they are assigned. Which ones is
    decided on the id columns alone; only their rows are then read (a row group's zone map
    on rowid skips the rest), not the text of the whole archive at every merge."""
    rowids = [
        r[0]
        for r in con.execute(
            "SELECT a.rowid FROM articles a "
            "WHERE NOT EXISTS (SELECT 1 FROM story_seen s WHERE s.article_id = a.id)"
        ).fetchall()
    ]
    if not rowids:
        return []
    return con.execute(
        """
        SELECT a.id, a.text, coalesce(a.published, c.fetched_at) AS pub, a.outlet,
               coalesce(a.canonical_url, a.url) AS url_key,
               coalesce(a.is_article, false) AS ok, a.subtitle
        FROM articles a LEFT JOIN captures c ON c.id = a.capture_id
        WHERE a.rowid BETWEEN ? AND ?
          AND a.rowid IN (SELECT unnest(string_split(?, ','))::BIGINT)
        ORDER BY coalesce(c.fetched_at, pub), a.id
        """,
        [min(rowids), max(rowids), ",".join(map(str, rowids))],
    ).fetchall()


def _forget_deleted(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Drop detector state of articles no longer in the archive (a reindex deleted them);
    returns the surviving members of their stories, whose stories must be rebuilt."""
    gone = "SELECT article_id FROM story_seen WHERE article_id NOT IN (SELECT id FROM articles)"
    if not con.execute(f"SELECT count(*) FROM ({gone})").fetchone()[0]:
        return set()
    con.execute(f"CREATE OR REPLACE TEMP TABLE _gone AS {gone}")
    touched = {
        r[0]
        for r in con.execute(
            "SELECT m.article_id FROM story_members m WHERE m.story_id IN (SELECT story_id "
            "FROM story_members WHERE article_id IN (SELECT article_id FROM _gone)) "
            "AND m.article_id NOT IN (SELECT article_id FROM _gone)"
        ).fetchall()
    }
    con.execute(
        "DELETE FROM stories WHERE story_id IN (SELECT story_id FROM story_members WHERE "
        "article_id IN (SELECT article_id FROM _gone))"
    )
    for table, col in (
        ("story_members", "article_id"),
        ("story_sketches", "article_id"),
        ("story_bands", "article_id"),
        ("story_seen", "article_id"),
    ):
        con.execute(f"DELETE FROM {table} WHERE {col} IN (SELECT article_id FROM _gone)")
    con.execute(
        "DELETE FROM story_edges WHERE a IN (SELECT article_id FROM _gone) "
        "OR b IN (SELECT article_id FROM _gone)"
    )
    con.execute("DROP TABLE _gone")
    return touched


def _without_standfirst(text: str, subtitle: str | None) -> str:
    """The story without the outlet's own standfirst on top: a republished text under
    another site's summary line is still the same text (a duplicate, not a copy with its
    own top)."""
    if subtitle:
        first, _, rest = text.partition("\n")
        if first.strip() == subtitle.strip():
            return rest
    return text


def _sketch(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> list[str]:
    """Sketch new articles; record why the others are left out. Returns the sketched ids."""
    known = {
        r[0]
        for r in con.execute(
            "SELECT url_key FROM story_sketches WHERE url_key IN (SELECT unnest(string_split(?, chr(31))))",
            [_ids(r[4] for r in rows if r[4])],
        ).fetchall()
    }
    seen, sketches, new_ids = [], [], []
    bands: list[np.ndarray] = []  # per article: shingle band keys, anchor band keys
    band_of: list[int] = []  # index into new_ids of each band key
    kinds: list[int] = []
    new_pubs: list[str | None] = []
    for aid, text, pub, outlet, url_key, ok, subtitle in rows:
        if not ok:
            seen.append((aid, "not_article"))
            continue
        if url_key and url_key in known:
            seen.append((aid, "version"))  # a later capture of a URL already in a story
            continue
        f = featurize(_without_standfirst(text or "", subtitle))
        if f is None:
            seen.append((aid, "short"))
            continue
        if url_key:
            known.add(url_key)
        seen.append((aid, "sketched"))
        sketches.append((aid, pub, outlet, url_key, f.to_bytes()))
        sk, ak = band_keys(f)
        bands += (sk, ak)
        band_of += [len(new_ids)] * (sk.size + ak.size)
        kinds += [0] * sk.size + [1] * ak.size
        new_ids.append(aid)
        new_pubs.append(_text(pub))
    _bulk_insert(con, "story_seen", {"article_id": "VARCHAR", "status": "VARCHAR"}, seen)
    _bulk_insert(
        con,
        "story_sketches",
        {
            "article_id": "VARCHAR",
            "published": "TIMESTAMPTZ",
            "outlet": "VARCHAR",
            "url_key": "VARCHAR",
            "sketch": "BLOB",
        },
        sketches,
    )
    if bands:
        at = np.array(band_of, dtype=np.int64)
        _bulk_insert(
            con,
            "story_bands",
            {
                "band": "UBIGINT",
                "kind": "TINYINT",
                "article_id": "VARCHAR",
                "published": "TIMESTAMPTZ",
            },
            None,
            cols=[
                [str(k) for k in np.concatenate(bands).tolist()],
                [str(k) for k in kinds],
                np.array(new_ids, dtype=object)[at].tolist(),
                np.array(new_pubs, dtype=object)[at].tolist(),
            ],
        )
    return new_ids


_SEP = "\x1f"


def _text(v: object) -> str:
    """A value as the text its column is cast from; None (and "") is the empty string, read
    back as NULL."""
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return v if isinstance(v, str) else repr(v)


def _bulk_insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, str],
    rows: list[tuple] | None,
    exprs: dict[str, str] | None = None,
    cols: list[list[str]] | None = None,
) -> None:
    """Insert many rows as one text parameter per column, split and cast in SQL: binding long
    Python lists or executemany costs milliseconds per value in DuckDB's Python client, and
    its numpy scan of Python strings microseconds; a split costs nanoseconds. ``rows`` are
    tuples in column order, or ``cols`` gives each column's values as text already. Empty
    text is NULL (as in the CSV load this replaced)."""
    if cols is None:
        if not rows:
            return
        cols = [[_text(v) for v in c] for c in zip(*rows, strict=True)]
    elif not cols or not cols[0]:
        return
    params = [_SEP.join(c) for c in cols]
    if any(p.count(_SEP) != len(cols[0]) - 1 for p in params):  # a value holds the separator
        _insert_each(con, table, columns, cols, exprs)
        return
    split = ", ".join(f"unnest(string_split(?::VARCHAR, chr(31))) AS {c}" for c in columns)
    con.execute(
        f"INSERT INTO {table} SELECT {_casts(columns, exprs)} FROM (SELECT "
        + ", ".join(f"nullif({c}, '') AS {c}" for c in columns)
        + f" FROM (SELECT {split}))",
        params,
    )


def _casts(columns: dict[str, str], exprs: dict[str, str] | None) -> str:
    return ", ".join(
        (exprs or {}).get(c) or (f"unhex({c})" if t == "BLOB" else f"{c}::{t}")
        for c, t in columns.items()
    )


def _insert_each(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, str],
    cols: list[list[str]],
    exprs: dict[str, str] | None,
) -> None:
    """The slow path, one statement per row: only for values holding the separator."""
    inner = ", ".join(f"nullif(?::VARCHAR, '') AS {c}" for c in columns)
    for row in zip(*cols, strict=True):
        con.execute(
            f"INSERT INTO {table} SELECT {_casts(columns, exprs)} FROM (SELECT {inner})", list(row)
        )


def _load(con: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> dict[str, tuple]:
    """article id -> (published epoch, outlet, Features)."""
    rows = con.execute(
        "SELECT article_id, epoch(published), outlet, sketch, published FROM story_sketches "
        "WHERE article_id IN (SELECT unnest(string_split(?, chr(31))))",
        [_ids(ids)],
    ).fetchall()
    return {r[0]: (float(r[1] or 0.0), r[2], Features.from_bytes(r[3]), r[4]) for r in rows}


def _edges(
    con: duckdb.DuckDBPyConnection, new_ids: list[str], th: Thresholds, window_days: float
) -> int:
    """Judge every candidate pair with at least one new article; store the same-story ones."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _new AS SELECT * FROM story_bands "
        "WHERE article_id IN (SELECT unnest(string_split(?, chr(31))))",
        [_ids(new_ids)],
    )
    pairs = con.execute(
        """
        SELECT n.article_id, b.article_id,
               count(*) FILTER (WHERE n.kind = 0), count(*) FILTER (WHERE n.kind = 1)
        FROM _new n JOIN story_bands b ON b.band = n.band AND b.kind = n.kind
        WHERE b.article_id <> n.article_id
          AND abs(epoch(b.published) - epoch(n.published)) <= ?
        GROUP BY 1, 2
        """,
        [window_days * 86400.0],
    ).fetchall()
    con.execute("DROP TABLE _new")
    new = set(new_ids)
    todo = set()
    for a, b, sh, an in pairs:
        if not is_candidate(sh, an):
            continue
        if b in new and b < a:  # both new: judged once, from the smaller id
            continue
        todo.add((a, b) if a < b else (b, a))
    if not todo:
        return 0
    feats = _load(con, {x for p in todo for x in p})
    out = []
    for a, b in sorted(todo):
        v = compare(feats[a][2], feats[b][2], th)
        if v.relation:
            out.append((a, b, v.relation, v.similarity))
    _bulk_insert(
        con,
        "story_edges",
        {"a": "VARCHAR", "b": "VARCHAR", "relation": "VARCHAR", "similarity": "DOUBLE"},
        out,
    )
    return len(out)


def _restory(con: duckdb.DuckDBPyConnection, touched: set[str], th: Thresholds) -> None:
    """Rebuild the stories that contain any of ``touched``."""
    edges = con.execute("SELECT a, b FROM story_edges").fetchall()
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = {find(x) for x in touched if x in parent}
    groups: dict[str, list[str]] = {}
    for x in list(parent):
        r = find(x)
        if r in roots:
            groups.setdefault(r, []).append(x)
    members = sorted({x for g in groups.values() for x in g} | touched)
    old = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT story_id FROM story_members WHERE article_id IN "
            "(SELECT unnest(string_split(?, chr(31))))",
            [_ids(members)],
        ).fetchall()
    ]
    if old:
        con.execute(
            "DELETE FROM stories WHERE story_id IN (SELECT unnest(string_split(?, chr(31))))",
            [_ids(old)],
        )
        con.execute(
            "DELETE FROM story_members WHERE story_id IN (SELECT unnest(string_split(?, chr(31))))",
            [_ids(old)],
        )
    con.execute(
        "DELETE FROM story_members WHERE article_id IN (SELECT unnest(string_split(?, chr(31))))",
        [_ids(members)],
    )
    feats = _load(con, members)
    story_rows, member_rows = [], []
    for group in groups.values():
        group = [g for g in group if g in feats]
        if len(group) < 2:
            continue
        desc = describe([(g, feats[g][0], feats[g][2]) for g in group], th)
        origin = desc[0].id
        sid = story_id(origin)
        outlets = sorted({feats[g][1] for g in group if feats[g][1]})
        first: datetime = feats[origin][3]
        story_rows.append((sid, first, feats[origin][1], origin, len(group), outlets))
        for m in desc:
            member_rows.append((sid, m.id, m.relation, float(m.similarity), origin))
    _bulk_insert(
        con,
        "stories",
        {
            "story_id": "VARCHAR",
            "first_published": "TIMESTAMPTZ",
            "first_outlet": "VARCHAR",
            "origin_article_id": "VARCHAR",
            "size": "INTEGER",
            "outlets": "VARCHAR",
        },
        [(*r[:5], "\x1e".join(r[5])) for r in story_rows],
        {"outlets": "string_split(outlets, chr(30))"},
    )
    _bulk_insert(
        con,
        "story_members",
        {
            "story_id": "VARCHAR",
            "article_id": "VARCHAR",
            "relation": "VARCHAR",
            "similarity": "DOUBLE",
            "origin_article_id": "VARCHAR",
        },
        member_rows,
    )


def rebuild(con: duckdb.DuckDBPyConnection) -> int:
    """Forget all story state and assign every article again (after changing thresholds)."""
    ensure_story_schema(con)
    for t in ("stories", "story_members", *INTERNAL):
        con.execute(f"DELETE FROM {t}")
    return assign_pending(con)
