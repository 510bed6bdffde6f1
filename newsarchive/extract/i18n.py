"""Words and formats of news pages beyond English: bylines, dates, site-name suffixes.

Generic rules only (no outlet names): what a byline starts with ("Von", "Par", "Por"...),
what marks a reporter in Japanese, Korean and Chinese (記者, 기자, 责编...), the words for a
desk ("Redaktion", "rédaction"...), labelled fields ("Autor", "Datum"), month names, and the
separators that put a site name after a headline ("Headline：朝日新聞デジタル").
"""

from __future__ import annotations

import re
from datetime import date

# A byline line under a headline: "Von Anna Berg", "Par Jean Dupont", "Por Ana Ruiz"; the
# name's first letter (group 1) must not be lowercase ("By then, ..." is a sentence).
BYLINE_START = re.compile(
    r"^\s*(?:By|BY|Von(?!\s+d[ae][mnr]\b)|VON|Par|PAR|Por|POR|Di|Av|AV|Af|AF|Door|DOOR|От|"
    r"Автор:?|Від|Przez)\s+([^\W\d_])",
)
# Job titles beside a name, in the corpus languages.
ROLE_WORDS = (
    r"reporter|correspondent|editor|writer|journalist|columnist|contributor|"
    r"redakteur(?:in)?|korrespondent(?:in)?|reporterin|journalistin|autorin|"
    r"journaliste|correspondante?|rédacteur|rédactrice|envoyée? spéciale?|"
    r"periodista|corresponsal|redactora?|giornalista|corrispondente|inviato|"
    r"journalist(?:en)?|korrespondent(?:en)?|reporter(?:en)?|redaktør|"
    r"verslaggever|correspondent|redacteur|корреспондент|журналист"
)
# Desks and editorial teams: an organisational byline, never a person.
DESK_WORDS = (
    r"staff|desk|newsroom|team|agencies|wires?|bureau|redaktion|redaktionen|"
    r"agenturen|nachrichtenagenturen|rédaction|redacción|redazione|redactie|"
    r"redaksjon(?:en)?|redaktionen|nyhedsbureau|agences|agencias|agenzie|редакция"
)
# Abbreviations and placeholders that are never a byline: "red" (Redaktion), "dpa/red".
NOT_A_NAME = re.compile(r"^(?:red|rd|ots|apa|kna|epd|ddp|afp/red|dpa/red|sid/red)\.?$", re.I)
# A source line ("Quelle: dpa"), not an author credit.
SOURCE_PREFIX = re.compile(
    r"^\s*(?:quellen?|sources?|fuente|fonte|kilde|källa|kilder|bron|источник)\b\s*[:：]?", re.I
)
# East Asian reporter markers: 山田太郎記者, 홍길동 기자, (责编：张三、李四).
CJK_ROLE = re.compile(
    r"\s*(?:(?:선임|수석|전문|객원)?기자|특파원|논설위원|편집위원|(?:編集)?委員|記者|特派員|"
    r"通信員|编辑|記者|记者|特约记者|实习生|通讯员)\s*$"
)
CJK_CREDIT = re.compile(
    r"[(（]?\s*(?:责编|責編|作者|记者|編集|编辑)\s*[:：]\s*([^)）\n]{1,60})[)）]?"
)
CJK_NAME_SPLIT = re.compile(r"\s*[、，,/／]\s*|\s+")

# A label whose value follows it in the next text node: <strong>Autor</strong> Anna Berg.
AUTHOR_LABEL = re.compile(
    r"^(?:autor(?:in)?(?:/autor(?:in)?)?|autoren|author|authors|auteur|auteurs|autore|autori|"
    r"forfatter|författare|tekst|text|texte|door|by)\s*[:：]?$",
    re.I,
)
# Publication only: "Stand", "mis à jour", "updated" label the last change, not the date.
DATE_LABEL = re.compile(
    r"^(?:datum|date|fecha|data|dato|päivämäärä|publié le|publicado|pubblicato|"
    r"veröffentlicht(?: am)?|erschienen(?: am)?|published|publiceret|publisert|"
    r"publicerad)\s*[:：]?$",
    re.I,
)

