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
from dataclasses import dataclass
from functools import lru_cache

from cssselect import SelectorError
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
_JUNK_SUB_RE = re.compile("|".join(map(re.escape, _JUNK_SUB)), re.I)
_STRONG_RE = re.compile("|".join(map(re.escape, _STRONG_SUB)), re.I)
_PAYWALL_RE = re.compile(
    r"paywall|premium-content|subscriber-only|subscribers-only|meteredcontent|piano-offer|"
    r"tp-modal|regwall|article-locked|locked-content|metered",
    re.I,
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
_PAIR_WORDS = {w for pair in _JUNK_PAIRS for w in pair}
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


def _attr(el: HtmlElement) -> str:
    c, i = el.get("class"), el.get("id")
    if c and i:
        return f"{c} {i}"
    return c or i or ""


@lru_cache(maxsize=65536)
def _junk_token(tok: str) -> bool:
    """One class/id token; cached because sites repeat the same few hundred tokens."""
    if _JUNK_SUB_RE.search(tok):
        return True
    words = set(_words(tok))
    if not _JUNK_WORDS.isdisjoint(words):
        return True
    if _PAIR_WORDS.isdisjoint(words):
        return False
    return any(all(w in words for w in pair) for pair in _JUNK_PAIRS)


@lru_cache(maxsize=65536)
def _strong_attr(attr: str) -> bool:
    return bool(_STRONG_RE.search(attr))


@lru_cache(maxsize=65536)
def _paywall_attr(attr: str) -> bool:
    return bool(_PAYWALL_RE.search(attr))


def _is_junk_attr(attr: str) -> bool:
    return any(_junk_token(t) for t in attr.split())


@lru_cache(maxsize=65536)
def _kind_attr(attr: str) -> str | None:
    low = attr.lower()
    if any(s in low for s in _CREDIT_SUB):
        return "credit"
    if any(s in low for s in _CAPTION_SUB):
        return "caption"
    return None


def _kind(tag: str, attr: str) -> str | None:
    """'caption', 'credit' or None for an element marked up as such."""
    if tag == "figcaption":
        return "caption"
    return _kind_attr(attr) if attr else None


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


@dataclass
class Pruned:
    captions: list[str]
    credits: list[str]
    paywall_marked: bool  # a paywall/metering class or id was seen on the page


def collect_and_prune(tree: HtmlElement, extra_selectors: tuple[str, ...] = ()) -> Pruned:
    """Remove captions, credits and boilerplate blocks from ``tree`` in place.

    Returns captions and credits as found on the page (in order, de-duplicated) and
    whether the page carries paywall markup.
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
    paywall = False

    def protected(el: HtmlElement) -> bool:
        if el.tag in _PROTECT_TAGS:
            return True
        n = _content_len(el)
        return (n > 0.4 * total and n > 600) or _long_paragraphs(el)

    # Depth-first walk that does not descend into blocks already condemned (their
    # content goes anyway), except figures and captions, whose captions/credits we keep.
    stack = list(reversed(body))
    while stack:
        el = stack.pop()
        tag = el.tag
        if not isinstance(tag, str):
            continue
        attr = _attr(el)
        kind = _kind(tag, attr)
        if kind is not None:
            t = _text(el)
            if t and len(t) < 600 and not protected(el):
                if kind == "caption":  # a credit inside a caption is recorded on its own
                    for c in el.iterdescendants():
                        if isinstance(c.tag, str) and _kind(c.tag, _attr(c)) == "credit":
                            t = t.replace(_text(c), " ")
                    t = " ".join(t.split())
                if t:
                    (credits if kind == "credit" else captions).append(t)
                doomed.append(el)
            stack.extend(reversed(el))
            continue
        if tag == "figure":
            doomed.append(el)
            stack.extend(reversed(el))
            continue
        if tag in _JUNK_TAGS:
            if not protected(el):
                doomed.append(el)
                continue
        else:
            role = el.get("role")
            if (role and role.lower() in _JUNK_ROLES) or el.get("aria-hidden") == "true":
                if not protected(el):
                    doomed.append(el)
                    continue
        if attr:
            if not paywall and _paywall_attr(attr):
                paywall = True
            if _strong_attr(attr) or (_is_junk_attr(attr) and not protected(el)):
                doomed.append(el)
                continue
        stack.extend(reversed(el))

    for sel in extra_selectors:
        try:
            doomed.extend(body.cssselect(sel))
        except (SelectorError, etree.XPathError, ValueError):
            continue  # a bad selector in the registry must not break extraction
    for el in doomed:
        parent = el.getparent()
        if parent is None:
            continue
        _drop(el)
    return Pruned(_dedup(captions), _dedup(credits), paywall)


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
