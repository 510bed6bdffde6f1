"""Article metadata from structured data: JSON-LD first, then meta tags.

Order of trust (most reliable first): the page's main JSON-LD article object, Open
Graph / ``article:`` tags, the parse.ly / sailthru / Dublin Core / ``author`` meta
tags, and only then the visible page (``h1``). trafilatura's own heuristics fill what
is still missing (see ``core``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from newsarchive.extract import i18n, jsonld, slug
from newsarchive.extract.lang import normalise_code

_WS = re.compile(r"\s+")
# "By" and its translations before a byline; "Von" not before "der/dem/den" (a surname
# particle), and lowercase Italian "di" only ("Di Maio" is a name).
_BY = re.compile(
    r"^\s*(?:(?i:(?:written\s+)?by|von(?!\s+(?:der|dem|den)\b)|par|por|door|av|af|от|"
    r"автор|від|przez)[:：\s]+|di\s+(?=[^\W\d_])|"
    r"(?i:autor(?:in|a|e)?|auteur|author|forfatter|författare|tekst|text|texte|testo|texto)"
    r"\s*[:：]\s*)"
)
# An e-mail address beside a name ("홍길동 기자 hong@example.kr"): dropped, the name kept.
_EMAIL = re.compile(r"\s*\S+@\S+\.\w+\s*")
_SPLIT = re.compile(
    r"\s*(?:,|;|\||&|、|\band\b|\bund\b|\bet\b|\by\b|\be\b|\bog\b|\boch\b|\ben\b|\bи\b)\s*",
    re.I,
)
_ROLE = re.compile(
    r"\s*(?:[-–—|,]\s*)?\b(?:senior|chief|staff|political|deputy)?\s*"
    rf"(?:{i18n.ROLE_WORDS})s?\b.*$",
    re.I,
)
# Wire agencies are the author of record when credited, beside people or alone.
_AGENCY = re.compile(
    r"^(?:the )?(?:associated press|ap|afp|agence france[- ]presse|reuters|pa|pa media|"
    r"press association|bloomberg(?: news)?|dpa|upi|ians|pti|ani|xinhua|efe|ansa|anp|aap|"
    r"canadian press|cp|kyodo(?: news)?|yonhap|tass|apa|sda|keystone-sda|belga|ntb|tt|"
    r"ritzau|epa|europa press|kna|epd|sid|ria novosti|interfax|jiji(?: press)?|nhk)$",
    re.I,
)
# A desk or the outlet itself: kept as written only when no person is credited.
DESK = _DESK = re.compile(rf"(?:\b|(?<=-))(?:{i18n.DESK_WORDS})(?:\b|$)", re.I)
# Placeholders and photo agencies: never a byline.
_JUNK = re.compile(
    r"^(?:admin|administrator|guest|editor|author|unknown|anonymous|getty(?: images)?|"
    r"shutterstock|alamy|istock)$",
    re.I,
)
_IN_PLACE = re.compile(r"\s+in\s+[A-Z][\w .'-]*$")
_NOT_NAME = re.compile(
    r"[()\[\]{}<>=\"]|\b(?:image|images|photo|photos|picture|pictures|"
    r"getty|shutterstock|alamy|istock|video|updated|published|foto|fotos|bild)\b",
    re.I,
)
_URLISH = re.compile(r"^(?:https?:|www\.)|/|@", re.I)
# The site named by its domain ("nieuwsblad.be", "ORF.at"): an organisational byline.
_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)*\.[a-z]{2,6}$", re.I)
# Initials as a signature ("amw", "jse"): not a name to credit.
_INITIALS = re.compile(r"^[a-zäöüéè]{2,4}$")


@dataclass
class Meta:
    title: str | None = None
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    image: str | None = None
    site_name: str | None = None
    og_type: str | None = None
    ld_types: set[str] = field(default_factory=set)
    main_types: set[str] = field(default_factory=set)
    article_body: str | None = None
    free: bool | None = None
    h1: str | None = None
    title_source: str | None = None
    date_source: str | None = None
    # organisational bylines ("BBC News"), used only when no person is credited anywhere
    org_authors: list[str] = field(default_factory=list)
    exclude: set[str] = field(default_factory=set)


def clean(s: Any) -> str | None:
    if not isinstance(s, str):
        return None
    s = _WS.sub(" ", s).strip()
    return s or None


def _meta_map(tree: HtmlElement) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in tree.iter("meta"):
        key = m.get("property") or m.get("name") or m.get("itemprop") or m.get("http-equiv")
        val = m.get("content")
        if key and val and val.strip():
            out.setdefault(key.strip().lower(), []).append(val.strip())
    return out


def iso_date(v: Any) -> str | None:
    """Normalise a structured-data date to ISO 8601; keep the offset when given."""
    s = clean(v if isinstance(v, str) else jsonld.text_value(v))
    if not s:
        return None
    if re.fullmatch(r"\d{10}(\d{3})?", s):  # epoch seconds or ms
        from datetime import UTC

        n = int(s[:10])
        return datetime.fromtimestamp(n, UTC).isoformat()
    t = s.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d \d", s) else s
    t = re.sub(r"Z$", "+00:00", t)
    t = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", t)
    try:
        return datetime.fromisoformat(t).isoformat()
    except ValueError:
        pass
    m = re.match(r"(\d{4}-\d\d-\d\d)", s)
    if m:
        return m.group(1)
    try:
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(s).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _credit(
    part: str, exclude: set[str], orgs: set[str], guessed: bool = False
) -> tuple[bool, str] | None:
    """(is a person or agency, name as kept) for one byline part, None for no credit.

    ``guessed``: the part comes from heuristics, not from structured data, so a name that
    starts with the outlet's ("MDR THÜRINGEN") is taken for one of its desks."""
    if i18n.SOURCE_PREFIX.match(part):
        return None  # "Quelle: dpa" names a source, not an author
    part = (clean(_BY.sub("", _EMAIL.sub(" ", part))) or "").strip(" .-–—:：")
    part = i18n.CJK_ROLE.sub("", part).strip()
    if not part or _URLISH.search(part) or _NOT_NAME.search(part) or _JUNK.match(part):
        return None
    if i18n.NOT_A_NAME.match(part) or any(ch.isdigit() for ch in part):
        return None
    if _DOMAIN.match(part):
        return False, part
    bare = (clean(_IN_PLACE.sub("", _ROLE.sub("", part))) or "").strip(" .-–—:,")
    if bare and _AGENCY.match(bare):
        return True, bare
    if not bare or _INITIALS.match(bare):
        return None  # a job title alone, or initials
    low = part.lower()
    known = {i18n.compact(x) for x in exclude | orgs}
    if (
        low in orgs
        or low in exclude
        or bare.lower() in exclude
        or i18n.compact(part) in known
        or (guessed and i18n.compact(part.split()[0]) in known)
        or _DESK.search(part)
    ):
        return False, part  # the outlet or one of its desks, as written
    if len(bare) < 2 or len(bare.split()) > 5 or (len(bare) < 3 and bare.isascii()):
        return None
    return True, bare


