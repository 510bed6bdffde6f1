"""Language of a text, for pages that do not declare one (or declare nonsense).

Pure Python, no model: the writing system first (Hangul, kana, Han, Cyrillic, Greek,
Hebrew, Arabic, Devanagari...), then for Latin and Cyrillic scripts the language whose most
frequent function words cover most of the text (scripts from the first 1000 characters,
words from the first 1200: well under a millisecond a page). Returns an
ISO 639-1 code, or None when the text is too short to tell.
"""

from __future__ import annotations

import re
from collections import Counter

# ISO 639-1 codes: a declared language outside this list ("utf-8", "x-default") is ignored.
ISO_639_1 = frozenset(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu".split()
)
# Old or alternative codes pages still declare.
_ALIASES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv"}

_STOP = {
    "en": "the and of to in is that for it was with on as are be this by have from not at "
    "has his her they which will would been were said",
    "de": "der die und das ist nicht ein eine zu den mit sich auf dem des von für auch im "
    "wird werden sind hat wie noch nach bei aus einer",
    "fr": "le la les et des est une que dans pour qui sur pas du au avec ce il sont ont "
    "mais aux cette être sa ses leur",
    "es": "el la los las y que en del se por con una para es al lo como más pero sus "
    "fue ha este esta también entre",
    "it": "il di che la è per un una non con del della sono da le gli nel anche alla "
    "dei delle più ha questo stato",
    "pt": "o a os as que de do da em um uma para com não é por mais dos das ao "
    "foi pela pelo também está seu sua",
    "nl": "de het een en van is dat op te in niet zijn voor met die ook er aan "
    "wordt werd door naar maar bij heeft",
    "sv": "och att det som en på är av för med den till inte har om jag ett de var "
    "också efter hade sig kan",
    "da": "og at det som en på er af for med den til ikke har om jeg et de var "
    "også efter havde sig blev meget",
    "no": "og at det som en på er av for med den til ikke har om jeg et de var "
    "også etter hadde seg ble mye",
    "fi": "ja on ei se että oli mutta kun tai ovat hän myös joka jo vain sen",
    "pl": "i w na z się nie do że to jest o jak co po są jego oraz przez dla",
    "cs": "a v se na je že to s z o do jako ale i jsou byl bylo jeho také podle",
    "hu": "a az és hogy nem is egy van meg de ki csak már volt mint után",
    "ro": "și în de la a că cu pe nu este o se din care mai sunt fost pentru",
    "tr": "ve bir bu da de için ile olarak çok daha gibi en olan ise sonra",
    "lt": "ir kad yra į su iš bet tai ar buvo jis nuo taip tik dar",
    "lv": "un ir ka uz ar no par bet vai tas kas arī bija viņš",
    "et": "ja on et ei see oli kui ka mis aga ta oma ning",
    "is": "og að í á er sem til það með var um ekki en af hann við",
    "sw": "na ya wa kwa katika ni la za hiyo kuwa cha mwaka huo hii pia",
    "zu": "ukuthi futhi kanye kodwa uma ngoba ngesikhathi lokho wathi abantu kule "
    "ngokuthi ukuba lapho",
    "id": "yang dan di ini itu dengan untuk dari dalam tidak akan pada juga oleh",
    "ca": "el la els i de que per amb una no és al les va seu amb",
    "hr": "i je u da se na za su od što ne ali kao koji bio",
    "sl": "in je v da se na za so z ne pa tudi bil ki",
    "af": "die en van is het nie dat op te vir met ook was sy",
    "tl": "ang ng sa mga na at ay si ni para",
    "ru": "и в не на что с по как это он из к о за от для же",
    "uk": "і в не на що з по як це він із до про за від для та",
    "bg": "и в не на че с по като това той от за се да е",
}
_STOPSETS = {lang: frozenset(words.split()) for lang, words in _STOP.items()}
_CYRILLIC_LANGS = ("ru", "uk", "bg")
_WORD = re.compile(r"[^\W\d_]+")

