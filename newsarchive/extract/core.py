"""``extract_article``: clean article text and metadata from one HTML page.

The page is parsed once with lxml. Structured metadata (JSON-LD, meta tags) is read from
that tree, captions/credits are collected, boilerplate is pruned by generic markup rules
(plus the outlet's registry ``prune`` selectors), and the pruned tree goes to trafilatura.
JSON-LD ``articleBody`` competes with trafilatura's text when it is clearly more complete.
Two rare paths guard the body: plain trafilatura on the page as served when our rules cut
much of the paragraph text and little came out, and the story's HTML from the page's
script state when the page shows almost nothing. ``Article.text_source`` says which won.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from collections import Counter

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from newsarchive.extract import detect
from newsarchive.extract.article import Article
from newsarchive.extract.clean import collect_and_prune
from newsarchive.extract.fill import fill_missing
from newsarchive.extract.hydrate import hydrated_text
from newsarchive.extract.lang import detect_language
from newsarchive.extract.meta import read_meta

log = logging.getLogger(__name__)
_TOK = re.compile(r"\w+")
# Scripts written without spaces between words: about two characters a word.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Text ending like this was cut short on purpose (a teaser before the wall).
_TRUNCATED = re.compile(r"(?:\.\.\.|\u2026|\[\.\.\.\])\W{0,3}$")
# Our text below this share of the page's paragraph text: try plain trafilatura.
FALLBACK_SHARE = 0.5
# ... and only when our rules removed at least this share of it: otherwise trafilatura
# chose the same on the page as served, and a second run would cost without helping.
CUT_SHARE = 0.2
# Fewer words than this: look for the story in the page's script state (hydration data).
HYDRATION_WORDS = 50
# Short lines that are links to other stories or promos, whatever the markup.
_JUNK_LINE = re.compile(
    r"^(?:read more|more|related|read also|also read|see also|watch|listen|recommended|"
    r"most read|trending|click here|sign up|subscribe|follow us|get the latest|"
    r"join us|download the|advertisement|story continues|continue reading|share this|"
    r"related articles?|more on this|more from|read next|up next|don't miss|must read|"
    r"latest|top stories|promoted)\b[^\n]{0,160}$",
    re.I,
)
# Contact and follow-us promos that outlets append to every story.
_PROMO_LINE = re.compile(
    r"^(?:got a story|do you have a story|have you got a story|for more stories like this|"
    r"follow (?:us|[\w.]+) on (?:twitter|x|facebook|instagram)|sign up (?:for|to) (?:our|the)|"
    r"this is a breaking news? story|this story is developing|this is a developing story|"
    r"this article (?:is|was) (?:originally )?published|get in touch with our news team|"
    r"with files from|with reporting by|with reports from|additional reporting by)",
    re.I,
)
# A byline left in the body: a byline word, then only capitalised names.
_BYLINE_LINE = re.compile(
    r"^(?:by|von|par|por|di|av|af|door|van)\s+(?:[A-ZÀ-ÖØ-Þ][\w'’.-]*(?:\s+|$)){1,4}$", re.I
)
# "Role: Name" lines of a photo shoot's credits ("Fotos: A", "Styling: B", "Hair: C").
_LABEL_LINE = re.compile(r"^(\w[\w .&/'-]{0,40}?)\s*:\s*\S")
_PHOTO_ROLE = re.compile(r"\b(?:fotos?|photos?|photograph\w*|fotograf\w*|bilder?|images?)\b", re.I)
_SHOOT_ROLE = re.compile(
    r"\b(?:styling|stylist\w*|hair|haare?|make-?up|maquillage|maquillaje|coiffure|trucco|"
    r"capelli|grooming|casting|set ?design|production|produktion|producción|"
    r"art direction|creative direction)\b",
    re.I,
)
_JUNK_LINE_EXACT = re.compile(r"^(?:advertisement|ad|share|copy link|close|loading\.*)$", re.I)
MAX_BYTES = 20 * 1024 * 1024
# Markup budget: parsing and trafilatura's copies cost ~1.5 kB of memory per tag, so a page of
# 200k paragraphs peaks past 500 MB. The largest real page in both corpora has ~8k tags.
MAX_TAGS = 100_000
_SCRIPT_OR_STYLE = re.compile(
    r"<(script|style)\b(?![^>]*application/ld\+json)[^>]*>.*?</\1\s*>", re.I | re.S
)


def _outlet(outlet, url: str | None):
    from newsarchive import registry

    if outlet is None:
        if not url:
            return None
        try:
            return registry.outlet_for_url(url)
        except (OSError, registry.RegistryError) as exc:
            log.warning("registry unavailable for outlet lookup: %s", exc)
            return None
    if isinstance(outlet, str):
        try:
            return registry.load_outlets().get(outlet)
        except (OSError, registry.RegistryError) as exc:
            log.warning("registry unavailable for outlet %r: %s", outlet, exc)
            return None
    return outlet


def _decode(html: bytes | str, encoding: str | None) -> bytes | str:
    if isinstance(html, bytes) and encoding:
        try:
            return html.decode(encoding, "replace")
        except LookupError:
            return html
    return html


def _toks(s: str) -> list[str]:
    return _TOK.findall(s.lower())


def _words(s: str) -> int:
    """Word count that also holds for Chinese and Japanese (no spaces between words)."""
    cjk = len(_CJK.findall(s))
    return len(s.split()) + cjk // 2 if cjk else len(s.split())


def _undouble(body: str) -> str:
    """articleBody that repeats the whole story twice (a CMS template bug): one copy."""
    flat = body.replace("\n", " ")
    probe = flat[:80]
    if len(flat) < 400 or len(probe) < 80:
        return body
    pos = flat.find(probe, len(flat) // 3)
    if pos < 0:
        return body
    first, rest = flat[:pos], flat[pos:]
    if _coverage(rest, first) > 0.9 and _coverage(first, rest) > 0.9:
        return body[:pos].rstrip()
    return body


def _coverage(part: str, whole: str) -> float:
    """Share of ``part``'s tokens that also occur in ``whole`` (bag of words)."""
    p, w = Counter(_toks(part)), Counter(_toks(whole))
    n = sum(p.values())
    return sum((p & w).values()) / n if n else 0.0