def credited(
    raw: list[str],
    exclude: set[str],
    orgs: set[str] | frozenset[str] = frozenset(),
    guessed: bool = False,
) -> tuple[list[str], list[str]]:
    """(people and agencies, organisational bylines) from author strings.

    Drops "By", job titles, places ("AP in Paris"), dates, e-mail, handles, photo credits.
    ``exclude`` holds the outlet's names (lowercase), ``orgs`` names the page itself types
    as organisations: both only count as an organisational byline.
    """
    people: list[str] = []
    desks: list[str] = []
    seen: set[str] = set()
    if raw and isinstance(raw[0], str) and i18n.SOURCE_PREFIX.match(raw[0]):
        return [], []  # one "Quelle: sid/dpa" line, split by whoever read it
    for item in raw:
        item = clean(item)
        if not item or len(item) > 200:
            continue
        for part in _SPLIT.split(_BY.sub("", item)):
            got = _credit(part or "", exclude, orgs, guessed)
            if got and got[1].lower() not in seen:
                seen.add(got[1].lower())
                (people if got[0] else desks).append(got[1])
    return people, desks


def split_names(raw: list[str], exclude: set[str]) -> list[str]:
    """The credited authors: people and agencies, else the organisational byline."""
    people, desks = credited(raw, exclude)
    return people or desks


_BYLINE_START = i18n.BYLINE_START
_BYLINE_END = re.compile(r"\s*(?:[·|•\n]|,\s*(?:in|on|updated|published)\b)")


def _following(el: HtmlElement, n: int):
    """The next ``n`` elements after ``el`` (not inside it) in document order, lazily."""
    for anc in (el, *el.iterancestors()):
        for sib in anc.itersiblings():
            for x in sib.iter():
                if not isinstance(x.tag, str):
                    continue
                yield x
                n -= 1
                if n <= 0:
                    return


