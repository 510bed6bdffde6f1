"""Metadata the structured data did not give, from the visible page, the URL and trafilatura.

Runs on the parsed tree before boilerplate is pruned (bylines and date lines are pruned
later). Each value says where it came from (``Article.title_source``/``date_source``):
``url`` for a date in the URL, ``heuristic`` for one read off the page (a labelled
"Datum 28.04.2023" or trafilatura's htmldate), ``trafilatura`` for its title.
"""

from __future__ import annotations

import re
from datetime import date

from lxml import etree
from lxml.html import HtmlElement
from trafilatura.metadata import extract_author, extract_metadata

from newsarchive.extract import i18n
from newsarchive.extract.article import Article
from newsarchive.extract.lang import normalise_code
from newsarchive.extract.meta import (
    DESK,
    Meta,
    byline_near_headline,
    credited,
    iso_date,
    split_names,
)

_URL_DATES = (
    re.compile(r"/((?:19|20)\d\d)[/-](\d\d)[/-](\d\d)(?:/|[-_]|$)"),  # /2024/04/28/, /2024-04-28
    re.compile(r"/((?:19|20)\d\d)/(\d\d)(\d\d)/"),  # /2024/0424/
    re.compile(r"(?<!\d)((?:19|20)\d\d)(\d\d)(\d\d)(?!\d)"),  # dmf20250202_...
)
_LABEL_TAGS = {"strong", "b", "dt", "th", "span", "label", "em", "div", "li", "p", "td"}
_HAN = re.compile(r"[\u4e00-\u9fff]")
_CJK_MARKS = ("责编", "責編", "作者：", "记者：", "编辑：")


def url_date(url: str | None) -> str | None:
    """The publication day written in an article URL, if any."""
    if not url:
        return None
    path = url.split("?", 1)[0].split("#", 1)[0]
    path = path.split("://", 1)[-1].partition("/")[2]
    for rx in _URL_DATES:
        m = rx.search("/" + path)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
            except ValueError:
                continue
    return None


def _label_value(el: HtmlElement) -> str:
    """The text that follows a label element: its tail, else its next sibling's text."""
    tail = (el.tail or "").strip(" :：\n\t")
    if tail:
        return tail
    nxt = el.getnext()
    return nxt.text_content().strip() if nxt is not None else ""


def labelled_fields(tree: HtmlElement) -> tuple[str | None, date | None]:
    """(author, date) given as label and value: ``<strong>Autor</strong> Anna Berg``,
    ``<dt>Datum</dt><dd>28.04.2023</dd>``. The first of each wins."""
    author: str | None = None
    day: date | None = None
    for el in tree.iter(*_LABEL_TAGS):
        text = el.text
        if not text or len(text) > 40 or len(el):
            continue
        text = text.strip()
        if author is None and i18n.AUTHOR_LABEL.match(text):
            value = _label_value(el)
            if 2 < len(value) < 80:
                author = value
        elif day is None and i18n.DATE_LABEL.match(text):
            day = i18n.parse_date(_label_value(el)[:60])
        if author and day:
            break
    return author, day


def cjk_credits(tree: HtmlElement) -> list[str]:
    """Names after a Chinese/Japanese credit marker: ``(责编：牛镛、岳弘彬)``."""
    cond = " or ".join(f"contains(text(), '{m}')" for m in _CJK_MARKS)
    for el in tree.xpath(f"//body//*[{cond}]"):
        m = i18n.CJK_CREDIT.search(el.text_content())
        if m:
            names = [n for n in i18n.CJK_NAME_SPLIT.split(m.group(1).strip()) if n]
            if 0 < len(names) <= 6:
                return names
    return []


def desk_line(tree: HtmlElement) -> list[str]:
    """A paragraph that is only a desk credit, as some pages sign a story: "IN-Redaktion"."""
    for el in tree.iter("p"):
        if len(el) > 1:
            continue
        text = " ".join(el.text_content().split())
        if 3 < len(text) <= 30 and len(text.split()) <= 3 and DESK.search(text):
            return [text]
    return []


def _han_page(art: Article) -> bool:
    return art.language in ("zh", "ja") or bool(_HAN.search(art.title or ""))


def fill_missing(tree: HtmlElement, url: str | None, meta: Meta, art: Article) -> None:
    """Authors, date, title, section and language the structured data did not give."""
    label_author: str | None = None
    label_day: date | None = None
    if not art.authors or not art.published:
        label_author, label_day = labelled_fields(tree)
    if not art.authors:
        # trafilatura's byline heuristics, a label ("Autor: ..."), a plain "By ..." line
        # under the headline, a CJK credit; an organisational byline comes last
        byline = extract_author(tree)
        people, desks = credited(byline.split(";") if byline else [], meta.exclude, guessed=True)
        for more in (
            lambda: [label_author] if label_author else [],
            lambda: byline_near_headline(tree, meta.h1),
            lambda: cjk_credits(tree) if _han_page(art) else [],
        ):
            if people:
                break
            p, d = credited(more(), meta.exclude, guessed=True)
            people, desks = p, desks or d
        if meta.org_authors and people and all(" " not in p and p.isascii() for p in people):
            people = []  # a lone word ("Amw") found by heuristics is initials, not a name
        if not people and not desks:
            desks = desk_line(tree)
        art.authors = people or meta.org_authors or desks
    if not art.published:
        if label_day:
            art.published, art.date_source = label_day.isoformat(), "heuristic"
        elif day := url_date(url):
            art.published, art.date_source = day, "url"
    if art.title and art.published:
        return
    try:
        doc = extract_metadata(tree, url)
    except (ValueError, TypeError, etree.LxmlError, AssertionError):
        # AssertionError: htmldate drops an unwanted element that is the root itself
        # (lxml's drop_tree asserts a parent), e.g. a page that starts with <svg>.
        return
    if not art.title and doc.title:
        art.title, art.title_source = doc.title, "trafilatura"
    if not art.published and (day := iso_date(doc.date)):
        art.published, art.date_source = day, "heuristic"
    if not art.authors and doc.author:
        art.authors = split_names(doc.author.split(";"), set())
    art.section = art.section or (doc.categories[0] if doc.categories else None)
    art.language = art.language or normalise_code(doc.language)
