"""HTML for the replica's pages, in the markup families real outlets use.

A family decides the body container, paragraph and subheading tags, how photos carry their
caption and credit (``<figure>/<figcaption>`` with a credit span, WordPress ``wp-caption``,
Daily Mail's ``p.imageCaption``, Fox-style caption divs, slideshows) and which chrome sits
in and around the body (read-more teasers, newsletter promos, ad slots, highlight bullets).
The ground truth (:class:`ArticleTruth`) lists exactly the body paragraphs, captions and
credits that end up on the page.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape

from newsarchive.replica.site import DETECTION, ArticleTruth, Site

E = escape

BODY = {
    "nypost": ('<div class="single__content entry-content m-bottom">', "p", "h2"),
    "reach": ('<div class="article-body" itemprop="articleBody">', "p", "h3"),
    "wpclassic": ('<div class="entry-content">', "p", "h2"),
    "dailymail": ('<div itemprop="articleBody">', 'p class="mol-para-with-font"', "h2"),
    "wpcredit": ('<div class="article-content">', "p", "h2"),
    "indy": ('<div id="main" class="article-body">', "p", "h2"),
    "guardian": ('<div class="article-body-commercial-selector">', 'p class="dcr-para"', "h2"),
    "bbc": ("<main><article>", "p", "h2"),
    "fox": ('<div class="article-body">', "p", "h2"),
    "arc": ('<div class="article-body" data-testid="article-body">', "p", "h2"),
    "slideshow": ('<div class="article-content">', "p", "h3"),
}


def _close(opener: str) -> str:
    return "</article></main>" if opener.startswith("<main>") else "</div>"


def asset_host(site: Site) -> str:
    """The host serving the outlet's images and stylesheets: its first CDN host, if any."""
    return site.outlet.cdn_hosts[0] if site.outlet.cdn_hosts else site.host


def img(site: Site, t: ArticleTruth, i: int) -> str:
    return f"https://{asset_host(site)}/img/{site.hexid(t.number)[:12]}-{i}.png"


SRCSET_FAMILIES = ("guardian", "bbc", "indy", "arc")


def requisite_links(site: Site) -> str:
    """Stylesheets (one on the CDN when the outlet has one) and a deferred script."""
    host = asset_host(site)
    links = f'<link rel="stylesheet" href="https://{site.host}/static/site.css">'
    if host != site.host:
        links += f'<link rel="stylesheet" href="https://{host}/static/{site.key}-article.css">'
    return links + f'<script src="https://{host}/static/{site.key}.js" defer></script>'


def figure(family: str, src: str, caption: str, credit: str) -> str:
    srcset = f' srcset="{src}?w=480 480w, {src}?w=960 960w"' if family in SRCSET_FAMILIES else ""
    c, k = E(caption), E(credit)
    im = f'<img src="{src}"{srcset} alt="" width="960" height="540">'
    if family == "nypost":
        return (
            f'<figure class="wp-block-image size-large">{im}<figcaption class="wp-element-caption">'
            f'<span class="caption">{c}</span> <span class="credit">{k}</span></figcaption></figure>'
        )
    if family == "reach":
        return (
            f'<figure class="in-article-image">{im}<figcaption><span class="caption">{c}</span>'
            f'<span class="credit">{k}</span></figcaption></figure>'
        )
    if family == "wpclassic":
        return (
            f'<div class="wp-caption aligncenter">{im}<p class="wp-caption-text">{c}</p>'
            f'<span class="photo-credit">{k}</span></div>'
        )
    if family == "dailymail":
        return (
            f'<div class="artSplitter mol-img-group">{im}<p class="imageCaption">{c}</p>'
            f'<span class="photo-credit">{k}</span></div>'
        )
    if family == "fox":
        return (
            f'<div class="image-ct inline">{im}<div class="caption"><p>{c} '
            f'<span class="copyright">{k}</span></p></div></div>'
        )
    if family == "slideshow":
        return (
            f'<div class="slideshow"><div class="slide">{im}<div class="slide-caption">{c} '
            f'<span class="slide-credit">{k}</span></div></div></div>'
        )
    if family == "bbc":
        return (
            f'<figure>{im}<span class="image-credit">{k}</span>'
            f"<figcaption>{c}</figcaption></figure>"
        )
    return (
        f'<figure class="element-image">{im}<figcaption>{c} <span class="credit">{k}</span>'
        "</figcaption></figure>"
    )


