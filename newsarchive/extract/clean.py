"""Generic pruning of the parsed page before trafilatura sees it.

trafilatura's own boilerplate filters match class names case-sensitively and miss many
markups (Daily Mail's ``imageCaption``, "MORE:" link boxes, newsletter and share bars).
Here every class/id is split into words (``imageCaption`` -> image, caption;
``related-articles__list`` -> related, articles, list) and matched against a small
vocabulary, plus ARIA roles, ``figure``/``aside``/``figcaption``. Caption and credit
text is collected first so that it is kept as data and never lands in the body.
Two guards keep the body: an element that holds most of the page's paragraph text is
never removed (a wrapper with an unlucky class name, ``has-ads``), and neither is a set of
elements condemned by the same rule when together they hold most of it (a platform that
puts ``paywall`` or ``premium`` on every body paragraph). Paywall and metering markup is a
flag, not a reason to cut: only the wall itself (a short prompt box, a modal) is removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
    "sidebar",
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
    "sidebar",
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
# Overlays drawn over the page (paywall and consent walls, popups); removed unless the
# page is built inside one, which the group guard catches.
_MODAL_WORDS = {"modal", "popup", "interstitial"}
# Beside a paywall marker these also name the wall, not the story ("overlay" alone is
# too common: image overlays, overlay links).
_WALL_WORDS = _MODAL_WORDS | {"overlay", "backdrop", "curtain"}
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
def _junk_token(tok: str) -> str | None:
    """The vocabulary entry one class/id token matches (the rule that fires), or None.

    Cached because sites repeat the same few hundred tokens.
    """
    m = _JUNK_SUB_RE.search(tok)
    if m:
        return m.group(0).lower()
    words = set(_words(tok))
    hit = words & _JUNK_WORDS or words & _MODAL_WORDS
    if hit:
        return min(hit)
    if _PAIR_WORDS.isdisjoint(words):
        return None
    for pair in _JUNK_PAIRS:
        if all(w in words for w in pair):
            return "+".join(pair)
    return None


@lru_cache(maxsize=65536)
def _wall_attr(attr: str) -> bool:
    return any(not _WALL_WORDS.isdisjoint(_words(t)) for t in attr.split())


@lru_cache(maxsize=65536)
def _strong_attr(attr: str) -> bool:
    return bool(_STRONG_RE.search(attr))


@lru_cache(maxsize=65536)
def _paywall_attr(attr: str) -> bool:
    return bool(_PAYWALL_RE.search(attr))


def _junk_key(attr: str) -> str | None:
    """The rule that condemns an element by its class/id, named for the group guard."""
    for t in attr.split():
        key = _junk_token(t)
        if key:
            return key
    return None


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


_BODY_TAGS = {"p", "h2", "h3", "h4", "h5", "h6", "blockquote"}


def _is_prompt(el: HtmlElement) -> bool:
    """A paywall-marked element that is the wall (offer, login box), not marked-up body text."""
    if el.tag in _BODY_TAGS or el.tag == "li" or _long_paragraphs(el, 1):
        return False
    return _content_len(el) < 500


@dataclass
class Pruned:
    captions: list[str]
    credits: list[str]
    paywall_marked: bool  # a paywall/metering class or id was seen on the page
    paywall_prompt: bool = False  # a wall (offer box, modal) was found and removed
    para_chars: int = 0  # the page's paragraph text (<p>, not links) before pruning
    cut_chars: int = 0  # of which the generic rules removed this much
    notes: list[str] = field(default_factory=list)  # editor's notes and pointers removed


def _para_lengths(body: HtmlElement) -> dict[HtmlElement, int]:
    """Body-like text of each <p>: its length without link text (teaser lists are links)."""
    out = {}
    for p in body.iter("p"):
        t = len(p.text_content())
        links = sum(len(a.text_content()) for a in p.iter("a"))
        if t - links > 0.5 * t:
            out[p] = t - links
    return out


def collect_and_prune(tree: HtmlElement, extra_selectors: tuple[str, ...] = ()) -> Pruned:
    """Remove captions, credits and boilerplate blocks from ``tree`` in place.

    Returns captions and credits as found on the page (in order, de-duplicated) and
    what the page's paywall markup was: a wall, or a marker on body text.
    """
    captions: list[str] = []
    credits: list[str] = []
    notes: list[str] = []
    body = tree.find("body") if tree.tag == "html" else tree
    if body is None:
        body = tree
    for el in list(body.iter("script", "style", "template", "svg")):
        if el.getparent() is not None:
            _drop(el)
    total = _content_len(body) or 1
    paras = _para_lengths(body)
    unmarked = _unmarked_captions(body)
    in_unmarked = sum(paras.get(q, 0) for box in unmarked for q in box.iter("p"))
    if in_unmarked > UNMARKED_SHARE * sum(paras.values()):
        # that much text beside images is the body set in image blocks, not captions
        unmarked = set()
    # (element, rule) pairs; a rule is a tag, a role or the class/id token that fired
    doomed: list[tuple[HtmlElement, str]] = []
    paywall = False
    walls: list[HtmlElement] = []

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
        kind = "caption" if el in unmarked else _kind(tag, attr)
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
                doomed.append((el, ""))
            stack.extend(reversed(el))
            continue
        if tag == "p" and _is_note(el):
            notes.append(_text(el))
            doomed.append((el, "note"))
            continue
        if tag == "figure":
            doomed.append((el, "figure"))
            stack.extend(reversed(el))
            continue
        if tag in _JUNK_TAGS:
            if not protected(el):
                doomed.append((el, tag))
                continue
        else:
            role = el.get("role")
            if (role and role.lower() in _JUNK_ROLES) or el.get("aria-hidden") == "true":
                if not protected(el):
                    doomed.append((el, f"role={role}"))
                    continue
            if el.get("aria-modal") == "true" and not protected(el):
                doomed.append((el, "aria-modal"))
                continue
        if attr:
            if _paywall_attr(attr):
                paywall = True
                if _wall_attr(attr) or _is_prompt(el):
                    walls.append(el)
                    doomed.append((el, "paywall"))
                    continue
            if _strong_attr(attr):
                doomed.append((el, "strong"))
                continue
            key = _junk_key(attr)
            if key is not None and not protected(el):
                doomed.append((el, key))
                continue
        stack.extend(reversed(el))

    for sel in extra_selectors:
        try:
            doomed.extend((el, "") for el in body.cssselect(sel))
        except (SelectorError, etree.XPathError, ValueError):
            continue  # a bad selector in the registry must not break extraction
    # candidate body text: the paragraphs, less those in boxes removed on purpose
    # (fact boxes, embeds, captions, the outlet's selectors), which no guard brings back
    para_chars = sum(paras.values())
    for el, rule in doomed:
        if rule in ("strong", "", "figure"):
            para_chars -= sum(paras.pop(p, 0) for p in el.iter("p"))
    spared = _guard(doomed, paras, para_chars)
    cut = 0
    for el, _rule in doomed:
        if el in spared or el.getparent() is None:
            continue
        cut += sum(paras.pop(p, 0) for p in el.iter("p"))
        _drop(el)
    return Pruned(
        _dedup(captions),
        _dedup(credits),
        paywall,
        paywall_prompt=any(el not in spared for el in walls),
        para_chars=para_chars,
        cut_chars=cut,
        notes=notes,
    )


_EMPHASIS = {"em", "strong", "i", "b"}
# An editor's note is short; a lead paragraph set in bold is longer.
NOTE_CHARS = 300


def _is_note(p: HtmlElement) -> bool:
    """A short paragraph set wholly in italics/bold that holds a link.

    This is an editor's note or a pointer, not the story: "This article first appeared
    in ...", "Read more: ...", "The issue is on sale now, pre-order it here", "Support
    us with a donation". Emphasised paragraphs without a link are often the story
    (a bold lead, subheadings set as bold paragraphs), so the link is required.
    """
    if (p.text or "").strip():
        return False
    kids = [c for c in p if isinstance(c.tag, str)]
    if len(kids) != 1 or kids[0].tag not in _EMPHASIS or (kids[0].tail or "").strip():
        return False
    n = len(_text(p))
    return 20 <= n <= NOTE_CHARS and any(a.get("href") for a in p.iter("a"))


# Captions found without markup may not hold more than this share of the paragraph text.
UNMARKED_SHARE = 0.15
_NOT_CAPTION = {"p", "li", "a", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "body", "html"}
_CAPTION_FRAME = {"figure", "figcaption"}


def _unmarked_captions(body: HtmlElement) -> set[HtmlElement]:
    """Captions without caption markup: the one short text under an image in its box.

    The nearest ancestor of an image that holds any text is taken as the image's box
    (``<div class="media"><picture/><div class="info"><p>...</p></div></div>``). Its
    text is a caption when it is short, follows the image, and is not a link or a
    headline (then the box is a teaser card, removed or kept by the other rules).
    Figures are left to the figure rule.
    """
    out: set[HtmlElement] = set()
    for img in body.iter("img"):
        box, depth = img.getparent(), 0
        while box is not None and depth < 5 and not box.text_content().strip():
            if box.tag in _CAPTION_FRAME:
                break
            box, depth = box.getparent(), depth + 1
        if box is None or box in out or box.tag in _NOT_CAPTION or box.tag in _CAPTION_FRAME:
            continue
        if any(a.tag in _CAPTION_FRAME for a in box.iterancestors()):
            continue
        text = box.text_content().strip()
        if not text or len(text) > 250:
            continue
        before = True
        plain = not (box.text or "").strip()  # text ahead of every child is above the image
        for el in box.iter():
            if el is img:
                before = False
                continue
            if not isinstance(el.tag, str):
                continue
            if before and el is not box and (el.text or "").strip():
                plain = False  # text above the image: not its caption
                break
            if el.tag in _NOT_CAPTION - {"p"} and (el.text_content() or "").strip():
                plain = False  # a link or a headline: a teaser card
                break
        if plain:
            out.add(box)
    for fig in body.iter("figure"):
        # a caption set as the next paragraph, all in bold or italics, after a bare image
        nxt = fig.getnext()
        if fig.text_content().strip() or nxt is None or nxt.tag != "p":
            continue
        text = nxt.text_content().strip()
        styled = "".join(
            e.text_content() for e in nxt if e.tag in ("strong", "b", "em", "i")
        ).strip()
        if text and len(text) < 150 and styled == text and not (nxt.text or "").strip():
            out.add(nxt)
    return out


def _guard(
    doomed: list[tuple[HtmlElement, str]], paras: dict[HtmlElement, int], para_chars: int
) -> set[HtmlElement]:
    """Elements spared because their rule would take most of the page's paragraph text.

    Rules are grouped by what fired (tag, role, class token); captions ("") and the
    outlet's own selectors are exempt, and so are explicit boxes and embeds ("strong": a
    fact box may hold a transcript longer than the story). In a spared group only the members that hold
    body text stay: an empty share button beside the marked paragraphs still goes.
    """
    if para_chars < 200:
        return set()
    share: dict[str, int] = {}
    held: dict[HtmlElement, int] = {}
    for el, rule in doomed:
        if not rule or rule == "strong":
            continue
        n = sum(paras.get(p, 0) for p in el.iter("p"))
        held[el] = n
        share[rule] = share.get(rule, 0) + n
    bad = {r for r, n in share.items() if n > 0.5 * para_chars}
    if not bad:
        return set()
    return {el for el, rule in doomed if rule in bad and (held[el] > 0 or el.tag in _BODY_TAGS)}


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
