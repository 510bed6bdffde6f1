"""Paywall and metering markup on synthetic pages: a flag, never a cut (issue 18 point 1).

The pages copy patterns of real publishing platforms: the class token ``paywall`` on every
visible body paragraph and subheading as well as on the wall, ``meteredContent`` on the
article container, Piano-style ``tp-modal``/``tp-backdrop`` walls beside a body marked
``piano-metered``. The full visible text must come out, the wall's text must not, the page
is flagged ``paywalled`` and stays an article. A teaser under a wall is a paywall page.
"""

from __future__ import annotations

import json

import pytest

from newsarchive.extract import extract_article

P = [
    "The harbour board voted on Monday to close the old ferry landing for good, ending a "
    "service that had carried passengers across the estuary for more than ninety years.",
    "Board members said the landing needed repairs that would cost more than a new pier, "
    "and that passenger numbers had fallen by half since the bridge opened last spring.",
    "Residents of the north shore, many of whom still commute by ferry, said they had not "
    "been asked and would take the decision to the regional court before the summer.",
    "The ferry company said its two boats would be sold, and that its twelve crew members "
    "had been offered jobs on the coastal line that runs between the three island ports.",
    "A last crossing is planned for the end of the month, when the town band will play on "
    "the landing and the mayor has promised a plaque for the crews who worked the route.",
]
HEADS = ["Why the board voted now", "What the residents want"]
WALL = "Subscribe now to keep reading: your first month for one euro, cancel any time."
BAR = "Already a subscriber? Log in to read every story of the Coast Herald."
TEASER_CUT = "Board members said the landing needed repairs that would cost…"


def page(body: str, head: str = "", after: str = "") -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><title>Ferry landing to close | Coast Herald"
        f"</title>{head}</head><body><header><nav><a href='/'>Home</a></nav></header>"
        f"<main><article><h1>Ferry landing to close</h1>{body}</article>{after}</main>"
        "<footer>Copyright Coast Herald 2024.</footer></body></html>"
    )


def body_with(p_attr: str, h_attr: str) -> str:
    out = []
    for i, para in enumerate(P):
        out.append(f"<p {p_attr}>{para}</p>")
        if i in (1, 3):
            out.append(f"<h2 {h_attr}>{HEADS[i // 2]}</h2>")
    return "".join(out)


EXPECTED = [P[0], P[1], HEADS[0], P[2], P[3], HEADS[1], P[4]]

PAGES = {
    # one token for the body, the modal and the bar, as the platform of the issue does
    "paywall_on_every_paragraph": page(
        body_with("class='paywall'", "class='paywall'"),
        after=(
            f"<div class='paywall paywall--modal' role='dialog'><p>{WALL}</p>"
            "<button>Subscribe</button></div>"
            f"<div class='paywall paywall-bar'><p>{BAR}</p><a href='/login'>Log in</a></div>"
        ),
    ),
    # the marker on the container; the wall is a separate offer box
    "meteredContent_container": page(
        "<div class='article-body meteredContent' itemprop='articleBody'>"
        + body_with("class='body-text'", "class='body-heading'")
        + "</div>",
        after=(
            f"<div id='paywall-offer' class='metered-offer'><p>{WALL}</p>"
            "<a class='btn' href='/subscribe'>Subscribe</a></div>"
        ),
    ),
    # Piano-style: body paragraphs marked as metered, the wall a tp-modal over a backdrop
    "piano_metered_paragraphs": page(
        body_with("class='piano-metered article__paragraph'", "class='piano-metered'"),
        after=(
            "<div class='tp-backdrop tp-active'></div>"
            f"<div class='tp-modal' aria-modal='true'><div class='tp-iframe-wrapper'><p>{WALL}"
            f"</p><p>{BAR}</p></div></div>"
        ),
    ),
    # a generic boilerplate word on every paragraph: the group guard keeps the body
    "subscription_token_on_every_paragraph": page(
        body_with("class='subscription-text'", "class='subscription-heading'"),
        after=f"<div class='paywall-prompt'><p>{WALL}</p></div>",
    ),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_marked_body_is_kept_and_wall_left_out(name):
    art = extract_article(PAGES[name], "https://example.org/news/ferry")
    assert art.text.split("\n") == EXPECTED
    assert "Subscribe now" not in art.text and "Already a subscriber" not in art.text
    assert art.paywalled
    assert art.is_article and art.page_type == "article"
    assert art.text_source == "trafilatura"


def test_truncated_teaser_under_a_wall_is_a_paywall_page():
    html = page(
        f"<div class='article-body paywall'><p>{P[0]}</p><p>{TEASER_CUT}</p></div>",
        after=f"<div class='paywall paywall--modal'><p>{WALL}</p></div>",
    )
    art = extract_article(html, "https://example.org/news/ferry")
    assert art.paywalled
    assert not art.is_article and art.page_type == "paywall"
    assert "Subscribe now" not in art.text


def test_teaser_against_long_article_body_is_a_paywall_page():
    hidden = " ".join(f"Sentence {i} of the story that only subscribers see." for i in range(60))
    ld = {"@type": "NewsArticle", "headline": "Ferry landing to close", "articleBody": hidden}
    html = page(
        f"<p>{P[0]}</p><p class='paywall-teaser'>{P[1]}</p>",
        head=f"<script type='application/ld+json'>{json.dumps(ld)}</script>",
    )
    art = extract_article(html, "https://example.org/news/ferry")
    assert art.paywalled and art.page_type == "paywall"


def test_short_article_with_metered_markup_but_no_wall_is_an_article():
    # a brief under a metering class, nothing cut and no wall: an article, flagged
    html = page(f"<div class='meteredContent'><p>{P[0]}</p><p>{P[1]}</p></div>")
    art = extract_article(html, "https://example.org/news/ferry")
    assert art.text.split("\n") == P[:2]
    assert art.paywalled and art.page_type == "article"


def test_free_article_without_markup_is_not_paywalled():
    art = extract_article(page(body_with("", "")), "https://example.org/news/ferry")
    assert art.text.split("\n") == EXPECTED
    assert not art.paywalled and art.page_type == "article"


def test_fallback_when_pruning_leaves_too_little():
    # every paragraph in its own promo-like wrapper, each rule too small for the group
    # guard: the text is far shorter than the page's paragraphs, plain trafilatura wins
    wrappers = ["mpu-slot", "dfp-wrap", "recirc-text", "billboard-zone", "affiliate-copy"]
    body = "".join(f"<div class='{w}'><p>{p}</p></div>" for w, p in zip(wrappers, P, strict=True))
    art = extract_article(page(body), "https://example.org/news/ferry")
    assert art.text_source == "fallback"
    assert art.text.split("\n") == P


def test_article_body_source_is_recorded():
    full = "\n\n".join(P)
    ld = {"@type": "NewsArticle", "headline": "Ferry landing to close", "articleBody": full}
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    art = extract_article(page(f"<p>{P[0]}</p>", head=head), "https://example.org/news/ferry")
    assert art.text.split("\n") == P
    assert art.text_source == "articleBody"


def test_doubled_article_body_counts_once():
    once = " ".join(P)
    ld = {"@type": "NewsArticle", "headline": "Ferry", "articleBody": once + " " + once}
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    art = extract_article(page(body_with("", ""), head=head), "https://example.org/news/ferry")
    words = art.text.split()
    assert words.count("harbour") == once.split().count("harbour")
    assert not art.paywalled and art.page_type == "article"