def teaser(family: str, href: str, title: str) -> str:
    if family == "reach":
        return (
            f'<aside class="read-more-links"><span class="read-more-links__text">Read More</span>'
            f'<a href="{E(href)}">{E(title)}</a></aside>'
        )
    if family == "dailymail":
        return f'<div class="art-ins mol-factbox"><a href="{E(href)}">RELATED: {E(title)}</a></div>'
    if family == "wpclassic":
        return f'<p class="more-link"><strong>MORE:</strong> <a href="{E(href)}">{E(title)}</a></p>'
    return f'<div class="read-more"><a href="{E(href)}">Read more: {E(title)}</a></div>'


PROMO = (
    '<aside class="newsletter-promo"><h3>Get the morning briefing</h3><p>Our editors pick the '
    'stories that matter, every weekday.</p><form action="/private/newsletter"><input '
    'type="email" name="email"><button>Subscribe</button></form></aside>'
)


def chrome_head(site: Site, t: ArticleTruth, extra: str = "") -> str:
    charset = "windows-1252" if site.key == "standard" else "utf-8"
    img0 = img(site, t, 0)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="{charset}">'
        f"<title>{E(t.title)} | {E(site.outlet.name)}</title>"
        f'<link rel="canonical" href="{E(t.url)}">'
        f'<meta property="og:title" content="{E(t.title)}">'
        f'<meta property="og:url" content="{E(t.url)}">'
        f'<meta property="og:type" content="article">'
        f'<meta property="og:image" content="{img0}">'
        f'<meta property="og:site_name" content="{E(site.outlet.name)}">'
        f'<meta name="description" content="{E(t.subtitle)}">'
        f'<meta property="article:published_time" content="{t.published}">'
        f'<meta property="article:modified_time" content="{t.modified}">'
        f'<meta name="author" content="{E(", ".join(t.authors))}">{requisite_links(site)}{extra}'
        f"{page_state(t.url)}</head>\n<body>" + nav(site)
    )


def page_state(url: str, size: int = 24_000) -> str:
    """An inline app-state script, as real outlets ship, so pages weigh what real ones do.

    Real article pages are 100-500 kB, mostly scripts and state that compress poorly; without
    that weight the fixed cost of request/metadata records would dominate WARC size figures.
    """
    blob = base64.b64encode(hashlib.shake_256(url.encode()).digest(size)).decode()
    return f'<script>window.__APP_STATE__={{"v":1,"cfg":"{blob}"}};</script>'


MENU_TOPICS = (
    "latest",
    "politics",
    "crime",
    "courts",
    "health",
    "schools",
    "transport",
    "housing",
    "weather",
    "environment",
    "energy",
    "jobs",
    "property",
    "markets",
    "tech",
    "science",
    "travel",
    "food",
    "family",
    "money",
    "cars",
    "football",
    "cricket",
    "tennis",
    "opinion",
)
_NAV_CACHE: dict[str, str] = {}


def nav(site: Site) -> str:
    """The site header with a mega menu: real outlets ship hundreds of menu links per page,
    which is much of what an extractor has to wade through."""
    if site.key not in _NAV_CACHE:
        items = []
        for sec in site.style.sections:
            sub = "".join(
                f'<li class="menu-item"><a href="/{sec}/{topic}/">{E(topic.title())}</a></li>'
                for topic in MENU_TOPICS
            )
            items.append(
                f'<li class="menu-item has-children"><a href="/{sec}/">'
                f'{E(sec.replace("-", " ").title())}</a><ul class="sub-menu">{sub}</ul></li>'
            )
        _NAV_CACHE[site.key] = (
            f'<header class="site-header"><a class="logo" href="/">{E(site.outlet.name)}</a>'
            f'<nav class="main-nav" aria-label="Sections"><ul class="menu">{"".join(items)}'
            '<li><a href="/search/?q=news">Search</a></li></ul></nav></header>\n'
        )
    return _NAV_CACHE[site.key]


FOOTER = (
    '\n<footer class="site-footer"><div class="footer-links"><ul>'
    + "".join(
        f'<li><a href="/about/{a}-{b}/">{a.title()} {b}</a></li>'
        for a in ("contact", "advertise", "careers", "terms", "privacy", "help")
        for b in MENU_TOPICS
    )
    + '</ul></div><a href="/private/account">My account</a> '
    '<a href="/about/">About us</a> <p>Synthetic replica page for offline tests.</p>'
    "</footer></body></html>\n"
)