def byline_near_headline(tree: HtmlElement, headline: str | None) -> list[str]:
    """The plain-text "By ..." line just after the visible headline, for pages that mark
    up their byline with no class, itemprop or rel to recognise it by."""
    if not headline:
        return []
    h1 = next((h for h in tree.iter("h1") if clean(h.text_content()) == headline), None)
    if h1 is None:
        return []
    for el in _following(h1, 40):
        if el.tag in ("script", "style", "noscript", "figcaption", "figure"):
            continue
        start = _BYLINE_START.match(el.text or "")
        if start and not start.group(1).islower():
            line = _BYLINE_END.split(el.text_content().strip(), maxsplit=1)[0]
            by = _BYLINE_START.match(line)
            line = line[by.start(1) :] if by else line  # "Di Marco Bianchi": the name
            return [line] if len(line) < 120 else []
        if el.tag == "p" and len(el.text_content()) > 250:
            break  # the body has started
    return []


def _first(*vals: Any) -> str | None:
    for v in vals:
        if isinstance(v, list):
            v = v[0] if v else None
        v = clean(v if isinstance(v, str) else jsonld.text_value(v))
        if v:
            return v
    return None


def _site_names(
    names: set[str], objs: list[dict], art: dict, app: list[str] | None, url: str | None
) -> set[str]:
    """Compacted names the site goes by: og:site_name, publisher, application-name, the
    page's Organization/WebSite names, and the host ("www.dw.com" -> "dw")."""
    raw = set(names) | set(app or [])
    pub = art.get("publisher")
    for p in pub if isinstance(pub, list) else [pub]:
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            raw.add(p["name"])
    for o in objs:
        if jsonld.types_of(o) & _SITE_TYPES and isinstance(o.get("name"), str):
            raw.add(o["name"])
    labels = (urlsplit(url or "").hostname or "").split(".")
    if len(labels) >= 2:  # the registrable name: "bbc" of www.bbc.co.uk, "cnn" of edition.cnn.com
        sld = len(labels) >= 3 and labels[-2] in _SECOND_LEVEL
        raw.add(labels[-3] if sld else labels[-2])
    out = set()
    for n in raw:
        n = html.unescape(n).strip()
        out.add(i18n.compact(n))
        if re.search(r"\.[a-z]{2,4}$", n, re.I):  # "DW.COM", "taz.de" -> "dw", "taz"
            out.add(i18n.compact(n.rsplit(".", 1)[0].removeprefix("www.")))
    out.discard("")
    return out


_SECOND_LEVEL = {"co", "com", "org", "net", "gov", "ac", "ne", "or", "go", "edu"}
_SITE_TYPES = {"organization", "newsmediaorganization", "website", "corporation"}


def _norm(s: str) -> str:
    return " ".join(re.findall(r"\w+", s.lower()))


_LIVE = re.compile(r"\bLIVE\b|\blive(?:\s+updates?|\s+blog)?\s*:|\blive updates\b", re.I)
_TRUNCATED = ("...", "…")


def _live(s: str) -> bool:
    m = _LIVE.search(s)
    return bool(m) and (m.group(0).isupper() or ":" in m.group(0) or "update" in m.group(0))


def _ws(s: str) -> str:
    return " ".join(s.split()).casefold()


def _votes(group: list[tuple[str, str]]) -> int:
    return len({s for s, _ in group} - {"title"})


def _fold_extensions(groups: dict[str, list[tuple[str, str]]]) -> None:
    """A variant that is another headline plus a separated tail ("Headline | Section",
    "Headline [Tag]") is a vote for that headline: its sources join the shorter group."""
    keys = sorted(groups, key=len)
    for i, long_key in enumerate(keys):
        if long_key not in groups:
            continue
        long_raw = _ws(groups[long_key][0][1])
        for short_key in reversed(keys[:i]):
            short = groups.get(short_key)
            if (
                not short
                or len(short_key) < 10
                or short[0][1].endswith(_TRUNCATED)
                or {s for s, _ in short} == {"title"}
            ):
                continue
            short_raw = _ws(short[0][1])
            # a kicker may belong to the headline: only fold it when no more sources back it
            if (
                long_raw.startswith(short_raw)
                and i18n.EXTENSION_START.match(long_raw[len(short_raw) :])
            ) or (
                long_raw.endswith(short_raw)
                and i18n.EXTENSION_END.search(long_raw[: -len(short_raw)])
                and _votes(groups[long_key]) <= _votes(short)
            ):
                short.extend((src, short[0][1]) for src, _ in groups.pop(long_key))
                break


