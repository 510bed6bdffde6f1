"""DuckDB archive index: schema, spooled ingest pipeline, full-text search, reindex, export.

The crawl never keeps ``archive.duckdb`` open: rows go to a durable spool first and are
merged in short transactions, so ``sql``/``search`` can read while a crawl runs.
See docs/INDEX.md.
"""
