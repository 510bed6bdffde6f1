"""Research queries over the archive: one query language, a BM25 index that keeps up with
the crawl, and the verbs built on it (search, count, top words/outlets, sample, export).
See docs/QUERY.md."""

from __future__ import annotations

from newsarchive.query.parser import QuerySyntaxError, parse

__all__ = ["QuerySyntaxError", "parse"]

from newsarchive.query.engine import Bucket, Hit, QueryError, Scope, SearchResult  # noqa: E402
from newsarchive.query.verbs import count, sample, search, top_outlets, top_words  # noqa: E402

__all__ += [
    "Bucket",
    "Hit",
    "QueryError",
    "Scope",
    "SearchResult",
    "count",
    "sample",
    "search",
    "top_outlets",
    "top_words",
]
