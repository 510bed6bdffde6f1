"""Unit tests of extract_article on small synthetic pages: captions, metadata, detection."""

from __future__ import annotations

import json

import pytest

from newsarchive.extract import EXTRACTOR_VERSION, Article, extract_article

P = [
    "Officials in the northern province said on Tuesday that the new bridge would open to "
    "traffic next spring, two years later than first planned because of rising costs.",
    "The project, which links two fishing towns across the estuary, has been debated in the "
    "regional parliament for more than a decade and survived three changes of government.",
    "Engineers told reporters that the foundations had needed far more concrete than expected "
    "after surveys found soft clay much deeper than the original drawings had assumed.",
    "Local business owners welcomed the news but said they had lost customers during years "
    "of roadworks, and asked the province for help with the costs of the long disruption.",
    "The transport minister is due to visit the site next week and will meet residents of "
    "both towns at a public meeting in the harbour hall on Thursday evening.",
]


def page(body: str, head: str = "", title: str = "Bridge to open next spring") -> str:
    return (
        f"<!DOCTYPE html><html lang='en'><head><title>{title} | Coast Herald</title>{head}"
        f"</head><body><header><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></header>"
        f"<main><article><h1>{title}</h1>{body}</article></main>"
        f"<footer>Copyright Coast Herald 2024. All rights reserved.</footer></body></html>"
    )


def paras(idx) -> str:
    return "".join(f"<p>{P[i]}</p>" for i in idx)


CAPTION_CASES = {
    "figcaption_with_credit": (
        "<figure><img src='a.jpg' alt='the alt text is not a caption'>"
        "<figcaption>Workers pour concrete at the northern pier."
        "<span class='credit'>Photo: Ana Ruiz/Coast Herald</span></figcaption></figure>",
        ["Workers pour concrete at the northern pier."],
        ["Photo: Ana Ruiz/Coast Herald"],
    ),
    "wp_caption": (
        "<div class='wp-caption alignnone'><img src='b.jpg'>"
        "<p class='wp-caption-text'>The estuary seen from the old ferry landing.</p></div>",
        ["The estuary seen from the old ferry landing."],
        [],
    ),
    "imageCaption_camel_case": (
        "<div class='artSplitter'><img src='c.jpg'>"
        "<p class='imageCaption'>Residents queue at the harbour hall meeting last year.</p></div>",
        ["Residents queue at the harbour hall meeting last year."],
        [],
    ),
    "credit_span_and_photo_credit": (
        "<div class='image'><img src='d.jpg'><span class='credit'>REUTERS/Jon Smith</span>"
        "<div class='photo-credit'>Getty Images via AFP</div></div>",
        [],
        ["REUTERS/Jon Smith", "Getty Images via AFP"],
    ),
    "slideshow_captions": (
        "<div class='slideshow'><div class='slide'><img src='e1.jpg'>"
        "<div class='slide-caption'>Slide one shows the pier at dawn.</div></div>"
        "<div class='slide'><img src='e2.jpg'>"
        "<div class='slideshow__Caption'>Slide two shows the ferry landing.</div></div></div>",
        ["Slide one shows the pier at dawn.", "Slide two shows the ferry landing."],
        [],
    ),
}


@pytest.mark.parametrize("case", sorted(CAPTION_CASES))
def test_captions_are_data_never_text(case):
    markup, captions, credits = CAPTION_CASES[case]
    html = page(paras([0, 1]) + markup + paras([2, 3, 4]))
    art = extract_article(html, "https://example.org/news/2024/05/01/bridge")
    assert art is not None and art.is_article
    assert art.text.split("\n") == P
    for c in captions:
        assert c not in art.text
        assert c in art.captions
    for c in credits:
        assert c not in art.text
        assert c in art.credits
    assert "alt text" not in " ".join(art.captions + art.credits)


def test_all_caption_markups_in_one_page():
    markup = "".join(m for m, _, _ in CAPTION_CASES.values())
    html = page(paras([0]) + markup + paras([1, 2, 3, 4]))
    art = extract_article(html, "https://example.org/a")
    assert art.text.split("\n") == P
    every = [c for _, caps, creds in CAPTION_CASES.values() for c in caps + creds]
    for c in every:
        assert c not in art.text
        assert c in art.captions + art.credits


