"""The seen-set the spider uses to skip articles that are already archived.

For each archived article URL it gives the date of the newest version we hold: the newest
of the source's lastmod/published when we captured it and the page's own published/modified
dates (the capture time only when none is known). The spider refetches an article only when
a sitemap lastmod or feed date is newer than that, so each change costs one fetch, whatever
the outlet's clock says.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from newsarchive.index.db import connect, patience
from newsarchive.index.spool import spool_rows

# Pages that stand in for an article we did not get (a bot challenge, a paywall, an empty
# page): not archived articles, so the next run fetches the URL again.
RETRIED = ("challenge", "paywall", "empty")

VERSION_SQL = """
SELECT a.canonical_url,
       max(coalesce(greatest(
               TRY_CAST(json_extract_string(c.discovered_via, '$.lastmod') AS TIMESTAMPTZ),
               TRY_CAST(json_extract_string(c.discovered_via, '$.published') AS TIMESTAMPTZ),
               a.modified, a.published),
           c.fetched_at))
FROM articles a JOIN captures c ON c.id = a.capture_id
WHERE a.outlet IN (SELECT unnest(?::VARCHAR[]))
  AND (a.is_article OR coalesce(a.page_type, '') NOT IN ('challenge', 'paywall', 'empty'))
GROUP BY 1
"""


def _parse(value) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def load_seen(
    db_path: str | os.PathLike, outlets: list[str], timeout: float = 10.0
) -> dict[str, datetime]:
    """Canonical article URL -> date of the newest version archived, for ``outlets``,
    including rows still waiting in the spool. An absent archive gives an empty set."""
    seen: dict[str, datetime] = {}
    wanted = set(outlets)

    def add(url: str | None, when: datetime | None) -> None:
        if url and when and (url not in seen or when > seen[url]):
            seen[url] = when

    if os.path.exists(db_path):
        con = connect(db_path, read_only=True, timeout=patience(db_path, timeout))
        try:
            if con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'articles'"
            ).fetchone()[0]:
                for url, when in con.execute(VERSION_SQL, [sorted(wanted)]).fetchall():
                    add(url, when.astimezone(UTC) if when else None)
        finally:
            con.close()
    discovered = {}
    for row in spool_rows(db_path, "captures"):
        via = row.get("discovered_via") or {}
        if isinstance(via, dict):
            discovered[row.get("id")] = [_parse(via.get("lastmod")), _parse(via.get("published"))]
    for row in spool_rows(db_path, "articles"):
        if row.get("outlet") not in wanted:
            continue
        if not row.get("is_article") and row.get("page_type") in RETRIED:
            continue
        dates = discovered.get(row.get("capture_id"), []) + [
            _parse(row.get("modified")),
            _parse(row.get("published")),
        ]
        dates = [d for d in dates if d]
        add(row.get("canonical_url"), max(dates) if dates else _parse(row.get("_fetched_at")))
    return seen


RETRY_SQL = """
WITH tries AS (
    SELECT a.url, c.id AS try_id, c.fetched_at AS tried_at
    FROM articles a JOIN captures c ON c.url = a.url
    WHERE a.outlet IN (SELECT unnest(?::VARCHAR[]))
      AND NOT a.is_article AND a.page_type IN (SELECT unnest(?::VARCHAR[]))
    UNION ALL  -- a challenge answered 200 never reaches extraction: a fetch error
    SELECT url, id, time FROM fetch_errors
    WHERE outlet IN (SELECT unnest(?::VARCHAR[])) AND kind = 'challenge'
), got AS (
    SELECT url AS u FROM articles WHERE is_article AND url IS NOT NULL
    UNION SELECT canonical_url FROM articles WHERE is_article AND canonical_url IS NOT NULL
)
SELECT url, count(DISTINCT try_id), max(tried_at) FROM tries
WHERE url IS NOT NULL AND url NOT IN (SELECT u FROM got)
GROUP BY 1
"""


def load_retries(
    db_path: str | os.PathLike,
    outlets: list[str],
    now: datetime,
    base_hours: float = 1.0,
    max_attempts: int = 6,
    timeout: float = 10.0,
) -> list[str]:
    """URLs whose only captures are stand-ins (challenge, paywall, empty page) and are due
    again: the first retry at the next run, then after ``base_hours`` doubled per further
    attempt, never after ``max_attempts`` fetches. Their feeds may well answer 304, so the
    spider asks for them itself."""
    if not os.path.exists(db_path):
        return []
    con = connect(db_path, read_only=True, timeout=patience(db_path, timeout))
    try:
        keys = sorted(set(outlets))
        rows = con.execute(RETRY_SQL, [keys, list(RETRIED), keys]).fetchall()
    finally:
        con.close()
    due = []
    for url, attempts, last in rows:
        if attempts >= max_attempts:
            continue
        wait = base_hours * 3600 * 2 ** (attempts - 2)
        if attempts <= 1 or last is None or (now - last.astimezone(UTC)).total_seconds() >= wait:
            due.append(url)
    return sorted(due)
