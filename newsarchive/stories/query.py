"""Reading stories from the archive (the API the CLI and the web app use).

Every function takes an open DuckDB connection (read-only is fine) and returns plain
dataclasses; an archive without story tables reads as having no stories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb


@dataclass
class StorySummary:
    story_id: str
    size: int
    outlets: list[str]
    first_published: datetime | None
    first_outlet: str | None
    origin_article_id: str
    title: str | None


@dataclass
class Member:
    article_id: str
    url: str | None
    outlet: str | None
    title: str | None
    published: datetime | None
    relation: str
    similarity: float
    origin_article_id: str


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'stories'"
    ).fetchone()
    return bool(row and row[0])


_SUMMARY = """
    SELECT s.story_id, s.size, s.outlets, s.first_published, s.first_outlet,
           s.origin_article_id, a.title
    FROM stories s LEFT JOIN articles a ON a.id = s.origin_article_id
"""


def list_stories(
    con: duckdb.DuckDBPyConnection,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    min_outlets: int = 1,
    outlets: Sequence[str] = (),
    limit: int = 50,
) -> list[StorySummary]:
    """Biggest stories first (then earliest); ``since``/``until`` bound the first publication,
    ``outlets`` keeps stories carried by any of them."""
    if not _has_tables(con):
        return []
    where, params = ["len(s.outlets) >= ?"], [int(min_outlets)]
    if since is not None:
        where.append("s.first_published >= CAST(? AS TIMESTAMPTZ)")
        params.append(str(since))
    if until is not None:
        where.append("s.first_published < CAST(? AS TIMESTAMPTZ)")
        params.append(str(until))
    if outlets:
        where.append("len(list_intersect(s.outlets, string_split(?, chr(31)))) > 0")
        params.append("\x1f".join(outlets))
    sql = (
        f"{_SUMMARY} WHERE {' AND '.join(where)} "
        "ORDER BY s.size DESC, len(s.outlets) DESC, s.first_published, s.story_id LIMIT ?"
    )
    return [StorySummary(*r) for r in con.execute(sql, [*params, int(limit)]).fetchall()]


def get_story(con: duckdb.DuckDBPyConnection, story_id: str) -> StorySummary | None:
    if not _has_tables(con):
        return None
    row = con.execute(f"{_SUMMARY} WHERE s.story_id = ?", [story_id]).fetchone()
    return StorySummary(*row) if row else None


def story_members(con: duckdb.DuckDBPyConnection, story_id: str) -> list[Member]:
    """Members in publication order (origin first)."""
    if not _has_tables(con):
        return []
    rows = con.execute(
        """
        SELECT m.article_id, a.url, a.outlet, a.title, a.published, m.relation, m.similarity,
               m.origin_article_id
        FROM story_members m LEFT JOIN articles a ON a.id = m.article_id
        WHERE m.story_id = ?
        ORDER BY m.relation <> 'origin', a.published NULLS LAST, m.article_id
        """,
        [story_id],
    ).fetchall()
    return [Member(*r) for r in rows]


def story_of_article(con: duckdb.DuckDBPyConnection, article_id: str) -> str | None:
    """The story of an article; another capture of a member's URL belongs to it too."""
    if not _has_tables(con):
        return None
    row = con.execute(
        "SELECT story_id FROM story_members WHERE article_id = ?", [article_id]
    ).fetchone()
    if row:
        return row[0]
    row = con.execute(
        """
        SELECT m.story_id FROM articles a
        JOIN story_sketches k ON k.url_key = coalesce(a.canonical_url, a.url)
        JOIN story_members m ON m.article_id = k.article_id
        WHERE a.id = ?
        """,
        [article_id],
    ).fetchone()
    return row[0] if row else None


def resolve(con: duckdb.DuckDBPyConnection, ref: str) -> str | None:
    """A story id, an article id or an article URL -> story id."""
    if get_story(con, ref):
        return ref
    sid = story_of_article(con, ref)
    if sid:
        return sid
    row = con.execute(
        "SELECT id FROM articles WHERE url = ? OR canonical_url = ? ORDER BY id LIMIT 1",
        [ref, ref],
    ).fetchone()
    return story_of_article(con, row[0]) if row else None


def article_text(con: duckdb.DuckDBPyConnection, article_id: str) -> str:
    row = con.execute("SELECT text FROM articles WHERE id = ?", [article_id]).fetchone()
    return (row[0] or "") if row else ""