def choose_title(
    cands: list[tuple[str, str | None]], prefer: str | None = None, url: str | None = None
) -> tuple[str | None, str | None]:
    """Pick the headline among its sources after normalising: (headline, its source).

    Sources: og, twitter, h1, jsonld, title (the ``<title>`` element, half a vote: it often
    carries an SEO variant) and meta (parsely, sailthru, Dublin Core: used only alone).
    ``prefer`` (the outlet's registry hint) names the source to trust when it is present.
    Otherwise: a live-blog label ("UK riots LIVE: ...") loses to a plain headline; a
    variant that is another plus a separated tail ("Headline - Section") votes for it; a
    headline two sources agree on beats a longer one that only extends it with SEO words;
    then the text most sources agree on wins. A group confirmed by the visible ``h1``
    beats a group of social tags only; a lone og:title beats a lone h1 (site logos and
    kicker h1s are common). Before the vote: a structured headline (JSON-LD or og:title)
    that the page's URL slug spells word for word is the story's own headline and wins,
    however many copies of a display variant (h1, ``<title>``, social tags) outvote it.
    """
    if prefer:
        hint = next((v for src, v in cands if src == prefer and v), None)
        if hint:
            return hint, prefer
    groups: dict[str, list[tuple[str, str]]] = {}
    for src, val in cands:
        if val and src != "meta":
            groups.setdefault(_norm(val), []).append((src, val))
    groups.pop("", None)
    if not groups:
        return next(((v, s) for s, v in cands if v and s == "meta"), (None, None))
    plain = {k for k, v in groups.items() if not _live(v[0][1])}
    if plain and len(plain) < len(groups):
        groups = {k: v for k, v in groups.items() if k in plain}
    _fold_extensions(groups)
    # The slug is filed with the story; a display headline rewritten later (an SEO or
    # syndication variant copied into h1, <title> and the social tags) outvotes the
    # structured headline by copies alone. A slug that spells a display variant proves
    # nothing against structured data, so it only ever rescues JSON-LD or og:title.
    filed = [
        k
        for k, v in groups.items()
        if any(s in ("jsonld", "og") and slug.spells(url, val) for s, val in v)
    ]
    if len(filed) == 1:
        by_src = dict(groups[filed[0]])
        src = next(s for s in ("h1", "og", "jsonld", "twitter", "title") if s in by_src)
        return by_src[src], src
    anchors = [
        k
        for k, v in groups.items()
        if len({s for s, _ in v} - {"title"}) >= 2 and not v[0][1].endswith(_TRUNCATED)
    ]
    groups = {k: v for k, v in groups.items() if not any(k.startswith(a + " ") for a in anchors)}

    def score(item: tuple[str, list[tuple[str, str]]]) -> float:
        srcs = {s for s, _ in item[1]}
        n = len(srcs - {"title"})
        return (
            n
            + 0.5 * ("title" in srcs and n >= 2)
            + 0.5 * ("h1" in srcs and n >= 2)
            + 0.25 * ("og" in srcs)
            + 0.1 * ("jsonld" in srcs)
        )

    _, best = max(groups.items(), key=score)
    by_src = dict(best)
    for src in ("h1", "og", "jsonld", "twitter", "title"):
        if src in by_src:
            return by_src[src], src
    return best[0][1], best[0][0]


def _tags(v: Any) -> list[str]:
    if isinstance(v, str):
        return [t.strip() for t in re.split(r"[,;]", v) if t.strip()]
    if isinstance(v, list):
        out: list[str] = []
        for x in v:
            out.extend(_tags(x) if isinstance(x, str) else [jsonld.text_value(x) or ""])
        return [t for t in out if t]
    return []


def _microdata(tree: HtmlElement) -> dict[str, str]:
    """schema.org microdata dates (``<time itemprop="datePublished" datetime=...>``)."""
    out: dict[str, str] = {}
    for el in tree.xpath('//*[@itemprop="datePublished" or @itemprop="dateModified"]'):
        val = el.get("datetime") or el.get("content")
        if val:
            out.setdefault(el.get("itemprop"), val)
    return out


