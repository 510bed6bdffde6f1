"""The seen-set the spider uses to skip articles that are already archived."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from newsarchive.index.db import connect
from newsarchive.index.spool import spool_rows


def load_seen(
    db_path: str | os.PathLike, outlets: list[str], timeout: float = 10.0
) -> dict[str, datetime]:
    """Canonical article URL -> latest capture time, for ``outlets``, including rows still
    waiting in the spool. An absent archive gives an empty set."""
    seen: dict[str, datetime] = {}
    wanted = set(outlets)

    def add(url: str | None, when: datetime | None) -> None:
        if url and when and (url not in seen or when > seen[url]):
            seen[url] = when

    if os.path.exists(db_path):
        con = connect(db_path, read_only=True, timeout=timeout)
        try:
            if con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'articles'"
            ).fetchone()[0]:
                rows = con.execute(
                    "SELECT a.canonical_url, max(c.fetched_at) FROM articles a "
                    "JOIN captures c ON c.id = a.capture_id "
                    "WHERE a.outlet IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1",
                    [sorted(wanted)],
                ).fetchall()
                for url, when in rows:
                    add(url, when.astimezone(UTC) if when else None)
        finally:
            con.close()
    for row in spool_rows(db_path, "articles"):
        if row.get("outlet") in wanted and row.get("_fetched_at"):
            try:
                when = datetime.fromisoformat(row["_fetched_at"]).astimezone(UTC)
            except (TypeError, ValueError):
                continue
            add(row.get("canonical_url"), when)
    return seen
