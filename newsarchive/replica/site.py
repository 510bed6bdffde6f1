"""One outlet's synthetic site: which pages exist, their URLs, dates and content.

Pages are numbered: articles ``0..N-1`` (0 the oldest) plus the ones ``publish`` adds, and
a fixed set of non-article "extras" with negative numbers (video, gallery, live, tag, pages
matching ``article_deny``, and on one outlet the extractor's detection fixtures). Content is
generated on demand from ``(seed, outlet, number, revision)``; only cheap metadata and the
URL index of an outlet (built on first use) are kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from newsarchive.registry import Outlet
from newsarchive.replica.text import TextGen, slugify
from newsarchive.replica.urlmaps import ARTICLE_HOST, style_for, url_fields

WINDOW = timedelta(days=3)
NEWS_WINDOW = timedelta(days=2)
FEED_SIZE = 30
NEWS_LIMIT = 1000  # Google News sitemaps list at most 1000 URLs
SECTION_SIZE = 40
DETECTION_OUTLET = "dailymail"
BROKEN_FEEDS = {"https://metro.co.uk/feed/"}  # served as an HTML page (robustness tests)

# Extras: (kind, path template); {slug} is derived from the extra's title.
EXTRAS = (
    ("video", "/video/{slug}"),
    ("video", "/videos/{slug}"),
    ("gallery", "/gallery/{slug}"),
    ("live", "/live/{slug}"),
    ("tag", "/tag/{slug}/"),
    ("tag", "/tags/{slug}/"),
)
DETECTION = ("challenge", "paywall", "empty")


@dataclass
class ArticleTruth:
    """What the replica knows about one page (the ground truth tests compare against)."""

    url: str
    title: str
    subtitle: str
    authors: list[str]
    published: str
    modified: str
    section: str
    tags: list[str]
    paragraphs: list[str]
    captions: list[str]
    credits: list[str]
    kind: str
    in_window: bool
    discovered_in: set[str] = field(default_factory=set)
    number: int = 0
    revision: int = 0
    figures: list[tuple[str, str, int]] = field(default_factory=list, repr=False)
    subheads: list[int] = field(default_factory=list, repr=False)
    bullets: list[str] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


class Site:
    """The synthetic site of one outlet."""

    def __init__(self, outlet: Outlet, seed: int, count: int, now: datetime):
        self.outlet = outlet
        self.key = outlet.key
        self.seed = seed
        self.count = count
        self.now = now
        self.style = style_for(outlet.key)
        self.gen = TextGen(seed, outlet.key, self.style.currency)
        self.host = ARTICLE_HOST.get(outlet.key, outlet.domains[0])
        self.published_extra: dict[int, datetime] = {}  # number -> published, from publish()
        self.revisions: dict[int, tuple[int, datetime]] = {}  # number -> (revision, modified)
        self._half = max(1, (count + 1) // 2)
        self._cache: dict[tuple[int, int], ArticleTruth] = {}
        self._index: dict[str, int] | None = None
        # number -> a cross-outlet story article served there (replica/stories.py)
        self.stories: dict = {}

    # ---- numbering and dates -------------------------------------------------------------
    @property
    def total(self) -> int:
        return self.count + len(self.published_extra)

    @cached_property
    def extra_numbers(self) -> list[int]:
        n = len(EXTRAS) + (1 if self.style.deny else 0)
        n += len(DETECTION) if self.key == DETECTION_OUTLET else 0
        return [-(i + 1) for i in range(n)]

    def kind(self, num: int) -> str:
        if num >= 0:
            return "article"
        i = -num - 1
        if i < len(EXTRAS):
            return EXTRAS[i][0]
        if self.style.deny and i == len(EXTRAS):
            return "excluded"
        return DETECTION[i - len(EXTRAS) - (1 if self.style.deny else 0)]

    def _jitter(self, num: int, span: int) -> int:
        h = hashlib.blake2b(f"{self.seed}:{self.key}:{num}".encode(), digest_size=4).digest()
        return int.from_bytes(h, "big") % span

    def published(self, num: int) -> datetime:
        if num in self.published_extra:
            return self.published_extra[num]
        if num < 0:
            return self.now - timedelta(hours=2 + 3 * (-num), minutes=self._jitter(num, 50))
        rank = self.count - 1 - num  # 0 = newest
        if rank < self._half:
            minutes = (rank + 0.5) * 70 * 60 / self._half
        else:
            old = self.count - self._half
            minutes = 80 * 60 + (rank - self._half) * max(60.0, 365 * 24 * 60 / old)
        # Strictly decreasing with the rank, so number order is publication order.
        return self.now - timedelta(seconds=int(minutes * 60) + 17)

    def modified(self, num: int) -> datetime:
        if num in self.revisions:
            return self.revisions[num][1]
        pub = self.published(num)
        return min(pub + timedelta(minutes=5 + self._jitter(num + 7, 90)), max(pub, self.now))

    def revision(self, num: int) -> int:
        return self.revisions.get(num, (0, None))[0]

    def in_window(self, num: int) -> bool:
        return self.now - self.published(num) <= WINDOW

    def numbers(self) -> list[int]:
        """Every page number, oldest article first, extras last."""
        return list(range(self.total)) + self.extra_numbers

    def articles_newest_first(self) -> list[int]:
        return sorted(range(self.total), key=lambda n: (self.published(n), n), reverse=True)

    def newest(self, limit: int) -> list[int]:
        # Articles are numbered in publication order, so the newest are the highest numbers.
        return list(range(self.total - 1, max(-1, self.total - 1 - limit), -1))

    # ---- URLs ----------------------------------------------------------------------------
    def hexid(self, num: int) -> str:
        return hashlib.md5(f"{self.seed}:{self.key}:{num}".encode()).hexdigest()

    def title(self, num: int) -> str:
        if num in self.stories:
            return self.stories[num].title
        if num >= 0:
            return self.gen.title(num)
        kind = self.kind(num)
        base = self.gen.title(10_000_000 + (-num))
        return {
            "video": f"Video: {base}",
            "gallery": f"In pictures: {base}",
            "live": f"Live: {base}",
            "tag": base.split(" ")[0] + f" topic {-num}",
        }.get(kind, base)

    def section(self, num: int) -> str:
        secs = self.style.sections
        return secs[(num if num >= 0 else -num) % len(secs)]

    def url(self, num: int) -> str:
        slug = slugify(self.title(num))
        kind = self.kind(num)
        fields = url_fields(
            self.host,
            self.section(num),
            slug,
            30_000_000 + num * 7 + 3,
            self.published(num),
            self.hexid(num),
        )
        if kind in ("article",) + DETECTION:
            if kind != "article":
                fields["id"] = f"{90_000_000 + (-num):08d}"
            return self.style.url.format(**fields)
        if kind == "excluded":
            fields["id"] = f"{80_000_000 + (-num):08d}"
            return self.style.deny.format(**fields)
        path = EXTRAS[-num - 1][1].format(slug=slug)
        return f"https://{self.host}{path}"

    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {self.url(n): n for n in self.numbers()}
        return self._index

    def lookup(self, url: str) -> int | None:
        return self.index().get(url)

    def _add_to_index(self, num: int) -> None:
        if self._index is not None:
            self._index[self.url(num)] = num

    # ---- changes between crawls ------------------------------------------------------------
    def publish(self, n: int, when: datetime) -> list[int]:
        nums = []
        for _ in range(n):
            num = self.total
            self.published_extra[num] = when
            self._add_to_index(num)
            nums.append(num)
        return nums

    # ---- discovery membership --------------------------------------------------------------
    def in_news_sitemap(self, num: int) -> bool:
        kind = self.kind(num)
        if not self.outlet.news_sitemaps or kind not in ("article", "live", "excluded"):
            return False
        if num >= 0 and self.total - 1 - num >= NEWS_LIMIT:
            return False
        return self.now - self.published(num) <= NEWS_WINDOW

    def feed_items(self, feed_index: int) -> list[int]:
        nfeeds = max(1, len(self.outlet.feeds))
        top = self.total - 1
        start = top - ((top - feed_index) % nfeeds)
        picks = list(range(start, -1, -nfeeds)[:FEED_SIZE])
        if feed_index == 0 and self.style.deny:
            picks.append(self.extra_numbers[len(EXTRAS)])
        return picks

    def section_items(self, section_index: int) -> list[int]:
        picks = [
            n
            for n in self.newest(SECTION_SIZE * 2)
            if n % len(self.outlet.sections) == section_index
        ]
        return picks[:SECTION_SIZE] + self.extra_numbers

    # ---- content ---------------------------------------------------------------------------
    def truth(self, num: int) -> ArticleTruth:
        rev = self.revision(num)
        cached = self._cache.get((num, rev))
        if cached is not None:
            return cached
        truth = self._build(num, rev)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[(num, rev)] = truth
        return truth

    def _build(self, num: int, rev: int) -> ArticleTruth:
        gen = self.gen
        rnd = gen.rng(num, rev)
        meta = gen.rng(num, "meta")
        kind = self.kind(num)
        authors = [gen.person(meta) for _ in range(meta.randint(1, 2))]
        tags = sorted(
            {
                slugify(w).replace("-", " ")
                for w in meta.sample(
                    (
                        "transport",
                        "housing",
                        "energy",
                        "health",
                        "economy",
                        "climate",
                        "education",
                        "courts",
                        "elections",
                        "weather",
                        "sport",
                        "science",
                    ),
                    3,
                )
            }
        )
        paragraphs: list[str] = []
        subheads: list[int] = []
        figures: list[tuple[str, str, int]] = []
        bullets: list[str] = []
        used: set[str] = set()
        n_par = rnd.randint(14, 26)  # real articles run to 800 words or so
        if kind in ("video", "tag", "live", "gallery"):
            n_par = 2
        elif kind == "paywall":
            n_par = 2
        elif kind in ("challenge", "empty"):
            n_par = 0
        for i in range(n_par):
            if (
                kind == "article"
                and i in (3, 6, 11, 17)
                and i < n_par - 1
                and (i == 3 or rnd.random() < 0.6)
            ):
                subheads.append(len(paragraphs))
                paragraphs.append(gen.subhead(rnd))
            paragraphs.append(gen.paragraph(rnd, used))
        n_fig = {"article": rnd.randint(2, 4), "gallery": 4, "paywall": 1}.get(kind, 0)
        for _ in range(n_fig):
            # figure placed before paragraph index `at` (0 = lead image above the body)
            at = 0 if not figures else rnd.randint(1, max(1, len(paragraphs) - 1))
            # Captions and credits are distinct within a page, so "exactly these strings"
            # needs no multiset semantics.
            cap, cred = gen.caption(rnd), gen.credit(rnd)
            for _ in range(20):
                if cap not in [f[0] for f in figures]:
                    break
                cap = gen.caption(rnd)
            for _ in range(20):
                if cred not in [f[1] for f in figures]:
                    break
                cred = gen.credit(rnd)
            figures.append((cap, cred, at))
        figures.sort(key=lambda f: f[2])
        if kind == "article" and meta.random() < 0.5:
            bullets = [gen.short(meta) for _ in range(3)]
        title = self.title(num)
        story = self.stories.get(num)
        if story is not None:  # same-story text across outlets, with ground truth
            paragraphs = story.text.split("\n")
            if rev:  # an outlet that updates its copy adds a paragraph to it
                paragraphs.append(gen.paragraph(rnd, used))
            subheads, bullets = [], []
            figures = figures[:1]
        return ArticleTruth(
            url=self.url(num),
            title=title,
            subtitle=gen.short(meta),
            authors=authors,
            published=iso(self.published(num)),
            modified=iso(self.modified(num)),
            section=self.section(num),
            tags=tags,
            paragraphs=paragraphs,
            captions=[f[0] for f in figures],
            credits=[f[1] for f in figures],
            kind=kind,
            in_window=self.in_window(num),
            discovered_in=self.discovered_in(num),
            number=num,
            revision=rev,
            figures=figures,
            subheads=subheads,
            bullets=bullets,
        )

    def discovered_in(self, num: int) -> set[str]:
        found = set()
        if self.in_news_sitemap(num):
            found.add("news_sitemap")
        if self.outlet.sitemaps and self.kind(num) in (
            "article",
            "video",
            "tag",
            "gallery",
            "live",
            "excluded",
        ):
            found.add("sitemap")
        for i, feed in enumerate(self.outlet.feeds):
            if feed not in BROKEN_FEEDS and num in self.feed_items(i):
                found.add("feed")
        if self.outlet.sections and any(
            num in self.section_items(i) for i in range(len(self.outlet.sections))
        ):
            found.add("section")
        return found
