"""Research queries over the archive: one query language, a BM25 index that keeps up with
the crawl, and the verbs built on it (search, count, top words/outlets, sample, export).
See docs/QUERY.md."""

from __future__ import annotations

from newsarchive.query.parser import QuerySyntaxError, parse

__all__ = ["QuerySyntaxError", "parse"]
