"""Body rules on synthetic pages: bullet lists, captions without caption markup, the story
in a script's JSON state, CJK word counts (issue 18)."""

from __future__ import annotations

import json

from newsarchive.extract import extract_article

P = [
    "The council approved the new tram line on Wednesday after a debate that lasted well "
    "into the night, with a narrow majority of members voting for the northern route.",
    "Construction is due to start next year and the first trams should run by the end of "
    "the decade, the transport department said in a statement published after the vote.",
    "Opponents had argued that the money would be better spent on buses, which already "
    "serve most of the districts the line will cross, and promised to keep campaigning.",
    "Shop owners along the route asked the council to phase the works so that streets in "
    "the old town are never closed for more than a few weeks at a time during the summer.",
]


def page(body: str, head: str = "") -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><title>Tram line approved</title>"
        f"{head}</head><body><main><article><h1>Tram line approved</h1>{body}"
        "</article></main></body></html>"
    )


def paras(idx) -> str:
    return "".join(f"<p>{P[i]}</p>" for i in idx)


ITEMS = [
    "Length: twelve kilometres with fourteen stops",
    "Cost: about four hundred million euros",
    "Opening: planned for the end of the decade",
]
LIST = "<ul>" + "".join(f"<li>{x}</li>" for x in ITEMS) + "</ul>"


def test_fact_list_inside_the_story_is_not_body():
    art = extract_article(page(paras([0, 1]) + LIST + paras([2, 3])), "https://example.org/a")
    assert art.text.split("\n") == P


def test_summary_list_under_the_headline_stays():
    summary = [
        "The council approved the northern tram route by a narrow majority on Wednesday.",
        "Works start next year; the first trams should run by the end of the decade.",
    ]
    ul = "<ul>" + "".join(f"<li>{x}</li>" for x in summary) + "</ul>"
    art = extract_article(page(ul + paras(range(4))), "https://example.org/a")
    assert art.text.split("\n") == [f"- {x}" for x in summary] + P


def test_page_made_of_lists_keeps_them():
    long_items = [p[:150].strip() for p in P]
    ul = "<ul>" + "".join(f"<li>{x}</li>" for x in long_items) + "</ul>"
    art = extract_article(page(f"<p>{P[0]}</p>" + ul), "https://example.org/a")
    assert [x for x in art.text.split("\n") if x.startswith("- ")] == [f"- {x}" for x in long_items]


CAPTION = "Workers lay the first rails near the central station last spring"


def test_caption_without_markup_under_an_image_is_data():
    media = (
        "<div class='media mediaRight'><div class='pic'><picture><img src='t.jpg' alt='x'>"
        f"</picture></div><div class='mediaInfo'><p class='infotext'>{CAPTION}</p></div></div>"
    )
    art = extract_article(page(paras([0, 1]) + media + paras([2, 3])), "https://example.org/a")
    assert art.text.split("\n") == P
    assert CAPTION in art.captions


def test_bold_line_after_a_bare_figure_is_a_caption():
    fig = f"<figure><img src='t.jpg'></figure><p><strong>{CAPTION}.</strong></p>"
    art = extract_article(page(paras([0, 1]) + fig + paras([2, 3])), "https://example.org/a")
    assert art.text.split("\n") == P
    assert f"{CAPTION}." in art.captions


def test_teaser_card_is_not_taken_for_a_caption():
    # image plus a linked headline: a teaser, not a caption (it goes as a link list or stays)
    card = (
        "<div class='card'><img src='c.jpg'><a href='/b'>Bus lanes to be widened in the "
        "old town</a></div>"
    )
    art = extract_article(page(paras([0, 1]) + card + paras([2, 3])), "https://example.org/a")
    assert "Bus lanes to be widened in the old town" not in art.captions


