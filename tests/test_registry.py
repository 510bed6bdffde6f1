"""The outlet registry: every entry valid, bad entries fail naming outlet and field."""

import subprocess
import sys

import pytest

from newsarchive.registry import RegistryError, load_outlets, parse_registry

GOOD = """
[outlets.demo]
name = "Demo"
domains = ["www.demo.test", "demo.test"]
country = "uk"
language = "en"
feeds = ["https://www.demo.test/feed/"]
article_allow = ['^https://www\\.demo\\.test/news/[\\w-]+-\\d+$']
"""


def test_registry_has_required_outlets_and_validates():
    outlets = load_outlets()
    assert len(outlets) >= 25
    for key in ("nypost", "mirror", "bolnews"):
        assert key in outlets
    assert "https://nypost.com/news-sitemap.xml" in outlets["nypost"].news_sitemaps
    assert "https://nypost.com/feed/" in outlets["nypost"].feeds
    assert "https://www.bolnews.com/feed/" in outlets["bolnews"].feeds
    for key, o in outlets.items():
        assert o.key == key and o.name and o.domains and o.article_allow
        for url in o.discovery_urls:
            assert o.owns(url), (key, url)


def test_every_outlet_is_a_spider():
    out = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(__import__("pathlib").Path(__file__).parents[1]),
    )
    names = set(out.stdout.split())
    assert set(load_outlets()) <= names
    assert len(names) >= 25


@pytest.mark.parametrize(
    "change, field",
    [
        (('country = "uk"\n', ""), "country"),
        (('feeds = ["https://www.demo.test/feed/"]', "feeds = 3"), "feeds"),
        (("article_allow = ['^https", "article_allow = ['(^https"), "article_allow"),
        (
            ('feeds = ["https://www.demo.test/feed/"]', 'feeds = ["https://elsewhere.test/feed"]'),
            "feeds",
        ),
        (("language", "colour = 1\nlanguage"), "colour"),
        (
            ('domains = ["www.demo.test", "demo.test"]', 'domains = ["https://demo.test/"]'),
            "domains",
        ),
    ],
)
def test_bad_entry_names_outlet_and_field(change, field):
    text = GOOD.replace(*change)
    with pytest.raises(RegistryError) as err:
        parse_registry(text)
    assert "'demo'" in str(err.value) and f"'{field}'" in str(err.value)


def test_good_entry_and_url_rules():
    o = parse_registry(GOOD)["demo"]
    assert o.is_article_url("https://www.demo.test/news/big-story-123")
    assert not o.is_article_url("https://www.demo.test/video/big-story-123")
    assert o.owns("https://demo.test/x") and not o.owns("https://notdemo.test/x")


def test_not_toml_is_a_clear_error():
    with pytest.raises(RegistryError, match="not valid TOML"):
        parse_registry("[outlets.x\n")