def json_ld(site: Site, t: ArticleTruth, with_body: bool) -> str:
    kind = {"live": "LiveBlogPosting", "video": "VideoObject", "gallery": "ImageGallery"}
    data = {
        "@context": "https://schema.org",
        "@type": kind.get(t.kind, "NewsArticle"),
        "headline": t.title,
        "description": t.subtitle,
        "url": t.url,
        "mainEntityOfPage": t.url,
        "datePublished": t.published,
        "dateModified": t.modified,
        "author": [{"@type": "Person", "name": a} for a in t.authors],
        "articleSection": t.section,
        "keywords": t.tags,
        "image": [img(site, t, i) for i in range(max(1, len(t.figures)))],
        "publisher": {"@type": "Organization", "name": site.outlet.name},
    }
    if t.kind == "paywall":
        data["isAccessibleForFree"] = False
        data["hasPart"] = {
            "@type": "WebPageElement",
            "isAccessibleForFree": False,
            "cssSelector": ".paywall",
        }
    if with_body:
        data["articleBody"] = "\n\n".join(t.paragraphs)
    # A legacy-charset page gets \u escapes: character references are not decoded in <script>.
    text = json.dumps(data, ensure_ascii=site.key == "standard").replace("</", "<\\/")
    return f'<script type="application/ld+json">{text}</script>'


def byline(family: str, t: ArticleTruth) -> str:
    names = " and ".join(
        f'<a rel="author" href="/author/{a.lower().replace(" ", "-")}/">{E(a)}</a>'
        for a in t.authors
    )
    return (
        f'<div class="byline">By {names} <time datetime="{t.published}" class="published">'
        f"{t.published[:10]} {t.published[11:16]} UTC</time>"
        f'<span class="updated">Updated <time datetime="{t.modified}">{t.modified[:10]}'
        "</time></span></div>"
    )


def render_page(site: Site, t: ArticleTruth) -> str:
    """The HTML of one page (str; the caller encodes it)."""
    if t.kind == "challenge":
        return challenge_page(site)
    if t.kind == "tag":
        return tag_page(site, t)
    family = site.style.family
    with_body = family in ("arc", "bbc") and t.kind == "article"
    head = chrome_head(site, t, json_ld(site, t, with_body))
    parts = [
        head,
        f'<div class="article-header"><h1 class="headline">{E(t.title)}</h1>',
        f'<p class="standfirst">{E(t.subtitle)}</p>',
        byline(family, t),
        "</div>",
    ]
    if t.bullets:
        cls = "mol-bullets-with-font" if family == "dailymail" else "article-highlights"
        parts.append(
            f'<ul class="{cls}">' + "".join(f"<li>{E(b)}</li>" for b in t.bullets) + "</ul>"
        )
    if t.kind == "video":
        parts.append(
            f'<div class="video-player" data-video-id="{site.hexid(t.number)[:10]}">'
            f'<video src="https://{site.host}/media/{site.hexid(t.number)[:10]}.mp4" '
            "controls></video></div>"
        )
    opener, ptag, htag = BODY.get(family, BODY["guardian"])
    pname = ptag.split(" ")[0]
    parts.append(opener)
    related = [n for n in (t.number - 1, t.number - 2, t.number - 3) if n >= 0]
    figs = list(enumerate(t.figures))
    if t.kind == "gallery":  # galleries are one slideshow of all their photos
        slides = "".join(
            f'<div class="slide"><img src="{img(site, t, i)}" alt=""><div class="slide-caption">'
            f'{E(cap)} <span class="slide-credit">{E(cred)}</span></div></div>'
            for i, (cap, cred, _) in figs
        )
        parts.append(f'<div class="slideshow gallery">{slides}</div>')
        figs = []
    for i, para in enumerate(t.paragraphs):
        for fi, (cap, cred, at) in figs:
            if at == i:
                parts.append(figure(family, img(site, t, fi), cap, cred))
        wrap_open, wrap_close = "", ""
        if family == "bbc":
            block = "subheadline-block" if i in t.subheads else "text-block"
            wrap_open, wrap_close = f'<div data-component="{block}">', "</div>"
        if i in t.subheads:
            parts.append(f"{wrap_open}<{htag}>{E(para)}</{htag}>{wrap_close}")
        else:
            attrs = f' data-testid="paragraph-{i}"' if family == "arc" else ""
            parts.append(f"{wrap_open}<{ptag}{attrs}>{E(para)}</{pname}>{wrap_close}")
        if t.kind == "article":
            if i == 1 and related:
                parts.append(teaser(family, _rel_link(site, related[0], i), site.title(related[0])))
            if i == 2:
                parts.append(f'<div class="ad-slot" id="ad-inline-{i}" aria-hidden="true"></div>')
            if i == 4:
                parts.append(PROMO)
    if t.kind == "paywall":
        parts.append(
            '<div class="paywall"><p>Subscribe to continue reading.</p>'
            '<a href="/private/subscribe">See offers</a></div>'
        )
    if t.kind == "live":
        parts.append(
            '<div class="live-blog"><p class="live-status">This live coverage has ended.</p></div>'
        )
    parts.append(_close(opener))
    if related and t.kind == "article":
        items = "".join(
            f'<li><a href="{E(site.url(n))}">{E(site.title(n))}</a></li>' for n in related
        )
        parts.append(
            f'<section class="related-stories"><h2>More on this story</h2><ul>{items}</ul></section>'
        )
    if t.kind == "article":
        parts.append(rails(site, t))
    parts.append(FOOTER)
    return "".join(parts)


