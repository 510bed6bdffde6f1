"""Building index rows from captures, page items and extracted articles.

The online pipeline and ``reindex`` both go through these functions, so the same capture
gives the same row either way (ids are deterministic: ``articles.id`` is the capture id).
Values are normalised here (UTC ISO timestamps, lists of strings, ints) so that a bad value
from a page becomes NULL instead of breaking a merge.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, date, datetime
from typing import Any

from newsarchive.urls import canonicalize_url

DISCOVERY_KEYS = ("source", "source_url", "lastmod", "published", "title", "keywords")


def utc_iso(value: Any) -> str | None:
    """ISO 8601 UTC string for a datetime/date/ISO string; None when it is not a time."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                value = date.fromisoformat(text[:10])
            except ValueError:
                return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()
    return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _strs(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    try:
        return [str(v) for v in value if v is not None and str(v) != ""]
    except TypeError:
        return None


def normalize_discovery(value: Any) -> dict | None:
    """The discovery dict with the contract's keys only, in a fixed order, so the crawl and
    ``reindex`` (which reads it back from the WARC metadata record) store the same JSON."""
    if not isinstance(value, dict) or not value.get("source"):
        return None
    out: dict[str, Any] = {}
    for k in DISCOVERY_KEYS:
        v = value.get(k)
        if k == "keywords":
            if isinstance(v, str):
                v = v.split(",")
            # the WARC metadata record stores keywords comma-joined: commas become spaces
            words = [" ".join(str(w).replace(",", " ").split()) for w in (v or ())]
            out[k] = [w for w in words if w] or None
        else:
            out[k] = _str(v) if v not in ("", None) else None
    return out


def capture_row(capture: dict) -> dict:
    """A ``captures`` row from a capture dict (the ``capture_recorded`` contract)."""
    status = _int(capture.get("status"))
    return {
        "id": _str(capture.get("id")),
        "url": _str(capture.get("url")),
        "canonical_url": _str(capture.get("canonical_url")),
        "outlet": _str(capture.get("outlet")),
        "fetched_at": utc_iso(capture.get("fetched_at")),
        "status": status,
        "mime": _str(capture.get("mime")) or "",
        "payload_digest": _str(capture.get("payload_digest")),
        "record_type": _str(capture.get("record_type")),
        "refers_to": _str(capture.get("refers_to")),
        "warc_filename": os.path.basename(_str(capture.get("warc_filename")) or "") or None,
        "warc_offset": _int(capture.get("warc_offset")),
        "warc_length": _int(capture.get("warc_length")),
        "discovered_via": normalize_discovery(capture.get("discovered_via")),
    }


def article_row(
    page: dict,
    article: dict | None,
    indexed_at: datetime | None = None,
    primary_hosts: dict[str, str] | None = None,
) -> dict:
    """An ``articles`` row for a page item (``capture_id``, ``url``, ``canonical_url``,
    ``outlet``, optionally ``discovered_via``) and its extracted article dict;
    ``article=None`` means "not an article"."""
    a = article or {}
    capture_id = _str(page.get("capture_id"))
    # The crawl has already applied rel=canonical to the page's URL; the extractor's
    # canonical is only a fallback.
    canonical = _str(page.get("canonical_url"))
    if not canonical and a.get("canonical_url"):
        try:
            canonical = canonicalize_url(str(a["canonical_url"]), primary_hosts)
        except ValueError:
            canonical = None
    text = _str(a.get("text"))
    word_count = _int(a.get("word_count"))
    if not word_count and text:
        word_count = len(text.split())
    is_article = bool(a.get("is_article", True)) if article is not None else False
    published = utc_iso(a.get("published"))
    date_source = _str(a.get("date_source")) if published else None
    if published is None and article is not None:
        # the page gave no date: the publication date its feed or news sitemap announced
        via = normalize_discovery(page.get("discovered_via")) or {}
        published = utc_iso(via.get("published"))
        date_source = "feed" if published else None
    return {
        "id": capture_id,
        "capture_id": capture_id,
        "outlet": _str(page.get("outlet")),
        "url": _str(page.get("url")),
        "canonical_url": canonical,
        "title": _str(a.get("title")),
        "subtitle": _str(a.get("subtitle")),
        "authors": _strs(a.get("authors")),
        "published": published,
        "modified": utc_iso(a.get("modified")),
        "section": _str(a.get("section")),
        "tags": _strs(a.get("tags")),
        "language": _str(a.get("language")),
        "text": text,
        "word_count": word_count or 0,
        "is_article": is_article,
        "page_type": _str(a.get("page_type")) or ("article" if is_article else "non_article"),
        "paywalled": bool(a.get("paywalled", False)),
        "captions": _strs(a.get("captions")),
        "extractor_version": _str(a.get("extractor_version")),
        "indexed_at": utc_iso(indexed_at or datetime.now(UTC)),
        "text_source": _str(a.get("text_source")) if article is not None else None,
        "title_source": _str(a.get("title_source")),
        "date_source": date_source,
    }


def error_row(
    url: str | None,
    kind: str,
    detail: Any,
    outlet: str | None = None,
    run_id: str | None = None,
    time: Any = None,
) -> dict:
    """A ``fetch_errors`` row; its id hashes the content so a re-merge adds nothing."""
    when = utc_iso(time) or utc_iso(datetime.now(UTC))
    detail_s = _str(detail) if not isinstance(detail, dict | list) else json.dumps(detail)
    key = "\x1f".join([url or "", kind or "", when or "", detail_s or ""])
    return {
        "id": hashlib.sha1(key.encode("utf-8", "replace")).hexdigest(),
        "url": _str(url),
        "time": when,
        "kind": _str(kind),
        "detail": (detail_s or "")[:4000],
        "outlet": _str(outlet),
        "run_id": _str(run_id),
    }
