"""Tables of the archive and their DDL.

Only plain DuckDB types (TIMESTAMPTZ, VARCHAR[], BIGINT, JSON) and views are used, so the file
opens in the stock ``duckdb`` CLI without project code. Every table has a deterministic
primary key, which makes re-merging a spool segment (after a crash) a no-op.
"""

from __future__ import annotations

import duckdb

# column name -> DuckDB type; the order is the table's column order.
CAPTURES: dict[str, str] = {
    "id": "VARCHAR",
    "url": "VARCHAR",
    "canonical_url": "VARCHAR",
    "outlet": "VARCHAR",
    "fetched_at": "TIMESTAMPTZ",
    "status": "INTEGER",
    "mime": "VARCHAR",
    "payload_digest": "VARCHAR",
    "record_type": "VARCHAR",
    "refers_to": "VARCHAR",
    "warc_filename": "VARCHAR",
    "warc_offset": "BIGINT",
    "warc_length": "BIGINT",
    "discovered_via": "JSON",
}

ARTICLES: dict[str, str] = {
    "id": "VARCHAR",
    "capture_id": "VARCHAR",
    "outlet": "VARCHAR",
    "url": "VARCHAR",
    "canonical_url": "VARCHAR",
    "title": "VARCHAR",
    "subtitle": "VARCHAR",
    "authors": "VARCHAR[]",
    "published": "TIMESTAMPTZ",
    "modified": "TIMESTAMPTZ",
    "section": "VARCHAR",
    "tags": "VARCHAR[]",
    "language": "VARCHAR",
    "text": "VARCHAR",
    "word_count": "INTEGER",
    "is_article": "BOOLEAN",
    "page_type": "VARCHAR",
    "paywalled": "BOOLEAN",
    "captions": "VARCHAR[]",
    "extractor_version": "VARCHAR",
    "indexed_at": "TIMESTAMPTZ",
    # provenance: which method produced the text, the title and the publication date
    "text_source": "VARCHAR",
    "title_source": "VARCHAR",
    "date_source": "VARCHAR",
}

FETCH_ERRORS: dict[str, str] = {
    "id": "VARCHAR",
    "url": "VARCHAR",
    "time": "TIMESTAMPTZ",
    "kind": "VARCHAR",
    "detail": "VARCHAR",
    "outlet": "VARCHAR",
    "run_id": "VARCHAR",
}

CRAWL_RUNS: dict[str, str] = {
    "id": "VARCHAR",
    "started": "TIMESTAMPTZ",
    "finished": "TIMESTAMPTZ",
    "outlets": "VARCHAR[]",
    "stats": "JSON",
    "status": "VARCHAR",
}

TABLES: dict[str, dict[str, str]] = {
    "captures": CAPTURES,
    "articles": ARTICLES,
    "fetch_errors": FETCH_ERRORS,
    "crawl_runs": CRAWL_RUNS,
}

# Rows whose key is already present are skipped, except crawl runs, whose finish
# updates the row written at start.
UPSERT_COLUMNS = {"crawl_runs": ("finished", "stats", "status")}

# The version rule: bump it whenever a table gains a column (columns are only ever added,
# at the end, nullable). ``ensure_schema`` brings an older archive up to date in place:
# missing columns are added (NULL in old rows until a reindex fills them) and the new
# version is recorded in ``index_meta``.
# 2: articles.text_source, title_source, date_source.
SCHEMA_VERSION = "2"

_VIEWS = """
CREATE OR REPLACE VIEW normal_articles AS
    SELECT * FROM articles WHERE is_article;
CREATE OR REPLACE VIEW article_captures AS
    SELECT a.*, c.fetched_at, c.status, c.warc_filename, c.warc_offset, c.warc_length,
           c.discovered_via
    FROM articles a JOIN captures c ON c.id = a.capture_id;
"""


def table_ddl(name: str) -> str:
    cols = ",\n    ".join(f"{c} {t}" for c, t in TABLES[name].items())
    return f"CREATE TABLE IF NOT EXISTS {name} (\n    {cols},\n    PRIMARY KEY (id)\n)"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, views and the meta table (idempotent)."""
    for name, cols in TABLES.items():
        con.execute(table_ddl(name))
        have = {
            r[0] for r in con.execute(f"SELECT name FROM pragma_table_info('{name}')").fetchall()
        }
        for col, typ in cols.items():
            if col not in have:  # an archive written before the column existed
                con.execute(f"ALTER TABLE {name} ADD COLUMN {col} {typ}")
    con.execute("CREATE TABLE IF NOT EXISTS index_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT INTO index_meta VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION],
    )
    con.execute(_VIEWS)


def has_schema(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'captures'"
    ).fetchone()
    return bool(row and row[0])
