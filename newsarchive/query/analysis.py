"""How text becomes index terms, the same way for articles (in SQL) and for queries.

Tokens are maximal runs of Unicode letters and digits (RE2 ``[\\p{L}\\p{N}]+``), lower-cased,
accents kept (stripping them would merge Cyrillic и/й). Han, kana and Hangul have no spaces
between words, so each run of those characters is cut into overlapping character bigrams
(北京大学 -> 北京 京大 大学; a lone character stays a unigram): no dictionary needed, and a
query's bigrams match the same bigrams in text. Each surface token is then mapped to a term by
the Snowball stemmer of the article's language (``snowballstemmer``); a language without a
stemmer keeps the token as is. The mapping is cached in the ``qi_lex`` table, so Python stems
each distinct (language, token) once; the tokenising itself runs in DuckDB.
"""

from __future__ import annotations

import functools
import re

import duckdb
import snowballstemmer

# ISO 639-1 -> Snowball algorithm
STEMMERS = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "no": "norwegian", "nb": "norwegian", "fa": "persian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "es": "spanish",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip

# Han (incl. extension A and compatibility), Hiragana, Katakana, Hangul syllables and jamo.
CJK_CLASS = r"\x{3040}-\x{30ff}\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}\x{ac00}-\x{d7af}\x{1100}-\x{11ff}"
PY_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff"
PY_CJK = re.compile(f"[{PY_CJK_CLASS}]")
PY_WORD = re.compile(r"[^\W_]+")

# SQL macros: the one tokenizer. qi_words(x) -> VARCHAR[] of surface tokens.
MACROS = f"""
CREATE OR REPLACE MACRO qi_lang(l) AS
    CASE WHEN lower(split_part(replace(coalesce(l, ''), '_', '-'), '-', 1)) IN
        ({", ".join(f"'{k}'" for k in STEMMERS)})
    THEN lower(split_part(replace(l, '_', '-'), '-', 1)) ELSE '' END;
CREATE OR REPLACE MACRO qi_bigrams(t) AS
    CASE WHEN length(t) = 1 THEN [t]
    ELSE list_transform(range(1, length(t)), i -> substr(t, i::BIGINT, 2)) END;
CREATE OR REPLACE MACRO qi_words(x) AS
    CASE WHEN regexp_matches(coalesce(x, ''), '[{CJK_CLASS}]')
    THEN flatten(list_transform(
        regexp_extract_all(regexp_replace(lower(x), '([{CJK_CLASS}]+)', ' \\1 ', 'g'),
                           '[\\p{{L}}\\p{{N}}]+'),
        t -> CASE WHEN regexp_full_match(t, '[{CJK_CLASS}]+') THEN qi_bigrams(t) ELSE [t] END))
    ELSE regexp_extract_all(lower(coalesce(x, '')), '[\\p{{L}}\\p{{N}}]+') END;
"""


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tokenizer macros (temporary ones on a read-only connection)."""
    try:
        con.execute(MACROS)
    except duckdb.Error:
        con.execute(MACROS.replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO"))


@functools.cache
def _stemmer(lang: str):
    algo = STEMMERS.get(lang)
    return snowballstemmer.stemmer(algo) if algo else None


@functools.lru_cache(maxsize=262144)
def stem(lang: str, token: str) -> str:
    s = _stemmer(lang)
    if s is None or PY_CJK.search(token):
        return token
    return s.stemWord(token) or token


def stem_many(lang: str, tokens: list[str]) -> list[str]:
    s = _stemmer(lang)
    if s is None:
        return list(tokens)
    return [t if PY_CJK.search(t) else (s.stemWord(t) or t) for t in tokens]


def surface_tokens(text: str) -> list[str]:
    """The tokens the index sees in ``text``: the Python twin of the SQL ``qi_words`` (same
    rules, no round trip per query word; tests compare the two on every script)."""
    out: list[str] = []
    for run in PY_WORD.findall(text.lower()):
        if not PY_CJK.search(run):
            out.append(run)
            continue
        for part in re.findall(f"[{PY_CJK_CLASS}]+|[^{PY_CJK_CLASS}]+", run):
            if PY_CJK.match(part):
                out += [part] if len(part) == 1 else [part[i : i + 2] for i in range(len(part) - 1)]
            else:
                out.append(part)
    return out


def phrase_regex(text: str, edges: bool = True) -> str:
    """An RE2 pattern matching ``text``'s words in order on lower-cased text, any punctuation
    or space between them; word edges are checked except next to CJK characters (and not at
    all without ``edges``: a looser pattern starting with a literal, which RE2 finds fast)."""
    runs = PY_WORD.findall(text.lower())
    parts = []
    for r in runs:
        parts.append(re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", r))
    sep = r"[^\p{L}\p{N}]+"
    body = sep.join(parts)
    if not edges:
        return body
    first_cjk = bool(runs and PY_CJK.match(runs[0][0]))
    last_cjk = bool(runs and PY_CJK.match(runs[-1][-1]))
    left = "" if first_cjk else r"(^|[^\p{L}\p{N}])"
    right = "" if last_cjk else r"([^\p{L}\p{N}]|$)"
    return left + body + right


# Short stopword lists (function words) for top-words; written for this project.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "a about after again against all also am an and any are as at be because been before "
        "being between both but by can could did do does doing down during each few for from "
        "further had has have having he her here hers herself him himself his how i if in into "
        "is it its itself just me more most my myself no nor not now of off on once only or "
        "other our ours out over own said same says she should so some such than that the "
        "their theirs them then there these they this those through to too under until up "
        "very was we were what when where which while who whom why will with would you your "
        "yours new one two mr mrs ms told year years s t like get got".split()
    ),
    "ru": frozenset(
        "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по "
        "только ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если "
        "уже или ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей "
        "может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз "
        "тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом "
        "один почти мой тем чтобы нее сейчас были куда зачем всех никогда можно при наконец "
        "два об другой хоть после над больше тот через эти нас про всего них какая много "
        "разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой "
        "им более всегда конечно всю между это также который которые году".split()
    ),
    "uk": frozenset(
        "і й та в у на з із що як не до за від по про для це але або так його її їх він вона "
        "вони ми ви я ти був була було були є бути який яка які також вже ще коли де тому".split()
    ),
    "de": frozenset(
        "der die das und in zu den von mit sich des auf für ist im dem nicht ein eine als auch "
        "es an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über "
        "einen so zum war haben nur oder aber vor zur bis mehr durch man sein wurde sei".split()
    ),
    "fr": frozenset(
        "le la les de des du un une et en à au aux ce ces dans par pour sur pas plus ne qui "
        "que quoi il elle ils elles nous vous je tu on son sa ses leur leurs est sont été être "
        "avoir a ont avec se mais ou où donc comme tout tous".split()
    ),
    "es": frozenset(
        "el la los las de del y en a un una que es por con para no se su sus al lo como más "
        "pero ha le ya o este esta fue son entre cuando muy sin sobre también me hasta hay "
        "donde han".split()
    ),
}


def stopwords(lang: str | None) -> frozenset[str]:
    return STOPWORDS.get((lang or "")[:2].lower(), frozenset())