NYPOST_LIKE = """
<div class="single__content entry-content m-bottom">
<p>Vladimir Putin on Tuesday angrily ordered his security forces to redouble their efforts to
root out traitors and spies working to undermine his rule, in a rare public admission.</p>
<p>Speaking in a short video address, a stern-faced Putin told operatives that their work had
to improve significantly, one of his clearest admissions that the war is not going smoothly.</p>
<figure class="wp-block-image size-large"><img src="/p1.jpg" alt="Putin at a desk">
<figcaption><span class="wp-element-caption__text">Putin ordered the security services to work
harder to identify traitors.</span><span class="credit">Kremlin Press Office</span></figcaption>
</figure>
<figure class="wp-block-image"><img src="/p2.jpg">
<figcaption>Putin shakes hands with a regional official at a ceremony in the Kremlin.
<span class="credit">SPUTNIK/AFP via Getty Images</span></figcaption></figure>
<p>In an uncharacteristic break with the official line, Putin admitted that the situation in
the annexed regions was difficult and asked for maximum composure from his agencies.</p>
<div class="widget-newsletter-signup"><p>Sign up for our Morning Report newsletter today and
get the news delivered to your inbox every day.</p></div>
<p>A former intelligence officer himself, Putin praised operatives deployed in the regions and
said residents were counting on being protected by them in the months to come.</p>
<figure><img src="/p3.jpg"><figcaption>A woman removes broken glass inside a damaged hospital.
<span class="credit">REUTERS</span></figcaption></figure>
<p>Ukraine's president travelled to the front-line town the same day, in a visit that was seen
as a direct answer to the speech delivered in Moscow.</p>
</div>
"""
NYPOST_PARAS = [
    "Vladimir Putin on Tuesday angrily ordered his security forces to redouble their efforts to "
    "root out traitors and spies working to undermine his rule, in a rare public admission.",
    "Speaking in a short video address, a stern-faced Putin told operatives that their work had "
    "to improve significantly, one of his clearest admissions that the war is not going smoothly.",
    "In an uncharacteristic break with the official line, Putin admitted that the situation in "
    "the annexed regions was difficult and asked for maximum composure from his agencies.",
    "A former intelligence officer himself, Putin praised operatives deployed in the regions and "
    "said residents were counting on being protected by them in the months to come.",
    "Ukraine's president travelled to the front-line town the same day, in a visit that was seen "
    "as a direct answer to the speech delivered in Moscow.",
]


def test_nypost_seed_layout_gives_paragraphs_only():
    html = page(NYPOST_LIKE, title="Putin orders security forces to root out traitors")
    art = extract_article(html.encode("utf-8"), "https://nypost.com/2022/12/20/putin-traitors/")
    assert art.text == "\n".join(NYPOST_PARAS)
    assert "SPUTNIK/AFP via Getty Images" in art.credits
    assert "Kremlin Press Office" in art.credits
    assert any(c.startswith("Putin shakes hands") for c in art.captions)
    assert art.word_count == sum(len(p.split()) for p in NYPOST_PARAS)


def test_section_headlines_are_lines_of_their_own():
    html = page(paras([0, 1]) + "<h2>What happens next</h2>" + paras([2, 3, 4]))
    art = extract_article(html, "https://example.org/a")
    lines = art.text.split("\n")
    assert lines[2] == "What happens next"
    assert lines[:2] == P[:2] and lines[3:] == P[2:]


def test_related_share_ads_aside_are_removed():
    junk = (
        "<div class='share-bar'><a>Share on Facebook</a> <a>Share on X</a></div>"
        "<div class='related-articles'><h3>Read more</h3><ul><li><a href='/x'>Ferry prices "
        "rise again for the third time this year as fuel costs climb</a></li></ul></div>"
        "<div id='ad-slot-3' class='AdContainer'>Advertisement</div>"
        "<aside><p>Our coverage of the coast is supported by readers like you; please "
        "consider supporting local journalism with a donation this month.</p></aside>"
        "<div role='complementary'><p>Most read: Storm closes harbour road for the night</p></div>"
        "<p><strong>READ MORE: Harbour hall to close for repairs this summer</strong></p>"
    )
    html = page(paras([0, 1]) + junk + paras([2, 3, 4]))
    art = extract_article(html, "https://example.org/a")
    assert art.text.split("\n") == P


def test_wrapper_with_junk_word_keeps_article():
    # a site-wide wrapper whose class happens to say "ads" must not take the article with it
    html = page(f"<div class='content has-ads sidebar-layout'>{paras(range(5))}</div>")
    art = extract_article(html, "https://example.org/a")
    assert art.text.split("\n") == P


