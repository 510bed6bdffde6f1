"""Metadata beyond English on small synthetic pages: bylines, dates, titles, language,
and the provenance of title and date (``title_source``, ``date_source``)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from newsarchive.extract import extract_article
from newsarchive.extract.fill import url_date
from newsarchive.extract.i18n import compact, parse_date, strip_site
from newsarchive.extract.lang import detect_language, normalise_code

TEXTS = {
    "de": "Die Stadt hat am Dienstag beschlossen, dass die neue Brücke erst im nächsten Frühjahr "
    "für den Verkehr geöffnet wird. Die Kosten sind nach Angaben der Verwaltung deutlich "
    "gestiegen, und die Bauarbeiten werden noch mehrere Monate dauern. Viele Anwohner sind "
    "mit der Planung nicht zufrieden und haben sich bei der Bürgermeisterin beschwert.",
    "fr": "La ville a décidé mardi que le nouveau pont ne sera ouvert à la circulation qu'au "
    "printemps prochain. Les coûts ont fortement augmenté selon la mairie, et les travaux "
    "vont durer encore plusieurs mois. Les habitants du quartier ne sont pas satisfaits et "
    "ils ont écrit une lettre au maire pour demander des explications sur le retard.",
    "es": "La ciudad decidió el martes que el nuevo puente no se abrirá al tráfico hasta la "
    "próxima primavera. Los costes han subido mucho según el ayuntamiento, y las obras van a "
    "durar varios meses más. Los vecinos del barrio no están contentos con el plan y han "
    "escrito una carta a la alcaldesa para pedir una explicación por el retraso.",
    "it": "La città ha deciso martedì che il nuovo ponte sarà aperto al traffico soltanto la "
    "prossima primavera. I costi sono aumentati molto secondo il comune, e i lavori "
    "dureranno ancora per diversi mesi. Gli abitanti del quartiere non sono contenti del "
    "progetto e hanno scritto una lettera alla sindaca per avere una spiegazione.",
    "nl": "De stad heeft dinsdag besloten dat de nieuwe brug pas in het voorjaar voor het "
    "verkeer open gaat. De kosten zijn volgens de gemeente sterk gestegen, en de werken "
    "zullen nog maanden duren. Veel bewoners van de wijk zijn niet tevreden met het plan en "
    "hebben een brief aan de burgemeester geschreven om uitleg te vragen over de vertraging.",
    "sv": "Staden beslutade på tisdagen att den nya bron inte öppnas för trafik förrän nästa "
    "vår. Kostnaderna har ökat kraftigt enligt kommunen, och arbetet kommer att pågå i flera "
    "månader till. Många boende i området är inte nöjda med planen och har skrivit ett brev "
    "till kommunalrådet för att få en förklaring till förseningen.",
    "ja": "市は火曜日、新しい橋の開通が来年の春になると発表した。費用は当初の見込みより大きく"
    "増えており、工事はさらに数か月続く見通しだという。地元の住民からは計画に対する不満の声が"
    "上がっており、市長に説明を求める手紙が送られた。",
    "ko": "시는 화요일 새 다리가 내년 봄에야 개통될 것이라고 밝혔다. 시에 따르면 비용이 크게 "
    "늘었고 공사는 몇 달 더 이어질 전망이다. 주민들은 계획에 불만을 나타내며 시장에게 지연에 "
    "대한 설명을 요구하는 편지를 보냈다.",
    "zh": "市政府周二宣布，新大桥要到明年春天才能通车。据市政府介绍，工程费用大幅增加，施工还将"
    "持续数月。当地居民对计划表示不满，并致信市长要求对延误作出解释。",
    "ru": "Городские власти во вторник сообщили, что новый мост откроют для движения только "
    "следующей весной. По данным мэрии, расходы сильно выросли, и работы продлятся еще "
    "несколько месяцев. Жители района недовольны планом и написали письмо мэру с просьбой "
    "объяснить причины задержки.",
}


def page(
    lang: str | None,
    body: str = "",
    head: str = "",
    h1: str = "Neue Brücke öffnet erst im Frühjahr",
    title: str | None = None,
) -> str:
    text = "".join(f"<p>{s.strip()}.</p>" for s in TEXTS[lang or "de"].split(".") if s.strip())
    attr = f" lang='{lang}'" if lang else ""
    return (
        f"<!DOCTYPE html><html{attr}><head><title>{title or h1}</title>{head}</head><body>"
        f"<header><nav><a href='/'>Start</a></nav></header><main><article><h1>{h1}</h1>"
        f"{body}{text}{text}</article></main><footer>Impressum</footer></body></html>"
    )


def ld(obj: dict) -> str:
    base = {"@context": "https://schema.org", "@type": "NewsArticle"}
    return f"<script type='application/ld+json'>{json.dumps(base | obj)}</script>"


URL = "https://kuestenbote.example/politik/bruecke-oeffnet-im-fruehjahr"


# -- bylines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "byline", "authors"),
    [
        (
            "de",
            "<div class='meta'>Von Anna Berg und Jonas Keller</div>",
            ["Anna Berg", "Jonas Keller"],
        ),
        (
            "fr",
            "<div class='meta'>Par Jean Dupont et Marie Leroy</div>",
            ["Jean Dupont", "Marie Leroy"],
        ),
        ("es", "<div class='meta'>Por Ana Ruiz</div>", ["Ana Ruiz"]),
        ("it", "<div class='meta'>Di Marco Bianchi</div>", ["Marco Bianchi"]),
        ("sv", "<div class='meta'>Av Lars Holm</div>", ["Lars Holm"]),
        ("nl", "<div class='meta'>Door Pieter de Vries</div>", ["Pieter de Vries"]),
        # a label and its value: <strong>Autor</strong> Anna Berg
        ("de", "<ul><li><strong>Autorin/Autor</strong> Anna Berg</li></ul>", ["Anna Berg"]),
        # a Chinese editor credit
        ("zh", "<div class='edit'>(责编：张伟、李娜)</div>", ["张伟", "李娜"]),
        # a desk that signs the story in a paragraph of its own
        ("de", "<p><em>KB-Redaktion</em></p>", ["KB-Redaktion"]),
    ],
)
def test_byline_words_beyond_english(lang, byline, authors):
    art = extract_article(page(lang, byline), URL)
    assert art.authors == authors


@pytest.mark.parametrize(
    ("head", "authors"),
    [
        # job titles in other languages, reporter markers in Japanese and Korean
        ("<meta name='author' content='Anna Berg, Redakteurin'>", ["Anna Berg"]),
        ("<meta name='author' content='Jean Dupont, envoyé spécial'>", ["Jean Dupont"]),
        ("<meta name='author' content='山田太郎記者'>", ["山田太郎"]),
        ("<meta name='author' content='홍길동 기자'>", ["홍길동"]),
        ("<meta name='author' content='홍길동 기자 hong@coast.example'>", ["홍길동"]),
        ("<meta name='author' content='Autor: Jan Kowalski'>", ["Jan Kowalski"]),
        # an Organization author named as a desk is the byline
        (
            ld({"author": {"@type": "Organization", "name": "Redaktion Küstenbote"}}),
            ["Redaktion Küstenbote"],
        ),
        # the site named by its domain is an organisational byline, kept as written
        ("<meta name='author' content='kuestenbote.example'>", ["kuestenbote.example"]),
    ],
)
def test_structured_credits_beyond_english(head, authors):
    assert extract_article(page("de", head=head), URL).authors == authors


def test_source_line_and_initials_are_not_authors():
    org = ld({"author": {"@type": "Organization", "name": "Küstenbote"}})
    body = "<div class='article__author'>Quelle: sid/dpa</div>"
    assert extract_article(page("de", body, head=org), URL).authors == ["Küstenbote"]
    body = "<p class='article__detail__author'>amw</p>"
    assert extract_article(page("de", body, head=org), URL).authors == ["Küstenbote"]


# -- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("28.04.2023", date(2023, 4, 28)),
        ("am 3. Mai 2024 um 10:15 Uhr", date(2024, 5, 3)),
        ("le 28 avril 2023", date(2023, 4, 28)),
        ("28 de abril de 2023", date(2023, 4, 28)),
        ("28 aprile 2023", date(2023, 4, 28)),
        ("12 апреля 2024", date(2024, 4, 12)),
        ("2024年4月24日 10時", date(2024, 4, 24)),
        ("2023년 4월 28일", date(2023, 4, 28)),
        ("April 28, 2023", date(2023, 4, 28)),
        ("31.02.2023", None),
        ("no date here", None),
    ],
)
def test_local_date_formats(text, day):
    assert parse_date(text) == day


def test_date_sources():
    art = extract_article(page("de", head=ld({"datePublished": "2024-05-03T10:00:00+02:00"})), URL)
    assert (art.published[:10], art.date_source) == ("2024-05-03", "jsonld")
    head = "<meta property='article:published_time' content='2024-05-04T08:00:00Z'>"
    art = extract_article(page("de", head=head), URL)
    assert (art.published[:10], art.date_source) == ("2024-05-04", "meta")
    # no structured date: a labelled date on the page, else the URL's
    body = "<ul><li><strong>Datum</strong> 28.04.2023</li></ul>"
    art = extract_article(page("de", body), URL)
    assert (art.published[:10], art.date_source) == ("2023-04-28", "heuristic")
    art = extract_article(page("de"), "https://kuestenbote.example/2023/04/27/bruecke")
    assert (art.published[:10], art.date_source) == ("2023-04-27", "url")


def test_url_dates():
    assert url_date("https://x.example/2024/04/28/story") == "2024-04-28"
    assert url_date("https://x.example/n1/2024/0424/c1001-4022.html") == "2024-04-24"
    assert url_date("https://x.example/cnt/dmf20250202_96887132") == "2025-02-02"
    assert url_date("https://x.example/story/3000000218734/title") is None
    assert url_date("https://x.example/2024/13/40/story") is None


# -- titles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "names", "stripped"),
    [
        (
            "橋の開通は来春に 市が発表：沿岸新聞デジタル",
            ["沿岸新聞デジタル"],
            "橋の開通は来春に 市が発表",
        ),
        ("새 다리 내년 봄 개통-사회ㅣ해안일보", ["해안일보"], "새 다리 내년 봄 개통"),
        (
            "Brücke öffnet im Frühjahr | Politik | kuestenbote.de",
            ["Küstenbote", "kuestenbote"],
            "Brücke öffnet im Frühjahr",
        ),
        (
            "Brücke öffnet erst im Frühjahr – DW – 28.04.2023",
            ["Deutsche Welle", "DW"],
            "Brücke öffnet erst im Frühjahr",
        ),
        (
            "Le pont ouvrira au printemps - Le Courrier",
            ["Le Courrier"],
            "Le pont ouvrira au printemps",
        ),
        # a hyphen inside a word is no separator; a tail that names no site stays
        (
            "S-Bahn und Brücke – wie geht es weiter?",
            ["Küstenbote"],
            "S-Bahn und Brücke – wie geht es weiter?",
        ),
        ("Wetter - Sonne und Regen", ["Küstenbote"], "Wetter - Sonne und Regen"),
        ("Streit um den Etat - BILD erklärt", ["BILD"], "Streit um den Etat - BILD erklärt"),
        ("Streit um den Etat | BILD.de", ["BILD"], "Streit um den Etat"),
        ("Bridge to open next spring - Mirror Online", ["mirror"], "Bridge to open next spring"),
    ],
)
def test_site_name_suffixes(title, names, stripped):
    assert strip_site(title, {compact(n) for n in names}) == stripped


def test_title_with_site_suffix_votes_for_the_headline():
    h = "Neue Brücke öffnet erst im Frühjahr"
    head = (
        f"<meta property='og:site_name' content='Küstenbote'>"
        f"<meta property='og:title' content='{h} | Politik | Küstenbote'>"
        + ld({"headline": "Brücke: Stadt verschiebt Eröffnung"})
    )
    art = extract_article(page("de", head=head, h1=h, title=f"{h} - Küstenbote"), URL)
    assert (art.title, art.title_source) == (h, "h1")
    # Japanese site suffix after a full-width colon, on every source
    h = "新しい橋の開通は来年の春に"
    head = (
        "<meta property='og:site_name' content='沿岸新聞デジタル'>"
        f"<meta property='og:title' content='{h}：沿岸新聞デジタル'>" + ld({"headline": h})
    )
    art = extract_article(page("ja", head=head, h1=h, title=f"{h}：沿岸新聞デジタル"), URL)
    assert art.title == h


def test_title_sources():
    h = "Neue Brücke öffnet erst im Frühjahr"
    art = extract_article(page("de", head=ld({"headline": h}), h1=h), URL)
    assert (art.title, art.title_source) == (h, "h1")
    art = extract_article(page("de", head=ld({"headline": h}), h1="Kurz"), URL)
    assert (art.title, art.title_source) == (h, "jsonld")
    site = "<meta property='og:site_name' content='Küstenbote'>"
    art = extract_article(
        page("de", head=site, h1="Kurz", title="Brücke verschoben | Küstenbote"), URL
    )
    assert art.title_source == "title" and art.title == "Brücke verschoben"


def test_structured_headline_spelled_by_the_slug_beats_display_copies():
    filed = "Brücke öffnet erst im Frühjahr: Kosten steigen um ein Drittel"
    shown = "Neue Brücke: Stadt verschiebt Eröffnung auf 2026"
    copies = (
        f"<meta property='og:title' content='{shown}'><meta name='twitter:title' content='{shown}'>"
    )
    url = (
        "https://kuestenbote.example/politik/article4711/"
        "bruecke-oeffnet-erst-im-fruehjahr-kosten-steigen-um-ein-drittel.html"
    )
    art = extract_article(page("de", head=copies + ld({"headline": filed}), h1=shown), url)
    assert (art.title, art.title_source) == (filed, "jsonld")
    # og:title spelled by the slug (umlauts stripped, an id after it) against a kicker h1
    og = "Trainer Berg: Nicht mehr viel zu verlieren"
    head = f"<meta property='og:title' content='{og}'>" + ld({"headline": "MSV-" + og})
    url = "https://kuestenbote.example/trainer-berg-nicht-mehr-viel-zu-verlieren-1019241/a"
    art = extract_article(page("de", head=head, h1="MSV-" + og), url)
    assert (art.title, art.title_source) == (og, "og")
    # without the slug the copies win the vote
    art = extract_article(page("de", head=copies + ld({"headline": filed}), h1=shown), URL)
    assert art.title == shown


def test_slug_spelling_a_display_headline_does_not_beat_structured_data():
    shown = "Bürgermeister verteidigt Brücke: Kosten steigen um ein Drittel"
    meta = "Kosten steigen – Brücke später"
    head = f"<meta property='og:title' content='{meta}'>" + ld({"headline": meta})
    url = "https://kuestenbote.example/a/X1/buergermeister-verteidigt-bruecke-kosten-steigen-um-ein-drittel"
    art = extract_article(page("de", head=head, h1=shown, title=shown), url)
    assert art.title == meta


# -- language -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_language_of_text(lang):
    assert detect_language(TEXTS[lang]) == lang


def test_language_detected_when_the_page_declares_none_or_nonsense():
    assert extract_article(page(None), URL).language == "de"
    head = "<meta http-equiv='Content-Language' content='utf-8'>"
    assert extract_article(page(None, head=head), URL).language == "de"
    assert extract_article(page("fr"), URL).language == "fr"  # declared wins
    assert normalise_code("de_AT") == "de" and normalise_code("iw") == "he"
    assert normalise_code("utf-8") is None and normalise_code("x-default") is None
    assert detect_language("12345 !!! ...") is None


def test_declared_language_stands_unless_the_text_plainly_contradicts_it():
    assert detect_language(TEXTS["de"], "de") == "de"
    assert detect_language(TEXTS["ko"], "kr") == "ko"  # "kr" is Kanuri: not a Korean page
    assert detect_language(TEXTS["ja"], "ja") == "ja"
    assert detect_language(TEXTS["nl"], "en") == "nl"  # a template's default "en"
    english = "The city said on Tuesday that the bridge will open next spring, and that the "
    english += "costs of the work have risen because the ground was softer than expected."
    assert detect_language(english, "en") == "en"
    assert detect_language(TEXTS["de"], "nl") == "nl"  # same script: the page knows best


# -- the shared corpora (../shared/corpus; skipped when absent) -----------------------------


def _metadata_hits(corpus: Path) -> dict[str, list[int]]:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "score_extraction", corpus.parent.parent / "bench" / "score_extraction.py"
    )
    S = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(S)
    hits: dict[str, list[int]] = {"title": [], "date": [], "authors": []}
    for _group, _name, html, url, _gold, _caps, gmeta in S.samples(str(corpus)):
        art = extract_article(html, url=url)
        got = {"title": art.title, "authors": art.authors, "published": art.published}
        for k, v in S.meta_hits(gmeta, got).items():
            if v is not None:
                hits[k].append(v)
    return hits


def test_metadata_beyond_english_on_the_intl_corpus(corpus_dir: Path):
    intl = corpus_dir.parent / "fundus-intl"
    if not intl.is_dir():
        pytest.skip("../shared/corpus/fundus-intl is absent")
    hits = _metadata_hits(intl)
    rate = {k: sum(v) / len(v) for k, v in hits.items()}
    # measured 70/75, 70/75, 74/75 (66 titles before the slug rule; 61, 61, 73 before
    # issue 18); the title misses left are outlets whose gold follows one source against
    # all the others with no slug to tell (see bench/metadata.py)
    assert len(hits["title"]) == 75
    assert rate["authors"] >= 0.9 and rate["date"] >= 0.98 and rate["title"] >= 0.9, rate
