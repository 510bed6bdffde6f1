"""What kind of page a capture is, decided the same way by the crawl and by reindex."""

from __future__ import annotations

from newsarchive.registry import Outlet

HTML_TYPES = ("text/html", "application/xhtml+xml")


def page_kind(outlet: Outlet | None, canonical_url: str, status: int, mime: str) -> str:
    """Return "article", "non_article" or "other" for a fetched page.

    Only 200 HTML pages whose canonical URL the outlet's registry entry calls an article are
    candidates for extraction; extraction may still flag them (video, live blog, paywall...).
    """
    if outlet is None:
        return "other"
    if outlet.is_non_article_url(canonical_url):
        return "non_article"
    if status != 200 or (mime and mime.split(";")[0].strip().lower() not in HTML_TYPES):
        return "other"
    return "article" if outlet.is_article_url(canonical_url) else "other"