LD = {
    "@context": "https://schema.org",
    "@graph": [
        {"@type": "WebSite", "name": "Coast Herald"},
        {
            "@type": ["NewsArticle"],
            "headline": "Bridge to open next spring",
            "description": "Two years late, the estuary bridge gets an opening date.",
            "datePublished": "2024-05-01T08:30:00+02:00",
            "dateModified": "2024-05-01T10:00:00+02:00",
            "author": [
                {"@type": "Person", "name": "By Maria Lopez and Tom Reed"},
                {"@type": "Organization", "name": "Coast Herald"},
                "Reuters",
            ],
            "articleSection": "Regional",
            "keywords": "bridges, transport",
            "image": {"@type": "ImageObject", "url": "https://example.org/top.jpg"},
            "inLanguage": "en-GB",
            "publisher": {"@type": "Organization", "name": "Coast Herald"},
        },
    ],
}


def test_metadata_from_json_ld_graph_and_meta_tags():
    head = (
        f"<script type='application/ld+json'>{json.dumps(LD)}</script>"
        "<meta property='og:title' content='Bridge to open next spring | Coast Herald'>"
        "<meta property='og:site_name' content='Coast Herald'>"
        "<meta property='article:tag' content='ignored when JSON-LD has keywords'>"
        "<link rel='canonical' href='https://example.org/news/bridge'>"
    )
    art = extract_article(page(paras(range(5)), head=head), "https://example.org/news/bridge?x=1")
    assert art.title == "Bridge to open next spring"
    assert art.subtitle == "Two years late, the estuary bridge gets an opening date."
    assert art.authors == ["Maria Lopez", "Tom Reed", "Reuters"]  # the agency as credited
    assert art.published == "2024-05-01T08:30:00+02:00"
    assert art.modified == "2024-05-01T10:00:00+02:00"
    assert art.section == "Regional"
    assert art.tags == ["bridges", "transport"]
    assert art.language == "en"
    assert art.canonical_url == "https://example.org/news/bridge"
    assert art.image == "https://example.org/top.jpg"
    assert art.extractor_version == EXTRACTOR_VERSION
    d = art.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert Article.from_dict(d) == art


def test_metadata_from_meta_tags_without_json_ld():
    head = (
        "<meta name='author' content='By Jane Doe, Staff Reporter'>"
        "<meta property='article:published_time' content='2023-11-02T07:00:00Z'>"
        "<meta name='parsely-section' content='Politics'>"
        "<meta property='og:title' content='Bridge to open next spring - Coast Herald'>"
        "<meta property='og:site_name' content='Coast Herald'>"
    )
    art = extract_article(page(paras(range(5)), head=head), "https://example.org/a")
    assert art.authors == ["Jane Doe"]
    assert art.published == "2023-11-02T07:00:00+00:00"
    assert art.section == "Politics"
    assert art.title == "Bridge to open next spring"


def test_article_body_competes_when_page_text_is_short():
    full = "\n\n".join(P)
    ld = {"@type": "NewsArticle", "headline": "Bridge", "articleBody": full}
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    art = extract_article(page(paras([0]), head=head), "https://example.org/a")
    assert art.text.split("\n") == P
    # the page itself showed only the first paragraph: full text kept, page flagged
    assert art.is_article and art.paywalled


# --- detection -------------------------------------------------------------------------

CHALLENGE = """<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>
<div class="main-wrapper"><h1>www.example.org</h1><h2>Checking if the site connection is
secure</h2><noscript>Enable JavaScript and cookies to continue</noscript>
<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script></div></body></html>"""

ACCESS_DENIED = """<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1>
You don't have permission to access "http://www.example.org/news/a" on this server.<p>
Reference #18.2f4f1402.1700000000.1a2b3c</p></body></html>"""


@pytest.mark.parametrize("html", [CHALLENGE, ACCESS_DENIED])
def test_challenge_pages_are_flagged(html):
    art = extract_article(html, "https://www.example.org/news/a")
    assert art is not None
    assert art.challenge and not art.is_article and art.page_type == "challenge"
    assert art.text == ""


def test_paywall_page_is_flagged():
    ld = {
        "@type": "NewsArticle",
        "headline": "Bridge to open next spring",
        "isAccessibleForFree": "False",
        "hasPart": {"@type": "WebPageElement", "isAccessibleForFree": False},
    }
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    body = paras([0]) + "<div class='paywall-offer'><p>Subscribe to keep reading.</p></div>"
    art = extract_article(page(body, head=head), "https://example.org/a")
    assert art.paywalled
    assert not art.is_article and art.page_type == "paywall"