def _body_paragraphs(body: str) -> str:
    lines = [" ".join(x.split()) for x in re.split(r"\n+", body)]
    return "\n".join(x for x in lines if x)


def _norm(s: str | None) -> str:
    return " ".join(_toks(s or ""))


def _clean_lines(
    text: str,
    captions: list[str],
    credits: list[str],
    title: str | None = None,
    h1: str | None = None,
) -> str:
    drop = {" ".join(c.split()).lower() for c in captions + credits}
    heads = {_norm(title), _norm(h1)} - {""}
    out = []
    for line in text.split("\n"):
        s = line.strip()
        if not s:
            continue
        low = s.lower()
        if low in drop or _JUNK_LINE_EXACT.match(s) or (len(s) < 400 and _PROMO_LINE.match(s)):
            continue
        if len(out) < 3 and (_norm(s) in heads or _headline_with_suffix(s, heads)):
            continue  # the headline repeated at the top of the body
        if len(out) < 5 and len(s) < 60 and (_BYLINE_LINE.match(s) or _dateline(s)):
            continue  # byline or "updated" stamp above the story
        if len(s) < 200 and _JUNK_LINE.match(s) and (":" in s[:25] or s.isupper() or len(s) < 40):
            continue
        out.append(s)
    return "\n".join(_drop_lists(_drop_shoot_credits(out)))