# Runs of letters of one writing system -> its language (or "latin"/"cyrillic"/"han"/"kana").
_SCRIPT_RUNS = re.compile(
    "|".join(
        [
            r"(?P<ko>[\uac00-\ud7af\u1100-\u11ff]+)",
            r"(?P<kana>[\u3040-\u30ff]+)",
            r"(?P<han>[\u4e00-\u9fff\u3400-\u4dbf]+)",
            r"(?P<cyrillic>[\u0400-\u04ff]+)",
            r"(?P<el>[\u0370-\u03ff]+)",
            r"(?P<he>[\u0590-\u05ff]+)",
            r"(?P<ar>[\u0600-\u06ff]+)",
            r"(?P<hi>[\u0900-\u097f]+)",
            r"(?P<bn>[\u0980-\u09ff]+)",
            r"(?P<ta>[\u0b80-\u0bff]+)",
            r"(?P<th>[\u0e00-\u0e7f]+)",
            r"(?P<ka>[\u10a0-\u10ff]+)",
            r"(?P<hy>[\u0530-\u058f]+)",
            r"(?P<latin>[A-Za-z\u00c0-\u024f]+)",
        ]
    )
)

# word -> the Latin/Cyrillic languages it is a function word of
_LANGS_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in _STOPSETS.items():
    for _w in _words:
        _LANGS_OF[_w] = (*_LANGS_OF.get(_w, ()), _lang)


def normalise_code(value: str | None) -> str | None:
    """``en-GB``, ``de_DE``, ``iw`` -> ``en``, ``de``, ``he``; None for anything else."""
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    code = _ALIASES.get(code, code)
    return code if code in ISO_639_1 else None


def detect_language(text: str, declared: str | None = None, sample: int = 2000) -> str | None:
    """The language of ``text`` (ISO 639-1), or None when it cannot be told.

    With ``declared`` (the page's own, normalised) that language is kept unless the text
    plainly contradicts it: another writing system ("kr" on a Korean page is Kanuri), or a
    page declared English (a template default) whose words are clearly another language's.
    """
    head = text[:sample]
    scripts: Counter[str] = Counter()
    for m in _SCRIPT_RUNS.finditer(head, 0, 1000):
        scripts[m.lastgroup or ""] += m.end() - m.start()
    if not scripts:
        return declared
    top, n = scripts.most_common(1)[0]
    if n < 20:
        return declared
    found: str | None = None
    if scripts["ko"] >= 0.2 * n:
        found = "ko"
    elif scripts["kana"] >= 10 and scripts["kana"] >= 0.1 * scripts["han"]:
        found = "ja"  # Japanese mixes kana into Han text; Chinese has none
    elif top in ("han", "kana"):
        found = "zh" if top == "han" else "ja"
    elif top not in ("latin", "cyrillic"):
        found = top
    if found:
        # a declared language written in that script stands ("fa" on an Arabic-script page)
        return declared if declared and _script_of(declared) == _script_of(found) else found
    words = _WORD.findall(head[:1200].lower())
    if len(words) < 8:
        return declared
    cyrillic = top == "cyrillic"
    if declared and _script_of(declared) == top and declared != "en":
        return declared
    hits: Counter[str] = Counter()
    for w in words:
        for lang in _LANGS_OF.get(w, ()):
            if (lang in _CYRILLIC_LANGS) == cyrillic:
                hits[lang] += 1
    best, best_hits = hits.most_common(1)[0] if hits else (None, 0)
    if best is None or best_hits < max(2, 0.05 * len(words)):
        best = "ru" if cyrillic else None
    if declared == "en" and top == "latin":
        # only strong evidence overrules a declared English (a template default): English
        # text is about a quarter function words; here almost none, and another's plenty
        if best and best != "en" and hits["en"] < 0.03 * len(words):
            return best
        return declared
    return best if declared is None or best else declared


# The writing system a language code is written in, for the languages this module knows.
_SCRIPT_OF = {"ko": "ko", "ja": "kana", "zh": "han", **{k: "cyrillic" for k in _CYRILLIC_LANGS}}
_SCRIPT_OF |= {k: k for k in ("el", "he", "ar", "hi", "bn", "ta", "th", "ka", "hy")}
_SCRIPT_OF |= {"sr": "cyrillic", "mk": "cyrillic", "kk": "cyrillic", "be": "cyrillic"}
_SCRIPT_OF |= {"fa": "ar", "ur": "ar", "ps": "ar", "mr": "hi", "ne": "hi", "yi": "he"}


def _script_of(code: str) -> str | None:
    """The script of a declared language; "latin" for the rest (most codes are)."""
    return _SCRIPT_OF.get(code, "latin")
