"""The crawl's notion of "now", pinnable for reproducible runs.

``NEWSARCHIVE_NOW`` (an ISO 8601 time, as a setting or an environment variable) pins the
clock that both the replica's publication dates and the spider's max-age window use, so the
demo run twice sees the same site and adds nothing the second time.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

ENV = "NEWSARCHIVE_NOW"


class ClockError(ValueError):
    """A pinned clock that is not an ISO 8601 time."""


def parse_clock(value: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed; naive means UTC) as an aware UTC datetime."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ClockError(f"{ENV}/--clock wants an ISO 8601 time, got {value!r}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def pinned(settings: Any = None) -> datetime | None:
    """The pinned time from the ``NEWSARCHIVE_NOW`` setting or environment, else None."""
    value = settings.get(ENV) if settings is not None else None
    value = value or os.environ.get(ENV)
    return parse_clock(str(value)) if value else None


def now(settings: Any = None) -> datetime:
    """The pinned time if any, else the wall clock (UTC)."""
    return pinned(settings) or datetime.now(UTC)