def _drop_shoot_credits(lines: list[str]) -> list[str]:
    """A photo shoot's credit block ("Fotos: A / Styling: B / Hair: C ...") is image credit.

    A run of at least three short "Role: Name" lines, one crediting the photos and one a
    styling or production role, goes, with a short heading ending in ":" right above it.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and len(lines[j]) < 150 and _label(lines[j]) is not None:
            j += 1
        labels = [_label(x) or "" for x in lines[i:j]]
        if (
            j - i >= 3
            and any(_PHOTO_ROLE.search(x) for x in labels)
            and any(_SHOOT_ROLE.search(x) for x in labels)
        ):
            if out and len(out[-1]) < 60 and out[-1].endswith(":"):
                out.pop()
            i = j
            continue
        out.extend(lines[i : max(j, i + 1)])
        i = max(j, i + 1)
    return out


def _label(line: str) -> str | None:
    m = _LABEL_LINE.match(line)
    return m.group(1) if m and len(m.group(1).split()) <= 5 else None


def _headline_with_suffix(s: str, heads: set[str]) -> bool:
    """The headline plus a site or programme name ("Headline | wdr aktuell")."""
    m = re.match(r"^(.{10,}?)\s+[|\u2013\u2014-]\s+[^|]{1,40}$", s)
    return bool(m) and _norm(m.group(1)) in heads


def _dateline(s: str) -> bool:
    """A short line that is mostly a date and time ("Stand: 22.04.2024, 06:00 Uhr")."""
    chars = "".join(_TOK.findall(s))
    return len(chars) > 6 and sum(c.isdigit() for c in chars) >= 0.4 * len(chars)


def _drop_lists(lines: list[str]) -> list[str]:
    """Bullet lists inside the story (fact lists, product specs, link lists) are not body.

    trafilatura writes list items as "- " lines. A list of sentences that opens the body,
    right under the headline, is the story's summary (key points) and stays; a page that
    is mostly lists (a listicle) keeps them all, since no rule may take most of the body.
    """
    items = [x for x in lines if x.startswith("- ")]
    if not items or sum(map(len, items)) > 0.5 * sum(map(len, lines)):
        return lines
    lead = 0
    while lead < len(lines) and lines[lead].startswith("- "):
        lead += 1
    if lead and sum(map(len, lines[:lead])) < 50 * lead:
        lead = 0  # short items under the headline: breadcrumbs, tags, not a summary
    return lines[:lead] + [x for x in lines[lead:] if not x.startswith("- ")]


def extract_article(
    html: bytes | str, url: str | None = None, *, outlet=None, encoding: str | None = None
) -> Article | None:
    """Extract the article of one page; None when the input is not an HTML page at all.

    ``outlet`` is a registry ``Outlet``, its key, or None (looked up from ``url``).
    Non-article pages (challenge, empty, video...) come back flagged, not as None.
    """
    if not html or not isinstance(html, bytes | str) or len(html) > MAX_BYTES:
        return None
    html = _within_budget(_decode(html, encoding), url)
    try:
        tree = load_html(html)
    except (ValueError, TypeError, etree.LxmlError) as exc:
        log.debug("unparseable page %s: %s", url, exc)
        return None
    if tree is None or not isinstance(tree, HtmlElement):
        return None
    out = _outlet(outlet, url)
    return _extract_tree(tree, url, out, html)


def _within_budget(html: bytes | str, url: str | None) -> bytes | str:
    """The page cut to ``MAX_TAGS`` tags (scripts and styles dropped first, JSON-LD kept), so
    memory stays bounded on endless pages; real pages are far below it and pass unchanged."""
    lt = b"<" if isinstance(html, bytes) else "<"
    if html.count(lt) <= MAX_TAGS:
        return html
    if isinstance(html, bytes):
        text = html.decode("utf-8", "surrogateescape")
        cut = _cut(_SCRIPT_OR_STYLE.sub("", text))
        out: bytes | str = cut.encode("utf-8", "surrogateescape")
    else:
        out = _cut(_SCRIPT_OR_STYLE.sub("", html))
    log.warning("page %s has over %d tags: extracted from its first %d", url, MAX_TAGS, MAX_TAGS)
    return out


def _cut(text: str) -> str:
    pos = -1
    for _ in range(MAX_TAGS):
        pos = text.find("<", pos + 1)
        if pos < 0:
            return text
    return text[:pos]


def _extract_tree(tree: HtmlElement, url: str | None, outlet, raw: bytes | str) -> Article:
    meta = read_meta(
        tree,
        url,
        outlet.name if outlet else None,
        getattr(outlet, "title_source", None) if outlet else None,
    )
    art = Article(
        title=meta.title,
        subtitle=meta.subtitle,
        authors=meta.authors,
        published=meta.published,
        modified=meta.modified,
        section=meta.section,
        tags=meta.tags,
        language=meta.language,
        canonical_url=meta.canonical_url,
        image=meta.image,
        title_source=meta.title_source,
        date_source=meta.date_source,
    )
    head = raw[:60000] if isinstance(raw, str) else raw[:60000].decode("latin-1")
    if detect.is_challenge(tree, head):
        art.is_article, art.page_type, art.challenge = False, "challenge", True
        return art
    fill_missing(tree, url, meta, art)  # before pruning: bylines and date lines go there

    page_before = _visible_text(tree) if meta.article_body else ""
    pruned = collect_and_prune(tree, tuple(outlet.prune) if outlet else ())
    captions, credits = pruned.captions, pruned.credits
    art.captions, art.credits = captions, credits
    # lines to keep out of any text source: captions, and the editor's notes pruned from
    # the page (articleBody repeats them as plain lines)
    captions = captions + pruned.notes
    text = _trafilatura_text(tree, url, captions, credits, art.title, meta.h1)
    source = "trafilatura"
    if (
        len(text) < FALLBACK_SHARE * pruned.para_chars
        and pruned.cut_chars > CUT_SHARE * pruned.para_chars
    ):
        # the pruned page gave much less than its paragraphs hold: plain trafilatura on
        # the page as served (parsed again: the tree was pruned in place)
        plain = _plain_text(raw, url, captions, credits, art.title, meta.h1)
        if plain and len(_toks(plain)) > 1.3 * len(_toks(text)) + 10:
            text, source = plain, "fallback"

    hidden = False
    if meta.article_body:
        text, hidden, from_body = _compete(
            text, meta.article_body, page_before, tree, captions, credits, art.title
        )
        if from_body:
            source = "articleBody"
    if text and meta.subtitle and source != "articleBody":
        text = _with_standfirst(text, meta.subtitle, tree)
    if _words(text) < HYDRATION_WORDS:
        # an app page that renders the story from JSON in a script: nothing to see in
        # the HTML, the story's HTML is a string in the page's state
        state = hydrated_text(raw, tuple(outlet.prune) if outlet else ())
        if state and _words(state) > 2 * _words(text) + 20:
            text, source = _clean_lines(state, captions, credits, art.title, meta.h1), "hydration"
    art.text = text
    art.text_source = source if text else ""
    art.word_count = _words(text)
    art.language = detect_language(text, art.language) if text else art.language

    kind = detect.page_type(
        meta, meta.main_types or (meta.ld_types if not meta.main_types else set())
    )
    if kind:
        art.page_type = kind
        art.is_article = kind == "liveblog" and art.word_count > 50
    body = _undouble(meta.article_body) if meta.article_body else ""
    # a teaser: articleBody far longer than our text, and mostly not on the page at all
    # (a long box the page shows, such as a transcript, does not make a teaser)
    truncated = (
        bool(body) and art.word_count < 0.5 * _words(body) and _coverage(body, page_before) < 0.6
    )
    if meta.free is False or pruned.paywall_marked or truncated or hidden:
        art.paywalled = True
        # Only a teaser is a paywall page: text cut short (a truncation mark, articleBody
        # far longer than the page), or a short text under a wall (an offer box or a
        # login modal, or declared not free). Paywall classes on body text that was kept
        # are a flag, not a teaser.
        recovered = hidden and not truncated
        walled = pruned.paywall_prompt or meta.free is False
        short = art.word_count < 150 and (walled or bool(_TRUNCATED.search(text)))
        if (truncated or short) and not recovered:
            art.page_type, art.is_article = "paywall", False
    if art.word_count < 30 and art.page_type == "article":
        art.page_type, art.is_article = "empty", False
    return art


def _with_standfirst(text: str, subtitle: str, tree: HtmlElement) -> str:
    """The standfirst above the story, when trafilatura left it out.

    The page's description counts as the standfirst only when an element of the pruned
    page holds exactly that text and comes before the story's first line: a summary shown
    under the headline, not a teaser repeated in a box or a hidden field.
    """
    want = _norm(subtitle)
    if not want or want in _norm(text):
        return text
    first = _norm(text.split("\n", 1)[0])[:40]
    head = want.split(" ", 1)[0]
    body = tree.find("body")
    for el in (body if body is not None else tree).iter():
        if not isinstance(el.tag, str):
            continue
        own = _norm(el.text)
        if own and first and (first.startswith(own[:40]) or own.startswith(first)):
            return text  # reached the story's first line before any standfirst
        if own.startswith(head) and _norm(el.text_content()) == want:
            return f"{' '.join(subtitle.split())}\n{text}"
    return text


def _trafilatura_text(
    tree: HtmlElement,
    url: str | None,
    captions: list[str],
    credits: list[str],
    title: str | None,
    h1: str | None,
) -> str:
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=False,
        include_comments=False,
        include_tables=True,
        include_images=False,
        deduplicate=False,
    )
    text = (doc.text if doc is not None else "") or ""
    return _clean_lines(text, captions, credits, title, h1)


def _plain_text(
    raw: bytes | str,
    url: str | None,
    captions: list[str],
    credits: list[str],
    title: str | None,
    h1: str | None,
) -> str:
    try:
        tree = load_html(raw)
    except (ValueError, TypeError, etree.LxmlError):
        return ""
    if tree is None:
        return ""
    for el in list(tree.iter("script", "style", "template")):
        if el.getparent() is not None:
            el.getparent().remove(el)
    return _trafilatura_text(tree, url, captions, credits, title, h1)


def _visible_text(tree: HtmlElement) -> str:
    body = tree.find("body")
    if body is None:
        return ""
    return body.text_content()


def _compete(
    text: str,
    raw_body: str,
    page_before: str,
    tree: HtmlElement,
    captions: list[str],
    credits: list[str],
    title: str | None,
) -> tuple[str, bool, bool]:
    """JSON-LD articleBody against trafilatura's text: (text, body is hidden, text is body).

    The body replaces the text when it is clearly more complete and is not a dump of what
    pruning removed (boxes, video players, teasers). "Hidden" means most of the body is
    not visible on the page: the page is a truncated (paywalled) version of the story.
    """
    body = _undouble(_body_paragraphs(html_lib.unescape(raw_body)))
    nb, nt = len(_toks(body)), len(_toks(text))
    on_pruned = _coverage(body, _visible_text(tree))
    hidden = on_pruned < 0.6
    if nt and _coverage(text, body) > 0.95 and _coverage(body, text) > 0.95:
        # the same text (trafilatura may itself fall back on articleBody): keep the
        # version with paragraph breaks
        if body.count("\n") > text.count("\n"):
            return _clean_lines(body, captions, credits, title), hidden, True
        return text, hidden, False
    if nb <= 1.3 * nt + 20 or (nt and _coverage(text, body) < 0.85):
        return text, hidden, False
    on_page = _coverage(body, page_before)
    if on_pruned < 0.9 and on_page > on_pruned + 0.05:
        return text, hidden, False  # the extra text was on the page, in blocks removed on purpose
    return _clean_lines(body, captions, credits, title), hidden, True
