"""Does a page's URL slug spell a headline word for word?

CMSs derive the slug from the headline the story was filed with ("Ampeln tot, S-Bahnen
stoppen: ..." -> ``ampeln-tot-s-bahnen-stoppen-...``). Umlauts may be transliterated
(ü -> ue) or stripped (ü -> u), accents dropped, apostrophes removed, and numeric ids
put before or after the words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote, urlsplit

_DE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_WORDS = re.compile(r"[^\W_]+")
_EXT = re.compile(r"\.(?:s?html?|php|aspx?)$", re.I)
# Fewer words than this in a path segment: a section name or an id, not a slug.
MIN_WORDS = 3


def _forms(s: str) -> set[tuple[str, ...]]:
    s = s.lower().replace("'", "").replace("\u2019", "")
    out = set()
    for t in (s.translate(_DE), s):
        bare = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
        out.add(tuple(_WORDS.findall(bare)))
    return out


@lru_cache(maxsize=64)
def _slugs(url: str) -> tuple[tuple[str, ...], ...]:
    segs = unquote(urlsplit(url).path).split("/")
    return tuple(
        form for seg in segs for form in _forms(_EXT.sub("", seg)) if len(form) >= MIN_WORDS
    )


def spells(url: str | None, text: str | None) -> bool:
    """True when a path segment of ``url`` is ``text``'s words, ids aside."""
    if not url or not text:
        return False
    for slug in _slugs(url):
        for words in _forms(text):
            n = len(words)
            if n < MIN_WORDS:
                continue
            for a in range(len(slug) - n + 1):
                rest = slug[:a] + slug[a + n :]
                if slug[a : a + n] == words and all(x.isdigit() for x in rest):
                    return True
    return False
