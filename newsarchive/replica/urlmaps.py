"""Per-outlet URL templates and page families for the replica.

Each outlet gets an article URL shape that matches its registry ``article_allow`` regex (a
test checks every generated URL with ``Outlet.is_article_url``), the markup family its real
pages resemble, and its sitemap naming style. Unknown outlets (a registry entry added later)
fall back to a generic shape built from the first allow pattern's host.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class Style:
    url: str  # str.format template; fields: host, sec, slug, id, Y, m, d, mon, m1, hex, uuid, b36
    family: str  # markup family, see markup.py
    sections: tuple[str, ...] = ("news", "world", "politics", "business")
    deny: str = ""  # template of a URL matching article_deny ("excluded" kind)
    sitemap_names: str = "dated"  # "dated" (sitemap-articles-YYYY-N.xml) or "yoast"
    atom: bool = False  # feeds are Atom instead of RSS 2.0
    currency: str = "$"


STYLES: dict[str, Style] = {
    "nypost": Style(
        "https://{host}/{Y}/{m}/{d}/{slug}/",
        "nypost",
        ("news", "us-news", "world-news", "business"),
        sitemap_names="yoast",
    ),
    "mirror": Style(
        "https://{host}/{sec}/{sec2}/{slug}-{id}", "reach", ("news", "sport", "money"), currency="£"
    ),
    "bolnews": Style(
        "https://{host}/{sec}/{Y}/{m}/{slug}/",
        "wpclassic",
        ("international", "pakistan", "business"),
        sitemap_names="yoast",
    ),
    "dailymail": Style(
        "https://{host}/{sec}/article-{id}/{Slug}.html",
        "dailymail",
        ("news", "sciencetech", "money"),
        currency="£",
    ),
    "thesun": Style(
        "https://{host}/{sec}/{id}/{slug}/",
        "wpcredit",
        ("news", "money", "tech"),
        deny="https://{host}/sun-bingo/{id}/{slug}/",
        sitemap_names="yoast",
        currency="£",
    ),
    "express": Style(
        "https://{host}/{sec}/{sec2}/{id}/{slug}",
        "reach",
        ("news", "finance", "life-style"),
        currency="£",
    ),
    "dailystar": Style(
        "https://{host}/{sec}/{sec2}/{slug}-{id}",
        "reach",
        ("news", "latest-news", "world-news"),
        currency="£",
    ),
    "metro": Style(
        "https://{host}/{Y}/{m}/{d}/{slug}-{id}/",
        "wpclassic",
        ("news", "trending"),
        sitemap_names="yoast",
        currency="£",
    ),
    "standard": Style(
        "https://{host}/news/{sec}/{slug}-b{id}.html",
        "indy",
        ("london", "politics", "world"),
        currency="£",
    ),
    "inews": Style(
        "https://{host}/news/{sec}/{slug}-{id}",
        "wpcredit",
        ("politics", "world", "health"),
        currency="£",
    ),
    "independent": Style(
        "https://{host}/news/{sec}/{slug}-b{id}.html",
        "indy",
        ("uk", "world", "business"),
        currency="£",
    ),
    "guardian": Style(
        "https://{host}/{sec}/{Y}/{mon}/{d}/{slug}",
        "guardian",
        ("world", "uk-news", "business", "environment"),
        currency="£",
    ),
    "telegraph": Style(
        "https://{host}/{sec}/{Y}/{m}/{d}/{slug}/",
        "guardian",
        ("news", "world-news", "politics"),
        currency="£",
    ),
    "bbc": Style(
        "https://{host}/news/articles/{b36}",
        "bbc",
        ("world", "uk", "business"),
        deny="https://{host}/news/live/{b36}",
        currency="£",
    ),
    "foxnews": Style(
        "https://{host}/{sec}/{slug}",
        "fox",
        ("world", "us", "politics", "media"),
        deny="https://{host}/video/{id}",
    ),
    "apnews": Style(
        "https://{host}/article/{slug}-{hex}", "arc", ("world-news", "us-news", "business")
    ),
    "reuters": Style(
        "https://{host}/world/{sec}/{slug}-{Y}-{m}-{d}/",
        "arc",
        ("europe", "americas", "asia-pacific"),
    ),
    "cnbc": Style("https://{host}/{Y}/{m}/{d}/{slug}.html", "fox", ("markets", "economy", "tech")),
    "businessinsider": Style("https://{host}/{slug}-{Y}-{m1}", "arc", ("news", "tech", "finance")),
    "latimes": Style(
        "https://{host}/{sec}/story/{Y}-{m}-{d}/{slug}",
        "arc",
        ("california", "world-nation", "business"),
    ),
    "washingtonpost": Style(
        "https://{host}/{sec}/{Y}/{m}/{d}/{slug}/", "arc", ("world", "politics", "business")
    ),
    "dailybeast": Style("https://{host}/{slug}/", "arc", ("politics", "world", "media")),
    "moscowtimes": Style(
        "https://{host}/{Y}/{m}/{d}/{slug}-a{id5}", "slideshow", ("news", "business"), atom=True
    ),
    "firstpost": Style(
        "https://{host}/{sec}/{slug}-{id}.html", "slideshow", ("world", "india", "tech")
    ),
    "euronews": Style(
        "https://{host}/{sec}/{Y}/{m}/{d}/{slug}",
        "guardian",
        ("my-europe", "business", "green"),
        currency="€",
    ),
    "cbc": Style(
        "https://{host}/news/{sec}/{slug}-1.{id7}", "bbc", ("world", "canada", "politics")
    ),
    "nationalpost": Style(
        "https://{host}/news/{sec}/{slug}",
        "wpcredit",
        ("world", "canada", "politics"),
        deny="https://{host}/category/news/{sec}-{id}",
    ),
    "politicoeu": Style(
        "https://{host}/article/{slug}/",
        "wpcredit",
        ("politics", "policy"),
        deny="https://{host}/podcast/{slug}/",
        atom=True,
        currency="€",
    ),
    "techcrunch": Style(
        "https://{host}/{Y}/{m}/{d}/{slug}/",
        "wpclassic",
        ("startups", "ai", "security"),
        sitemap_names="yoast",
    ),
    "ninenews": Style(
        "https://{host}/{sec}/{slug}/{uuid}",
        "slideshow",
        ("national", "world", "politics"),
        atom=True,
    ),
}
DEFAULT_STYLE = Style("https://{host}/{sec}/{Y}/{m}/{d}/{slug}-{id}", "guardian")

# Hosts that serve articles when an outlet has several (feed-only hosts are not article hosts).
ARTICLE_HOST = {"ninenews": "www.9news.com.au", "bbc": "www.bbc.co.uk"}


def style_for(key: str) -> Style:
    return STYLES.get(key, DEFAULT_STYLE)


def url_fields(host: str, sec: str, slug: str, num: int, when: datetime, hexid: str) -> dict:
    return {
        "host": host,
        "sec": sec,
        "sec2": f"{sec}-news" if not sec.endswith("news") else "latest",
        "slug": slug,
        "Slug": "-".join(w.capitalize() for w in slug.split("-")),
        "id": f"{num:08d}",
        "id5": f"{num % 100000:05d}",
        "id7": f"{num % 10_000_000:07d}",
        "Y": f"{when.year:04d}",
        "m": f"{when.month:02d}",
        "d": f"{when.day:02d}",
        "m1": str(when.month),
        "mon": MONTHS[when.month - 1],
        "hex": hexid,
        "uuid": f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:32]}",
        "b36": "c" + hexid[:10].translate(str.maketrans("0123456789", "ghjklmnpqr")) + "o",
    }