def test_story_in_script_state_is_found():
    html_body = "".join(f"<p class='editor-p'>{p}</p>" for p in P)
    html_body = f"<div class='caption'><p>{CAPTION}</p></div>" + html_body
    state = {"props": {"article": {"title": "Tram line approved", "contentHtml": html_body}}}
    script = f"<script>self.__STATE__ = {json.dumps(state)};</script>"
    html = (
        "<!DOCTYPE html><html><head><title>Tram line approved</title></head><body>"
        f"<div id='root'></div>{script}</body></html>"
    )
    art = extract_article(html, "https://example.org/a")
    assert art.text.split("\n") == P
    assert art.text_source == "hydration"
    assert art.is_article and art.page_type == "article"


def test_empty_page_stays_empty_without_state():
    html = "<html><head><title>x</title></head><body><div id='root'></div></body></html>"
    art = extract_article(html, "https://example.org/a")
    assert art.page_type == "empty" and art.text_source == ""


def test_japanese_article_is_not_empty():
    # no spaces between words: the word count must not call a full story empty
    sentences = [
        "市議会は水曜日、北部路線の路面電車計画を賛成多数で可決した。工事は来年始まる予定だ。",
        "交通局によると、最初の電車は十年以内に走り始める見通しで、費用は約四億ユーロとなる。",
        "反対派はバスの増便に予算を回すべきだと主張しており、今後も運動を続ける考えを示した。",
        "沿線の商店主らは、旧市街の通りを長期間閉鎖しないよう、工事を段階的に進めるよう求めた。",
    ]
    body = "".join(f"<p>{s}</p>" for s in sentences)
    art = extract_article(page(body).replace("lang='en'", "lang='ja'"), "https://example.jp/a")
    assert art.page_type == "article" and art.word_count > 60


STANDFIRST = "The northern route won by two votes after a night of debate in the council."


def test_standfirst_under_the_headline_opens_the_text():
    # the standfirst sits in the page header beside the headline, outside the article
    # container that trafilatura picks
    html = (
        "<!DOCTYPE html><html lang='en'><head><title>Tram line approved</title>"
        f"<meta name='description' content='{STANDFIRST}'></head><body>"
        "<header class='article-header'><h1>Tram line approved</h1>"
        f"<div class='standfirst'><span>{STANDFIRST}</span></div></header>"
        f"<div class='grid'><article class='story'>{paras(range(4))}</article></div></body></html>"
    )
    art = extract_article(html, "https://example.org/a")
    assert art.text.split("\n") == [STANDFIRST] + P


def test_description_not_shown_above_the_story_is_not_added():
    head = f"<meta name='description' content='{STANDFIRST}'>"
    hidden = extract_article(page(paras(range(4)), head=head), "https://example.org/a")
    assert hidden.text.split("\n") == P
    after = paras(range(4)) + f"<div class='teaser'><span>{STANDFIRST}</span></div>"
    below = extract_article(page(after, head=head), "https://example.org/a")
    assert below.text.split("\n")[0] == P[0]


def test_byline_stamp_and_headline_variant_above_the_story_are_not_body():
    top = (
        "<p>Tram line approved | city radio</p><p>Stand: 22.04.2024, 06:00 Uhr</p>"
        "<p>Von Anna Schmidt</p>"
    )
    tail = "<p>With files from The Canadian Press</p>"
    art = extract_article(page(top + paras(range(4)) + tail), "https://example.org/a")
    assert art.text.split("\n") == P


def test_sentences_that_start_like_bylines_stay():
    lines = [
        "Da Jakob begynder at bestille på fransk, rystede tjeneren på hovedet.",
        "Von den Plänen erfuhren die Anwohner erst aus der Zeitung, sagte sie.",
    ]
    body = "".join(f"<p>{x}</p>" for x in lines) + paras(range(4))
    art = extract_article(page(body), "https://example.org/a")
    assert art.text.split("\n") == lines + P