def test_truncated_text_against_long_article_body_is_paywalled():
    hidden = " ".join(
        f"Hidden sentence number {i} of the subscriber-only story." for i in range(80)
    )
    ld = {"@type": "NewsArticle", "headline": "Bridge", "articleBody": P[0] + " " + hidden}
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    art = extract_article(page(paras([0]), head=head), "https://example.org/a")
    assert art.paywalled


def test_empty_page_is_not_an_article():
    art = extract_article(page("<p>Loading…</p>"), "https://example.org/a")
    assert art is not None and not art.is_article and art.page_type == "empty"


def test_video_page_is_flagged():
    ld = {"@type": "VideoObject", "name": "Bridge opening video", "uploadDate": "2024-05-01"}
    head = (
        f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
        "<meta property='og:type' content='video.other'>"
    )
    art = extract_article(page("<div class='player'></div><p>Watch the video.</p>", head=head))
    assert art.page_type == "video" and not art.is_article


def test_article_with_embedded_video_stays_an_article():
    ld = [
        {"@type": "NewsArticle", "headline": "Bridge to open next spring"},
        {"@type": "VideoObject", "name": "clip"},
    ]
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    art = extract_article(page(paras(range(5)), head=head))
    assert art.page_type == "article" and art.is_article


def test_liveblog_is_flagged():
    ld = {"@type": "LiveBlogPosting", "headline": "Live: storm hits the coast"}
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    art = extract_article(page(paras(range(5)), head=head))
    assert art.page_type == "liveblog"


def test_not_html_gives_none():
    assert extract_article(b"") is None
    assert extract_article("") is None
    assert extract_article(b"\x00\x01\x02\xff" * 10) is None


