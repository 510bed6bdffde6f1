"""Discovery against the replica: exact article sets, window, canonicalisation, robots,
Crawl-delay, Retry-After and broken sources."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from crawling import run_crawl

from newsarchive.registry import load_outlets, outlet_for_url
from newsarchive.urls import canonicalize_url, primary_host_map

OUTLETS = load_outlets()
HOSTS = primary_host_map({k: o.domains for k, o in OUTLETS.items()})

replica_mod = pytest.importorskip("newsarchive.replica")


@pytest.fixture(scope="module")
def site():
    r = replica_mod.Replica(seed=7, articles_per_outlet=30, crawl_delay={"nypost": 1.0})
    r.start()
    yield r
    r.stop()


def fetched_pages(replica, outlet_key: str) -> list[str]:
    """Canonical URLs of the pages of an outlet that the crawl fetched with status 200."""
    outlet = OUTLETS[outlet_key]
    return [
        canonicalize_url(s.url, HOSTS)
        for s in replica.sent
        if s.method == "GET" and s.status == 200 and outlet.owns(s.url)
    ]


@pytest.mark.parametrize(
    "outlet_key, sources",
    [
        ("guardian", {"news_sitemap"}),  # news sitemap only
        ("mirror", {"sitemap", "news_sitemap"}),  # sitemap index with filters (+ news sitemap)
        ("cbc", {"feed"}),  # RSS only
    ],
)
def test_finds_exactly_the_articles_in_window(site, tmp_path, outlet_key, sources):
    before = len(site.sent)
    run_crawl(tmp_path, site, [outlet_key], "NEWSARCHIVE_SEEN=false")
    outlet = OUTLETS[outlet_key]
    truth = site.truth(outlet_key)
    by_url = {t.url: t for t in truth}
    fetched = [
        canonicalize_url(s.url, HOSTS)
        for s in site.sent[before:]
        if s.method == "GET" and outlet.owns(s.url)
    ]
    article_fetches = [u for u in fetched if u in by_url]
    expected = {
        t.url
        for t in truth
        if t.kind == "article"
        and t.in_window
        and t.discovered_in & {"news_sitemap", "sitemap", "feed"}
    }
    assert expected, "the replica must have in-window articles for this outlet"
    assert set(article_fetches) >= expected
    assert len(article_fetches) == len(set(article_fetches)), "an article was fetched twice"
    extra = set(article_fetches) - expected
    assert not extra, f"fetched outside the window or excluded: {sorted(extra)[:5]}"
    for t in truth:
        if t.url in article_fetches:
            assert t.in_window and t.kind == "article"


def test_disallowed_never_fetched_and_crawl_delay_holds(site, tmp_path):
    before = len(site.sent)
    run_crawl(
        tmp_path,
        site,
        ["nypost"],
        "NEWSARCHIVE_SEEN=false",
        "NEWSARCHIVE_SECTIONS=always",
        "NEWSARCHIVE_MAX_ARTICLES=5",
    )
    sent = [s for s in site.sent[before:] if urlsplit(s.url).hostname == "nypost.com"]
    robots = next(s for s in sent if urlsplit(s.url).path == "/robots.txt")
    disallowed = re.findall(r"(?im)^disallow:\s*(\S+)", robots.body.decode())
    assert disallowed, "the replica's robots.txt must disallow something"
    for s in sent:
        path = urlsplit(s.url).path
        assert not any(path.startswith(d) for d in disallowed), f"fetched disallowed {s.url}"
    times = [s.time for s in sent]
    assert len(times) >= 4
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # The first request's arrival is late by its tunnel's CONNECT and TLS set-up (the delay
    # runs from when it was sent), so on a loaded machine the first gap reads shorter.
    assert min(gaps[1:]) >= 0.9 and gaps[0] >= 0.6, f"Crawl-delay 1 s not held: gaps {gaps}"


def test_broken_sources_are_recorded_and_crawl_goes_on(site, tmp_path):
    cases = site.edge_cases
    keys = ("malformed_sitemap", "feed_as_html", "sitemap_404", "sitemap_gz")
    outlets = sorted({outlet_for_url(cases[k]).key for k in keys})
    stats = run_crawl(tmp_path, site, outlets, "NEWSARCHIVE_SEEN=false")
    errors: dict[str, int] = {}
    for o in stats["outlets"].values():
        for k, v in o["errors"].items():
            errors[k] = errors.get(k, 0) + v
    assert errors.get("sitemap_malformed"), errors
    assert errors.get("feed_html_not_xml"), errors
    assert errors.get("http_404"), errors
    gz = [s for s in site.sent if s.url == cases["sitemap_gz"] and s.status == 200]
    assert gz, "the .xml.gz sitemap was not fetched"
    assert all(o["articles"] > 0 for o in stats["outlets"].values()), stats["outlets"]
    assert stats["ok"]


def test_retry_after_is_honoured(tmp_path):
    site = replica_mod.Replica(seed=3, articles_per_outlet=12)
    site.start()
    try:
        url = site.edge_cases["retry_after"]
        run_crawl(tmp_path, site, [outlet_for_url(url).key], "NEWSARCHIVE_SEEN=false")
    finally:
        site.stop()
    hits = [s for s in site.sent if s.url == url]
    assert [h.status for h in hits[:2]] == [429, 200], [h.status for h in hits]
    assert hits[1].time - hits[0].time >= 0.95
