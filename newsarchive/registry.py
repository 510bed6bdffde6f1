"""The outlet registry: declarative outlet entries loaded from ``seeds/outlets.toml``.

Every outlet is data (hosts, discovery sources, URL filters, extraction hints). Spiders,
the replica and the extractor read it; adding an outlet never needs code. A bad entry
fails at load time with a :class:`RegistryError` that names the outlet and the field.
"""

from __future__ import annotations

import atexit
import importlib.resources
import os
import re
import tomllib
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "seeds" / "outlets.toml"
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Where an outlet's display headline is when its headline sources disagree (extract.meta).
TITLE_SOURCES = ("og", "twitter", "jsonld", "h1", "title")


class RegistryError(ValueError):
    """A registry entry is invalid; the message names the outlet and the field."""


@dataclass(frozen=True)
class Outlet:
    key: str
    name: str
    domains: tuple[str, ...]
    country: str
    language: str
    robots_sitemaps: bool = True
    news_sitemaps: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    sitemap_follow: tuple[str, ...] = ()
    sitemap_skip: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    article_allow: tuple[str, ...] = ()
    article_deny: tuple[str, ...] = ()
    non_article: tuple[str, ...] = ()
    prune: tuple[str, ...] = ()
    title_source: str | None = None
    # Hosts serving the outlet's images, stylesheets and scripts (page requisites only).
    cdn_hosts: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    _compiled: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def home(self) -> str:
        return f"https://{self.domains[0]}/"

    @property
    def robots_url(self) -> str:
        return f"https://{self.domains[0]}/robots.txt"

    def _patterns(self, name: str) -> list[re.Pattern]:
        if name not in self._compiled:
            self._compiled[name] = [re.compile(p) for p in getattr(self, name)]
        return self._compiled[name]

    def owns(self, url: str) -> bool:
        return self.owns_host((urlsplit(url).hostname or "").lower())

    def owns_host(self, host: str) -> bool:
        """Whether a (lower-case) host name is one of this outlet's: all :meth:`owns` asks."""
        return any(
            host == d
            or host.endswith("." + d.removeprefix("www."))
            or host == d.removeprefix("www.")
            for d in self.domains
        )

    def is_article_url(self, url: str) -> bool:
        """True when the (canonical) URL is an article of this outlet by its URL alone."""
        if any(p.search(url) for p in self._patterns("article_deny")):
            return False
        if any(p.search(url) for p in self._patterns("non_article")):
            return False
        return any(p.search(url) for p in self._patterns("article_allow"))

    def is_non_article_url(self, url: str) -> bool:
        return any(p.search(url) for p in self._patterns("non_article"))

    def follows_sitemap(self, url: str) -> bool:
        if any(p.search(url) for p in self._patterns("sitemap_skip")):
            return False
        follow = self._patterns("sitemap_follow")
        return not follow or any(p.search(url) for p in follow)

    @property
    def discovery_urls(self) -> tuple[str, ...]:
        return self.news_sitemaps + self.sitemaps + self.feeds + self.sections


_LIST_FIELDS = {f.name for f in fields(Outlet) if f.type.startswith("tuple")}
_REGEX_FIELDS = {"sitemap_follow", "sitemap_skip", "article_allow", "article_deny", "non_article"}
_URL_FIELDS = {"news_sitemaps", "sitemaps", "feeds", "sections"}
_REQUIRED = ("name", "domains", "country", "language", "article_allow")
_KNOWN = {f.name for f in fields(Outlet)} - {"key", "_compiled"}


def _fail(key: str, fld: str, msg: str) -> RegistryError:
    return RegistryError(f"outlet {key!r}, field {fld!r}: {msg}")