def read_meta(
    tree: HtmlElement,
    url: str | None,
    outlet_name: str | None = None,
    title_source: str | None = None,
) -> Meta:
    mm = _meta_map(tree)
    g = mm.get
    objs = jsonld.ld_objects(
        [s.text or "" for s in tree.iter("script") if "ld+json" in (s.get("type") or "").lower()]
    )
    art = jsonld.main_article(objs, url) or {}
    m = Meta()
    for o in objs:
        m.ld_types |= jsonld.types_of(o)
    m.main_types = jsonld.types_of(art) if art else set()
    m.site_name = _first(
        g("og:site_name"),
        (art.get("publisher") or {}) if isinstance(art.get("publisher"), dict) else None,
    )
    names = {n.lower() for n in (m.site_name, outlet_name) if n}
    names |= {n.removeprefix("the ") for n in names}

    h1s = [clean(h.text_content()) for h in tree.iter("h1")]
    m.h1 = next((h for h in h1s if h and len(h.split()) >= 3), None)
    sites = _site_names(names, objs, art, g("application-name"), url)

    def strip(t: str | None) -> str | None:
        return i18n.strip_site(t, sites)

    m.title, m.title_source = choose_title(
        [
            ("og", strip(_first(g("og:title")))),
            ("twitter", strip(_first(g("twitter:title")))),
            ("h1", m.h1),
            ("jsonld", strip(clean(html.unescape(jsonld.text_value(art.get("headline")) or "")))),
            ("title", strip(clean(tree.findtext(".//title")))),
            ("meta", strip(_first(g("parsely-title"), g("sailthru.title"), g("dc.title")))),
        ],
        prefer=title_source,
        url=url,
    )
    m.subtitle = _first(
        art.get("description"), g("og:description"), g("description"), g("twitter:description")
    )
    exclude = set(names)
    pub = art.get("publisher")
    for p in pub if isinstance(pub, list) else [pub]:
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            exclude.add(p["name"].strip().lower())
    m.exclude = exclude
    ld_credits = jsonld.credits(art.get("author")) if art else []
    people, desks = credited(
        [n for n, _ in ld_credits], exclude, {n.strip().lower() for n, org in ld_credits if org}
    )
    # An explicit JSON-LD credit of a desk ("Guardian staff reporter") is the byline; an
    # Organization author is often just the publisher, so people named elsewhere win.
    # So is an Organization author named as a desk ("Redaktion hessenschau.de").
    explicit = credited([n for n, org in ld_credits if not org], exclude)[1] if desks else []
    explicit = explicit or [d for d in desks if _DESK.search(d)]
    m.authors = people or explicit
    m.org_authors = desks
    for key in (
        "author",
        "parsely-author",
        "sailthru.author",
        "dc.creator",
        "article:author",
        "byl",
        "cxenseparse:author",
    ):
        if m.authors:
            break
        people, desks = credited(g(key) or [], exclude)
        m.authors = people
        m.org_authors = m.org_authors or desks
    micro = _microdata(tree)
    for src, val in (
        ("jsonld", art.get("datePublished")),
        ("meta", micro.get("datePublished")),
        ("meta", g("article:published_time")),
        ("meta", g("parsely-pub-date")),
        ("meta", g("sailthru.date")),
        ("meta", g("dc.date.issued")),
        ("meta", g("dc.date")),
        ("meta", g("pubdate")),
        ("meta", g("publish-date")),
        ("meta", g("date")),
        ("jsonld", art.get("dateCreated")),
    ):
        m.published = iso_date(_first(val))
        if m.published:
            m.date_source = src
            break
    m.modified = iso_date(
        _first(
            art.get("dateModified"),
            micro.get("dateModified"),
            g("article:modified_time"),
            g("og:updated_time"),
        )
    )
    m.section = _first(art.get("articleSection"), g("article:section"), g("parsely-section"))
    m.tags = (
        _tags(art.get("keywords"))
        or _tags(g("article:tag") or [])
        or _tags(_first(g("parsely-tags"), g("sailthru.tags"), g("news_keywords"), g("keywords")))
    )
    m.language = next(
        filter(
            None,
            map(
                normalise_code,
                (
                    jsonld.text_value(art.get("inLanguage")),
                    tree.get("lang"),
                    tree.get("xml:lang"),
                    _first(g("content-language")),
                    _first(g("og:locale")),
                ),
            ),
        ),
        None,
    )
    canon = None
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            canon = link.get("href").strip()
            break
    m.canonical_url = canon or _first(g("og:url")) or url
    m.image = _first(art.get("image"), g("og:image"), g("twitter:image"))
    m.og_type = _first(g("og:type"))
    body = art.get("articleBody")
    m.article_body = body.strip() if isinstance(body, str) and body.strip() else None
    free = art.get("isAccessibleForFree")
    if isinstance(free, str):
        free = free.strip().lower() not in ("false", "0", "no")
    m.free = free if isinstance(free, bool) else None
    return m
