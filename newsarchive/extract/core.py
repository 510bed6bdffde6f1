"""``extract_article``: clean article text and metadata from one HTML page.

The page is parsed once with lxml. Structured metadata (JSON-LD, meta tags) is read from
that tree, captions/credits are collected, boilerplate is pruned by generic markup rules
(plus the outlet's registry ``prune`` selectors), and the pruned tree goes to trafilatura.
JSON-LD ``articleBody`` competes with trafilatura's text when it is clearly more complete.
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
from newsarchive.extract.lang import detect_language
from newsarchive.extract.meta import read_meta

log = logging.getLogger(__name__)
_TOK = re.compile(r"\w+")
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
    r"this article (?:is|was) (?:originally )?published|get in touch with our news team)",
    re.I,
)
_JUNK_LINE_EXACT = re.compile(r"^(?:advertisement|ad|share|copy link|close|loading\.*)$", re.I)
MAX_BYTES = 20 * 1024 * 1024


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
        if len(out) < 3 and _norm(s) in heads:
            continue  # the headline repeated at the top of the body
        if len(s) < 200 and _JUNK_LINE.match(s) and (":" in s[:25] or s.isupper() or len(s) < 40):
            continue
        out.append(s)
    return "\n".join(out)


def extract_article(
    html: bytes | str, url: str | None = None, *, outlet=None, encoding: str | None = None
) -> Article | None:
    """Extract the article of one page; None when the input is not an HTML page at all.

    ``outlet`` is a registry ``Outlet``, its key, or None (looked up from ``url``).
    Non-article pages (challenge, empty, video...) come back flagged, not as None.
    """
    if not html or not isinstance(html, bytes | str) or len(html) > MAX_BYTES:
        return None
    try:
        tree = load_html(_decode(html, encoding))
    except (ValueError, TypeError, etree.LxmlError) as exc:
        log.debug("unparseable page %s: %s", url, exc)
        return None
    if tree is None or not isinstance(tree, HtmlElement):
        return None
    out = _outlet(outlet, url)
    return _extract_tree(tree, url, out, html)


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
    captions, credits, paywall_marked = pruned.captions, pruned.credits, pruned.paywall_marked
    art.captions, art.credits = captions, credits
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
    text = _clean_lines(text, captions, credits, art.title, meta.h1)

    hidden = False
    if meta.article_body:
        text, hidden = _compete(
            text, meta.article_body, page_before, tree, captions, credits, art.title
        )
    art.text = text
    art.word_count = len(text.split())
    art.language = detect_language(text, art.language) if text else art.language

    kind = detect.page_type(
        meta, meta.main_types or (meta.ld_types if not meta.main_types else set())
    )
    if kind:
        art.page_type = kind
        art.is_article = kind == "liveblog" and art.word_count > 50
    truncated = bool(meta.article_body) and art.word_count < 0.5 * len(_toks(meta.article_body))
    if meta.free is False or (paywall_marked and art.word_count < 150) or truncated or hidden:
        art.paywalled = True
        # the full text recovered from articleBody is still an article (flagged paywalled)
        recovered = hidden and not truncated
        if art.word_count < 150 and not recovered:
            art.page_type, art.is_article = "paywall", False
    if art.word_count < 30 and art.page_type == "article":
        art.page_type, art.is_article = "empty", False
    return art


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
) -> tuple[str, bool]:
    """JSON-LD articleBody against trafilatura's text: (text to keep, body is hidden).

    The body replaces the text when it is clearly more complete and is not a dump of what
    pruning removed (boxes, video players, teasers). "Hidden" means most of the body is
    not visible on the page: the page is a truncated (paywalled) version of the story.
    """
    body = _body_paragraphs(html_lib.unescape(raw_body))
    nb, nt = len(_toks(body)), len(_toks(text))
    on_pruned = _coverage(body, _visible_text(tree))
    hidden = on_pruned < 0.6
    if nt and _coverage(text, body) > 0.95 and _coverage(body, text) > 0.95:
        # the same text (trafilatura may itself fall back on articleBody): keep the
        # version with paragraph breaks
        if body.count("\n") > text.count("\n"):
            return _clean_lines(body, captions, credits, title), hidden
        return text, hidden
    if nb <= 1.3 * nt + 20 or (nt and _coverage(text, body) < 0.85):
        return text, hidden
    on_page = _coverage(body, page_before)
    if on_pruned < 0.9 and on_page > on_pruned + 0.05:
        return text, hidden  # the extra text was on the page, in blocks removed on purpose
    return _clean_lines(body, captions, credits, title), hidden