def test_outlet_prune_selectors_apply(tmp_path, monkeypatch):
    registry = tmp_path / "outlets.toml"
    registry.write_text(
        "[outlets.coast]\nname = 'Coast Herald'\ndomains = ['coast.example']\ncountry = 'us'\n"
        "language = 'en'\narticle_allow = ['^https://coast\\\\.example/']\n"
        "prune = ['.odd-box']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("NEWSARCHIVE_REGISTRY", str(registry))
    box = "<div class='odd-box'><p>" + "Odd site-specific teaser text. " * 8 + "</p></div>"
    html = page(paras([0, 1]) + box + paras([2, 3, 4]))
    art = extract_article(html, "https://coast.example/a")
    assert art.text.split("\n") == P
    art2 = extract_article(html, "https://elsewhere.example/a")
    assert "Odd site-specific teaser" in art2.text


def _ld(article: dict) -> str:
    base = {"@context": "https://schema.org", "@type": "NewsArticle"}
    base["publisher"] = {"@type": "NewsMediaOrganization", "name": "Coast Herald"}
    return f"<script type='application/ld+json'>{json.dumps(base | article)}</script>"


SITE = "<meta property='og:site_name' content='Coast Herald'>"


@pytest.mark.parametrize(
    ("head", "byline", "authors"),
    [
        # a wire agency beside a person, and alone, is kept as credited
        (_ld({"author": [{"@type": "Person", "name": "Jane Doe"}, "AP"]}), "", ["Jane Doe", "AP"]),
        (
            _ld({"author": {"@type": "Person", "name": "The Associated Press"}}),
            "",
            ["The Associated Press"],
        ),
        ("<meta name='author' content='Reuters in Lisbon'>", "", ["Reuters"]),
        # an outlet name appended to a person, job titles, "and", photo credits: removed
        (
            "<meta name='author' content='By Jane Doe, Coast Herald and Tom Reed - Senior Reporter'>",
            "",
            ["Jane Doe", "Tom Reed"],
        ),
        (
            "<meta name='author' content='Jane Doe; Image: Getty Images; jd@coast.example'>",
            "",
            ["Jane Doe"],
        ),
        # no person credited: the organisational byline as written
        (
            _ld({"author": {"@type": "Person", "name": "Herald staff reporter"}}),
            "",
            ["Herald staff reporter"],
        ),
        (_ld({"author": {"name": "CH Staff"}}), "", ["CH Staff"]),
        (
            _ld({"author": {"@type": "NewsMediaOrganization", "name": "Coast Herald"}}),
            "",
            ["Coast Herald"],
        ),
        # ...but an Organization author (the publisher) yields to a person named elsewhere
        (
            _ld({"author": {"@type": "Organization", "name": "Coast Herald"}})
            + "<meta name='parsely-author' content='Maria Lopez'>",
            "",
            ["Maria Lopez"],
        ),
        # an explicit JSON-LD desk credit beats a place-tagged agency in article:author
        (
            _ld({"author": {"@type": "Person", "name": "Herald staff reporter"}})
            + "<meta property='article:author' content='Associated Press in Lisbon'>",
            "",
            ["Herald staff reporter"],
        ),
        # a plain-text "By ..." line under the headline, with no byline markup
        (
            "",
            "<p class='small'>By CHN,\n in <a href='/news'>News</a> &middot; 3 May 2024</p>",
            ["CHN"],
        ),
        (
            "",
            "<div><span>By Ana Ruiz and Tom Reed</span> | 3 May 2024</div>",
            ["Ana Ruiz", "Tom Reed"],
        ),
        # job title alone, placeholders: no credit
        ("<meta name='author' content='Staff Writer'>", "", []),
        ("<meta name='author' content='admin'>", "", []),
    ],
)
def test_authors_are_the_byline_as_credited(head, byline, authors):
    html = page(byline + paras(range(5)), head=SITE + head)
    assert extract_article(html, "https://coast.example/a").authors == authors


def test_by_in_body_text_is_not_a_byline():
    body = "<p>By 2030, the province hopes to double traffic.</p><p>By then everyone will know.</p>"
    art = extract_article(page(body + paras(range(5))), "https://coast.example/a")
    assert art.authors == []


def _titles(og=None, tw=None, ld=None, h1="Bridge to open next spring"):
    head = SITE
    if og:
        head += f"<meta property='og:title' content=\"{og}\">"
    if tw:
        head += f"<meta name='twitter:title' content=\"{tw}\">"
    if ld:
        head += _ld({"headline": ld})
    return page(paras(range(5)), head=head, title=h1)


def test_live_label_loses_to_plain_headline():
    html = _titles(
        og="Bridge protest blocks harbour road",
        ld="Bridge LIVE: protest blocks harbour road as police arrive",
        h1="Bridge LIVE: protest blocks harbour road as police arrive",
    )
    assert extract_article(html, "https://coast.example/a").title == (
        "Bridge protest blocks harbour road"
    )


def test_headline_extended_with_seo_words_loses_to_the_short_one_two_sources_give():
    long = "Bridge to open next spring, two years late after costs soared"
    html = _titles(
        og="Bridge to open next spring", tw="Bridge to open next spring", ld=long, h1=long
    )
    assert extract_article(html, "https://coast.example/a").title == "Bridge to open next spring"
    # a truncated social title is not a headline of its own
    cut = "Bridge to open next spring, two years..."
    html = _titles(og=cut, tw=cut, ld=long, h1=long)
    assert extract_article(html, "https://coast.example/a").title == long
    # one source only: the vote decides as before (h1 + JSON-LD agree)
    html = _titles(og="Bridge to open next spring", ld=long, h1=long)
    assert extract_article(html, "https://coast.example/a").title == long


def test_registry_title_source_hint(tmp_path, monkeypatch):
    registry = tmp_path / "outlets.toml"
    entry = (
        "[outlets.coast]\nname = 'Coast Herald'\ndomains = ['coast.example']\ncountry = 'us'\n"
        "language = 'en'\narticle_allow = ['^https://coast\\\\.example/']\n"
    )
    registry.write_text(entry + "title_source = 'jsonld'\n", encoding="utf-8")
    monkeypatch.setenv("NEWSARCHIVE_REGISTRY", str(registry))
    social = "Bridge opening delayed again as costs rise"
    html = _titles(og=social, tw=social, ld="Bridge to open next spring", h1=social)
    assert extract_article(html, "https://coast.example/a").title == "Bridge to open next spring"
    assert extract_article(html, "https://elsewhere.example/a").title == social
    # the hinted source absent: the generic vote
    html = _titles(og=social, tw=social, h1=social)
    assert extract_article(html, "https://coast.example/a").title == social


def test_registry_rejects_unknown_title_source():
    from newsarchive.registry import RegistryError, parse_registry

    entry = (
        "[outlets.coast]\nname = 'Coast Herald'\ndomains = ['coast.example']\ncountry = 'us'\n"
        "language = 'en'\narticle_allow = ['^https://coast\\\\.example/']\n"
    )
    assert parse_registry(entry + "title_source = 'og'\n")["coast"].title_source == "og"
    assert parse_registry(entry)["coast"].title_source is None
    with pytest.raises(RegistryError, match="title_source"):
        parse_registry(entry + "title_source = 'headline'\n")