def test_body_set_in_image_blocks_is_not_taken_for_captions():
    # a CMS that wraps each paragraph with its own image: text beside images is the body
    short = [p[:120].rsplit(" ", 1)[0] + "." for p in P]
    blocks = "".join(
        f"<div class='block'><img src='{i}.jpg'><p>{x}</p></div>" for i, x in enumerate(short)
    )
    art = extract_article(page(blocks), "https://example.org/a")
    assert art.text.split("\n") == short
    assert art.captions == []


def test_text_above_an_image_is_not_its_caption():
    box = (
        "<div class='note'>Timetables for the works are on the council site.<img src='x.jpg'></div>"
    )
    art = extract_article(page(paras([0, 1]) + box + paras([2, 3])), "https://example.org/a")
    assert "Timetables for the works are on the council site." not in art.captions


def test_an_endless_page_is_cut_to_the_markup_budget() -> None:
    """Past MAX_TAGS tags the page is extracted from its first MAX_TAGS (scripts dropped
    first, JSON-LD kept): memory stays bounded; the head's metadata survives."""
    from newsarchive.extract import core

    ld = '{"@type": "NewsArticle", "headline": "Endless ledger", "datePublished": "2024-05-01"}'
    filler = "<script>" + "<b>" * 50_000 + "</script>"
    paras = "".join(
        f"<p>Entry {k} of the ledger kept by the harbour office.</p>" for k in range(80_000)
    )
    page = (
        f'<html><head><script type="application/ld+json">{ld}</script></head>'
        f"<body>{filler}<article>{paras}</article></body></html>"
    )
    art = core.extract_article(page.encode(), "https://x.example/ledger")
    assert art.title == "Endless ledger" and art.published.startswith("2024-05-01")
    assert art.text.startswith("Entry 0 of the ledger")
    assert "Entry 40000 of" in art.text and "Entry 79999 of" not in art.text


NOTE = (
    "<p><em><strong>The May issue with the tram on its cover is on sale from 27 April. "
    "<a href='https://shop.example.net/issue-5'>Order your copy here!</a></strong></em></p>"
)
SHOOT = (
    "<h3>Full credits:</h3><p>Photos: ANNA BERG<br/>Styling: JON LUND<br/>Hair: EVA MOOR"
    "<br/>Make-up: IDA SKOG with products by ACME<br/>Production: NORTH STUDIO</p>"
)


def test_note_with_a_link_set_in_emphasis_is_not_body():
    art = extract_article(page(paras(range(4)) + NOTE), "https://example.org/a")
    assert art.text.split("\n") == P


def test_note_is_also_left_out_of_an_article_body_taken_from_json_ld():
    # the structured body repeats the note as a plain line; the page shows the story
    # only in part, so articleBody wins and must lose the note all the same
    note = (
        "The May issue with the tram on its cover is on sale from 27 April. Order your copy here!"
    )
    ld = {
        "@type": "NewsArticle",
        "headline": "Tram line approved",
        "articleBody": "\n".join(P + [note]),
    }
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    art = extract_article(page(paras([0]) + NOTE, head), "https://example.org/a")
    assert art.text_source == "articleBody"
    assert art.text.split("\n") == P


def test_emphasised_paragraphs_without_a_link_stay():
    bold = f"<p><strong>{P[0]}</strong></p><p><em>{P[1]}</em></p>"
    art = extract_article(page(bold + paras([2, 3])), "https://example.org/a")
    assert art.text.split("\n") == P


def test_photo_shoot_credit_block_is_not_body():
    art = extract_article(page(paras(range(4)) + SHOOT), "https://example.org/a")
    assert art.text.split("\n") == P


def test_label_lines_that_are_not_shoot_credits_stay():
    facts = "<p>Length: twelve kilometres<br/>Cost: four hundred million<br/>Stops: fourteen</p>"
    art = extract_article(page(paras(range(4)) + facts), "https://example.org/a")
    assert "Cost: four hundred million" in art.text