def _build(key: str, raw: dict, defaults: dict) -> Outlet:
    if not KEY_RE.match(key):
        raise _fail(key, "key", "must be lowercase letters, digits or _ (it is a spider name)")
    if not isinstance(raw, dict):
        raise _fail(key, "key", "entry must be a table")
    for fld in raw:
        if fld not in _KNOWN:
            raise _fail(key, fld, "unknown field")
    for fld in _REQUIRED:
        if not raw.get(fld):
            raise _fail(key, fld, "required and must not be empty")
    values: dict = {}
    for fld in _KNOWN:
        value = raw.get(fld, defaults.get(fld))
        if value is None:
            continue
        if fld in _LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise _fail(key, fld, "must be a list of non-empty strings")
            value = tuple(value)
        elif fld == "robots_sitemaps":
            if not isinstance(value, bool):
                raise _fail(key, fld, "must be true or false")
        elif not isinstance(value, str) or not value.strip():
            raise _fail(key, fld, "must be a non-empty string")
        values[fld] = value
    for fld in _REGEX_FIELDS & values.keys():
        for pattern in values[fld]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise _fail(key, fld, f"bad regex {pattern!r}: {exc}") from None
    if values.get("title_source", TITLE_SOURCES[0]) not in TITLE_SOURCES:
        raise _fail(key, "title_source", f"must be one of {', '.join(TITLE_SOURCES)}")
    for fld in ("domains", "cdn_hosts"):
        for d in values.get(fld, ()):
            if "/" in d or ":" in d or d != d.lower():
                raise _fail(key, fld, f"{d!r} must be a bare lowercase host name")
    outlet = Outlet(key=key, **values)
    for fld in _URL_FIELDS & values.keys():
        for url in values[fld]:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise _fail(key, fld, f"{url!r} is not an absolute http(s) URL")
            if not outlet.owns(url):
                raise _fail(key, fld, f"{url!r} is outside the outlet's domains")
    if not (
        outlet.news_sitemaps
        or outlet.sitemaps
        or outlet.feeds
        or outlet.sections
        or outlet.robots_sitemaps
    ):
        raise _fail(key, "feeds", "the outlet has no discovery source")
    return outlet


def parse_registry(text: str) -> dict[str, Outlet]:
    """Parse registry TOML text into outlets keyed by spider name."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"registry is not valid TOML: {exc}") from None
    defaults = data.get("defaults", {})
    outlets = data.get("outlets")
    if not isinstance(outlets, dict) or not outlets:
        raise RegistryError("registry has no [outlets.*] tables")
    return {key: _build(key, raw, defaults) for key, raw in outlets.items()}


# A built distribution (a scrapyd egg, a wheel) has no seeds/ beside the package; setup.py
# copies the registry into it as newsarchive/_seeds/outlets.toml at build time.
_PACKAGED = ("_seeds", "outlets.toml")
_extracted = ExitStack()  # keeps a copy extracted from a zipped egg until exit
atexit.register(_extracted.close)


@lru_cache(maxsize=1)
def _packaged_path() -> Path | None:
    resource = importlib.resources.files("newsarchive").joinpath(*_PACKAGED)
    if not resource.is_file():
        return None
    return _extracted.enter_context(importlib.resources.as_file(resource))


def registry_path() -> Path:
    """$NEWSARCHIVE_REGISTRY, else seeds/outlets.toml of the checkout, else the packaged copy."""
    if "NEWSARCHIVE_REGISTRY" in os.environ:
        return Path(os.environ["NEWSARCHIVE_REGISTRY"])
    if DEFAULT_PATH.is_file():
        return DEFAULT_PATH
    return _packaged_path() or DEFAULT_PATH


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> dict[str, Outlet]:
    return parse_registry(Path(path).read_text(encoding="utf-8"))


def load_outlets(path: str | os.PathLike | None = None) -> dict[str, Outlet]:
    """Load and validate the registry (default: ``seeds/outlets.toml`` or $NEWSARCHIVE_REGISTRY)."""
    p = Path(path) if path else registry_path()
    return _load_cached(str(p), p.stat().st_mtime)


class OutletByHost:
    """The outlet owning a URL (first in registry order, like :func:`outlet_for_url`),
    remembered per host: ownership depends on the host alone, and a crawl asks for every
    response while it meets a handful of hosts."""

    def __init__(self, outlets: dict[str, Outlet]) -> None:
        self.outlets = outlets
        self._keys: dict[str, str | None] = {}

    def key(self, url: str) -> str | None:
        host = (urlsplit(url).hostname or "").lower()
        try:
            return self._keys[host]
        except KeyError:
            key = next((k for k, o in self.outlets.items() if o.owns_host(host)), None)
            self._keys[host] = key
            return key

    def outlet(self, url: str) -> Outlet | None:
        key = self.key(url)
        return None if key is None else self.outlets[key]


def outlet_for_url(url: str, outlets: dict[str, Outlet] | None = None) -> Outlet | None:
    for outlet in (outlets or load_outlets()).values():
        if outlet.owns(url):
            return outlet
    return None