def rails(site: Site, t: ArticleTruth) -> str:
    """Teaser grids around the article, as real pages carry: "most read" and "more from
    this section" cards with headlines, kickers and times (never part of the article)."""
    earlier = [n for n in range(t.number - 4, max(-1, t.number - 40), -1) if n >= 0]
    if not earlier:
        return ""
    most = "".join(
        f'<li class="most-read__item"><span class="rank">{k + 1}</span>'
        f'<a href="{E(site.url(n))}">{E(site.title(n))}</a></li>'
        for k, n in enumerate(earlier[:10])
    )
    cards = "".join(
        f'<div class="card"><a class="card__link" href="{E(site.url(n))}">'
        f'<img src="{img(site, t, k % 3)}" alt="" loading="lazy">'
        f'<span class="card__kicker">{E(site.style.sections[k % len(site.style.sections)].title())}'
        f'</span><h3 class="card__headline">{E(site.title(n))}</h3></a>'
        f'<time class="card__time">{k + 1} hours ago</time></div>'
        for k, n in enumerate(earlier[10:34])
    )
    return (
        f'<aside class="most-read"><h2>Most read</h2><ol>{most}</ol></aside>'
        f'<section class="more-from-section"><h2>More stories</h2>'
        f'<div class="card-grid">{cards}</div></section>'
    )


def _rel_link(site: Site, num: int, i: int) -> str:
    url = site.url(num)
    return url.split(site.host, 1)[1] if i % 2 else url


def challenge_page(site: Site) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Just a moment...</title>'
        '<meta name="robots" content="noindex,nofollow"></head><body class="no-js">'
        '<div id="challenge-running" class="challenge">Checking your browser before accessing '
        f"{E(site.host)}. This check is automatic; please allow up to five seconds.</div>"
        "<noscript>Please enable JavaScript and cookies to continue.</noscript>"
        '<script>window._chl_opt={mode:"managed"};</script></body></html>\n'
    )


def tag_page(site: Site, t: ArticleTruth) -> str:
    items = "".join(
        f'<li><a href="{E(site.url(n))}">{E(site.title(n))}</a></li>' for n in site.newest(10)
    )
    paras = "".join(f"<p>{E(p)}</p>" for p in t.paragraphs)
    return (
        chrome_head(site, t) + f'<main class="tag-page"><h1>{E(t.title)}</h1>'
        f'<div class="tag-description">{paras}</div><ul class="story-list">{items}</ul></main>'
        + FOOTER
    )


def section_page(site: Site, index: int, url: str) -> str:
    """A section front: links in every form a crawler must canonicalise."""
    links = []
    for j, n in enumerate(site.section_items(index)):
        target = site.url(n)
        path = target.split(site.host, 1)[1]
        kind = site.kind(n)
        if kind in DETECTION or kind != "article":
            href = path
        else:
            href = (
                target,
                path,
                target + "?utm_source=homepage&utm_medium=web",
                path + "#comments",
                _twin(site, target),
            )[j % 5]
        links.append(f'<li class="story"><a href="{E(href)}">{E(site.title(n))}</a></li>')
    links.append('<li><a href="/search/?q=latest">Search the archive</a></li>')
    links.append('<li><a href="/private/saved-stories">Saved stories</a></li>')
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{E(site.outlet.name)}'
        f' - latest</title><link rel="canonical" href="{E(url)}"></head><body>'
        + nav(site)
        + f'<main class="section-front"><ul class="stories">{"".join(links)}</ul></main>'
        + FOOTER
    )


def _twin(site: Site, url: str) -> str:
    host = site.host
    twin = host[4:] if host.startswith("www.") else f"www.{host}"
    return url.replace(f"//{host}/", f"//{twin}/", 1)


def simple_page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{E(title)}</title>'
        f"</head><body><h1>{E(title)}</h1><p>{E(body)}</p></body></html>\n"
    )
