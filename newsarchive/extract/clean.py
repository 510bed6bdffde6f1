"""Generic pruning of the parsed page before trafilatura sees it.

trafilatura's own boilerplate filters match class names case-sensitively and miss many
markups (Daily Mail's ``imageCaption``, "MORE:" link boxes, newsletter and share bars).
Here every class/id is split into words (``imageCaption`` -> image, caption;
``related-articles__list`` -> related, articles, list) and matched against a small
vocabulary, plus ARIA roles, ``figure``/``aside``/``figcaption``. Caption and credit
text is collected first so that it is kept as data and never lands in the body.
A guard keeps any element that holds most of the page's paragraph text, so that a
wrapper with an unlucky class name (``has-ads``) does not take the article with it.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml.html import HtmlElement

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_CAPTION_SUB = ("caption",)
_CREDIT_SUB = ("credit", "copyright", "photographer")
# Whole words of a class/id that mark boilerplate blocks.
_JUNK_WORDS = {
    "related",
    "newsletter",
    "newsletters",
    "promo",
    "promotion",
    "promoted",
    "advert",
    "advertisement",
    "advertising",
    "ad",
    "ads",
    "adslot",
    "adunit",
    "dfp",
    "sponsored",
    "outbrain",
    "taboola",
    "share",
    "sharing",
    "sharebar",
    "sharetools",
    "social",
    "readmore",
    "recommended",
    "recommendations",
    "recirc",
    "recirculation",
    "subscribe",
    "subscription",
    "signup",
    "popular",
    "trending",
    "breadcrumb",
    "breadcrumbs",
    "paywall",
    "mpu",
    "billboard",
    "cookie",
    "consent",
    "donate",
    "donation",
    "disclaimer",
    "affiliate",
    "sponsor",
    "comments",
    "mostread",
}
# Substrings of a lower-cased token that mark boilerplate even when glued together.
_JUNK_SUB = (
    "readmore",
    "read-more",
    "relatedarticle",
    "related-article",
    "relatedcontent",
    "newsletter",
    "taboola",
    "outbrain",
    "sharebar",
    "socialshare",
    "share-bar",
    "moreon",
    "more-on",
    "mostread",
    "most-read",
    "alsoread",
    "also-read",
    "seealso",
    "see-also",
    "adslot",
    "ad-slot",
    "adunit",
    "ad-unit",
    "adcontainer",
    "ad-container",
    "adwrapper",
    "ad-wrapper",
    "inline-ad",
    "advert",
)
# Boxes and embeds beside the story: removed even when long (a fact box can hold a full
# transcript), as long as they are not the page's main container.
_STRONG_SUB = (
    "factbox",
    "fact-box",
    "infobox",
    "info-box",
    "twitter-tweet",
    "instagram-media",
    "tiktok-embed",
    "fb-post",
    "embedded-tweet",
    "social-embed",
    "reddit-embed",
)
# Word pairs that mark boilerplate only together (a lone "more" or "list" is harmless).
_JUNK_PAIRS = (
    ("read", "more"),
    ("more", "stories"),
    ("more", "from"),
    ("also", "read"),
    ("you", "may"),
    ("see", "also"),
    ("most", "read"),
    ("more", "on"),
    ("bullet", "list"),
    ("author", "bio"),
    ("author", "info"),
    ("about", "author"),
    ("bio",),
    ("byline",),
    ("bylines",),
)
_JUNK_ROLES = {
    "complementary",
    "navigation",
    "banner",
    "contentinfo",
    "dialog",
    "alertdialog",
    "search",
    "menu",
    "menubar",
    "toolbar",
    "tooltip",
    "alert",
    "marquee",
}
_JUNK_TAGS = {"aside", "nav", "footer", "form", "button", "noscript", "dialog", "iframe"}
_PROTECT_TAGS = {"html", "body", "main", "article"}


def _words(token: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(token)]


def _attr_tokens(el: HtmlElement) -> list[str]:
    return ((el.get("class") or "") + " " + (el.get("id") or "")).split()


def _is_junk_attr(tokens: list[str]) -> bool:
    for tok in tokens:
        low = tok.lower()
        if any(s in low for s in _JUNK_SUB):
            return True
        words = _words(tok)
        if _JUNK_WORDS.intersection(words):
            return True
        ws = set(words)
        if any(all(w in ws for w in pair) for pair in _JUNK_PAIRS):
            return True
    return False


def _kind(el: HtmlElement) -> str | None:
    """'caption', 'credit' or None for an element marked up as such."""
    if el.tag == "figcaption":
        return "caption"
    low = ((el.get("class") or "") + " " + (el.get("id") or "")).lower()
    if not low.strip():
        return None
    if any(s in low for s in _CREDIT_SUB):
        return "credit"
    if any(s in low for s in _CAPTION_SUB):
        return "caption"
    return None


def _text(el: HtmlElement) -> str:
    return " ".join(el.text_content().split())


def _content_len(el: HtmlElement) -> int:
    """Length of the element's text that is not link text (teaser lists are mostly links)."""
    n = len(el.text_content())
    for a in el.iter("a"):
        n -= len(a.text_content())
    return n