_MONTHS = {
    1: "jan januar january janvier janv enero ene gennaio genn januari janeiro jänner jän "
    "januarie sausio января январь january ianuarie tammikuu",
    2: "feb februar february février févr febrero febbraio februari fevereiro vasario "
    "февраля февраль",
    3: "mar mär märz march mars marzo marts maart março mart kovo марта март",
    4: "apr april avril abril aprile aprilis balandžio апреля апрель",
    5: "may mai mayo maggio mei maj maio gegužės мая май",
    6: "jun juni june juin junio giugno juni junho birželio июня июнь",
    7: "jul juli july juillet julio luglio julho liepos июля июль",
    8: "aug august août agosto augustus augusti rugpjūčio августа август",
    9: "sep sept september septembre septiembre setembro settembre setiembre rugsėjo "
    "сентября сентябрь",
    10: "oct okt october oktober octobre octubre ottobre outubro spalio октября октябрь",
    11: "nov november novembre noviembre novembro lapkričio ноября ноябрь",
    12: "dec dez dezember december décembre diciembre dicembre desember dezembro gruodžio "
    "декабря декабрь",
}
MONTH = {w: n for n, words in _MONTHS.items() for w in words.split()}
_MONTH_RE = "|".join(sorted((re.escape(w) for w in MONTH), key=len, reverse=True))
_DATE_PATTERNS = [
    # 28.04.2023, 28/04/2023, 28-04-2023 (day first, as everywhere but the US)
    (re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{4})\b"), ("d", "m", "y")),
    # 2023-04-28, 2023/04/28, 2023.04.28
    (re.compile(r"\b(\d{4})[./-](\d{1,2})[./-](\d{1,2})\b"), ("y", "m", "d")),
    # 2023年4月28日, 2023년 4월 28일
    (re.compile(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?"), ("y", "m", "d")),
    # 28. April 2023, 28 avril 2023, 28 de abril de 2023, 28 апреля 2023
    (
        re.compile(
            rf"\b(\d{{1,2}})\.?\s+(?:de\s+)?({_MONTH_RE})\.?,?\s+(?:de\s+)?(\d{{4}})\b", re.I
        ),
        ("d", "M", "y"),
    ),
    # April 28, 2023
    (re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.I), ("M", "d", "y")),
]


def parse_date(text: str) -> date | None:
    """The first calendar date written in ``text`` in one of the common local formats."""
    best: tuple[int, date] | None = None
    for rx, order in _DATE_PATTERNS:
        m = rx.search(text)
        if not m:
            continue
        parts = dict(zip(order, m.groups(), strict=True))
        month = MONTH.get(parts["M"].lower()) if "M" in parts else int(parts["m"])
        try:
            d = date(int(parts["y"]), month or 0, int(parts["d"]))
        except ValueError:
            continue
        if 1990 <= d.year <= 2100 and (best is None or m.start() < best[0]):
            best = (m.start(), d)
    return best[1] if best else None


_CJK = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"
# Separators between a headline and the site name after it. An unspaced hyphen separates
# only between CJK or Hangul characters ("...커졌다-정치ㅣ한국일보"), never in "S-Bahn".
_SEP = re.compile(
    rf"\s+[|｜ㅣ\-–—:·•»›/~]+\s+|\s*[|｜ㅣ：]\s*|\s+[-–—]\s*|\s*[-–—]\s+|--+"
    rf"|(?<=[{_CJK}])-(?=[{_CJK}])"
)
# What may start the tail a longer variant adds to a headline: "Title | Site", "Title [Tag]".
EXTENSION_START = re.compile(r"^\s*(?:[|｜ㅣ\-–—:：·•»›/~\[(（【]|$)")
# ...and what ends a kicker a longer variant puts before it: "Kicker: Headline".
EXTENSION_END = re.compile(r"\S\s*[:：|｜\-–—]\s*$")


def compact(s: str) -> str:
    """A name without case, spaces and punctuation: "DiePresse.com" ~ "Die Presse"."""
    return re.sub(r"[\W_]+", "", s.casefold())


def names_site(part: str, names: set[str]) -> bool:
    """``part`` (a title tail segment) names the site: equal to, or containing, a known name."""
    c = compact(part)
    if not c or len(part) > 40:
        return False
    for n in names:
        if len(n) < 2:
            continue
        if c == n or (len(c) >= max(4, len(n) / 2) and c in n):  # "Spiegel" of "Der Spiegel"
            return True
        # the name plus a domain or a site word ("DiePresse.com", "Mirror Online"), but not
        # the name in a phrase ("BILD erklärt")
        rest = c.replace(n, "", 1) if len(n) >= 3 and n in c else None
        if rest is not None and (len(rest) <= 3 or rest in _SITE_WORDS):
            return True
    return False


_SITE_WORDS = {
    "online", "digital", "digitale", "news", "nachrichten", "noticias", "notizie", "nyheter",
    "nieuws", "actu", "info", "web", "live", "plus", "mobile", "today", "daily", "onlinede",
    "comau", "couk", "comtr", "combr", "conz", "coza", "cojp", "cokr",
}  # fmt: skip


def strip_site(title: str | None, names: set[str]) -> str | None:
    """``Headline | Section | Site | date`` -> ``Headline``, when a tail segment names the site.

    ``names`` holds compacted site names (see :func:`compact`). The site must be one of the
    last two segments; up to two short section names before it go with it.
    """
    if not title or not names:
        return title
    cuts = list(_SEP.finditer(title))
    if not cuts:
        return title
    starts = [0, *(m.end() for m in cuts)]
    stops = [*(m.start() for m in cuts), len(title)]
    segs = [title[a:b] for a, b in zip(starts, stops, strict=True)]
    last_two = range(len(segs) - 1, max(0, len(segs) - 3), -1)
    site = next((i for i in last_two if names_site(segs[i], names)), None)
    if not site:
        return title
    cut = site
    while cut - 1 > 0 and site - (cut - 1) <= 2 and _section(segs[cut - 1]):
        cut -= 1
    head = title[: cuts[cut - 1].start()].strip()
    return head if len(compact(head)) >= 4 else title


def _section(seg: str) -> bool:
    seg = seg.strip()
    return 0 < len(seg) <= 25 and len(seg.split()) <= 3
