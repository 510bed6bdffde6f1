"""Page classification: anti-bot challenges, paywalls, video/liveblog/gallery pages.

Cheap checks on the already-parsed tree and metadata. A challenge or empty page must never
be indexed as a normal article, so these flags are decided before any text is trusted.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from newsarchive.extract.meta import Meta

_CHALLENGE_TITLE = re.compile(
    r"just a moment|attention required|access denied|are you a robot|are you human|"
    r"security check|verify you are human|checking your browser|ddos protection|"
    r"request blocked|captcha|bot verification|pardon our interruption|^403 forbidden",
    re.I,
)
_CHALLENGE_BODY = re.compile(
    r"enable javascript and cookies to continue|checking (?:if the site connection is secure|"
    r"your browser before accessing)|verify you are (?:a )?human|complete the security check|"
    r"please enable (?:javascript|js)(?: and cookies)?|you have been blocked|"
    r"access to this page has been denied|you don't have permission to access|"
    r"unusual traffic from your (?:computer )?network|press (?:&|and) hold|"
    r"cf-browser-verification|cf_chl_|challenge-platform|g-recaptcha|h-captcha|"
    r"perimeterx|px-captcha|datadome|incapsula incident",
    re.I,
)
_VIDEO_TYPES = {"videoobject", "clip"}
_GALLERY_TYPES = {"imagegallery", "mediagallery"}


def is_challenge(tree: HtmlElement, raw_head: str) -> bool:
    """An anti-bot interstitial served with status 200 instead of the page."""
    body = tree.find("body")
    text_len = len(body.text_content().strip()) if body is not None else 0
    if text_len >= 3000:  # real pages are long; interstitials are a few lines
        return False
    page_title = tree.findtext(".//title") or ""
    if _CHALLENGE_TITLE.search(page_title.strip()):
        return True
    return text_len < 2000 and bool(_CHALLENGE_BODY.search(raw_head))


def page_type(meta: Meta, main_types: set[str]) -> str | None:
    """'video', 'liveblog' or 'gallery' when structured data says so, else None."""
    og = (meta.og_type or "").lower()
    if "liveblogposting" in main_types:
        return "liveblog"
    if main_types & _VIDEO_TYPES or (og.startswith("video") and not main_types):
        return "video"
    if main_types & _GALLERY_TYPES:
        return "gallery"
    return None