def _long_paragraphs(el: HtmlElement, limit: int = 2) -> bool:
    """True when the element holds ``limit`` body-like paragraphs (long, not links)."""
    k = 0
    for p in el.iter("p"):
        t = p.text_content()
        if len(t) >= 150 and sum(len(a.text_content()) for a in p.iter("a")) < 0.3 * len(t):
            k += 1
            if k >= limit:
                return True
    return False


def collect_and_prune(
    tree: HtmlElement, extra_selectors: tuple[str, ...] = ()
) -> tuple[list[str], list[str]]:
    """Remove captions, credits and boilerplate blocks from ``tree`` in place.

    Returns (captions, credits) as found on the page, in order, de-duplicated.
    """
    captions: list[str] = []
    credits: list[str] = []
    body = tree.find("body") if tree.tag == "html" else tree
    if body is None:
        body = tree
    for el in list(body.iter("script", "style", "template", "svg")):
        if el.getparent() is not None:
            _drop(el)
    total = _content_len(body) or 1
    doomed: list[HtmlElement] = []

    def protected(el: HtmlElement) -> bool:
        if el.tag in _PROTECT_TAGS:
            return True
        n = _content_len(el)
        return (n > 0.4 * total and n > 600) or _long_paragraphs(el)

    for el in body.iter(etree.Element):
        tag = el.tag
        if not isinstance(tag, str):
            continue
        kind = _kind(el)
        if kind is not None:
            t = _text(el)
            if t and len(t) < 600 and not protected(el):
                # A credit nested inside a caption is recorded on its own below.
                if kind == "caption":
                    inner = [_text(c) for c in el.iter() if c is not el and _kind(c) == "credit"]
                    for c in inner:
                        t = t.replace(c, " ").strip()
                    t = " ".join(t.split())
                (credits if kind == "credit" else captions).append(t) if t else None
                doomed.append(el)
            continue
        if tag in _JUNK_TAGS or tag == "figure":
            if tag == "figure" or not protected(el):
                doomed.append(el)
            continue
        role = (el.get("role") or "").lower()
        if role in _JUNK_ROLES or el.get("aria-hidden") == "true":
            if not protected(el):
                doomed.append(el)
            continue
        tokens = _attr_tokens(el)
        if not tokens:
            continue
        low = " ".join(tokens).lower()
        if any(x in low for x in _STRONG_SUB):
            doomed.append(el)
        elif _is_junk_attr(tokens) and not protected(el):
            doomed.append(el)

    for sel in extra_selectors:
        try:
            doomed.extend(body.cssselect(sel))
        except Exception:  # a bad selector in the registry must not break extraction
            continue
    for el in doomed:
        parent = el.getparent()
        if parent is None:
            continue
        _drop(el)
    return _dedup(captions), _dedup(credits)


def _drop(el: HtmlElement) -> None:
    """Remove an element but keep its tail text (it belongs to the parent)."""
    parent = el.getparent()
    tail = el.tail
    if tail and tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _dedup(xs: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for x in xs:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out
