"""Which capture of a URL an ``articles`` row comes from: one rule for crawl, resume, ingest
and reindex.

An article row belongs to the *first* capture (by ``fetched_at``, then id) of its
``canonical_url`` and payload digest. A later capture of the same bytes (a revisit, or a
re-fetch after a kill or a lost lease) is kept in ``captures`` only: it is not a second
article. Changed bytes are a new digest, hence a new version with its own row.

The rule is applied where rows meet the archive (the spool merge, :mod:`.spool`), so the
order in which rows arrive does not matter: whatever was merged first, the archive keeps
the earliest capture's row. ``reindex`` merges through the same function.
"""

from __future__ import annotations

import duckdb

_KEYED = (
    "FROM articles a JOIN captures c ON c.id = a.capture_id "
    "WHERE a.canonical_url IS NOT NULL AND c.payload_digest IS NOT NULL"
)


def drop_refetched(con: duckdb.DuckDBPyConnection, scope_table: str | None = None) -> int:
    """Delete article rows of later captures of an already-archived payload; returns how many.

    ``scope_table``: a table with an ``id`` column of article ids just merged; only their
    (canonical_url, payload digest) keys are looked at (None: the whole archive). Runs in
    the caller's transaction.
    """
    scope = ""
    if scope_table:
        scope = (
            " AND (a.canonical_url, c.payload_digest) IN (SELECT a.canonical_url, "
            f"c.payload_digest {_KEYED} AND a.id IN (SELECT id FROM {scope_table}))"
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _refetched AS SELECT id FROM ("
        "SELECT a.id, row_number() OVER (PARTITION BY a.canonical_url, c.payload_digest "
        f"ORDER BY c.fetched_at, a.id) AS n {_KEYED}{scope}) WHERE n > 1"
    )
    n = con.execute("SELECT count(*) FROM _refetched").fetchone()[0]
    if n:
        con.execute("DELETE FROM articles WHERE id IN (SELECT id FROM _refetched)")
    con.execute("DROP TABLE _refetched")
    return n
