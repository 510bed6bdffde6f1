"""JSON-LD reading: find the page's main article object among all ``ld+json`` blocks.

Outlets nest their article in ``@graph``, in lists, or beside WebPage/Organization/
BreadcrumbList objects, and some blocks are invalid JSON (trailing commas, raw newlines).
This module flattens them and ranks the candidates so that metadata can trust JSON-LD first.
"""

from __future__ import annotations

import json
import re
from typing import Any

ARTICLE_TYPES = {
    "newsarticle",
    "article",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "reviewnewsarticle",
    "blogposting",
    "liveblogposting",
    "report",
    "socialmediaposting",
    "techarticle",
    "scholarlyarticle",
    "askpublicnewsarticle",
    "factcheck",
    "satiricalarticle",
}
MEDIA_TYPES = {"videoobject", "imagegallery", "mediagallery", "clip", "podcastepisode"}
_CTRL = re.compile(r"[\x00-\x1f]")


def _loads(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith("<!--"):
        raw = raw.strip("<!->\n\t ")
    try:
        return json.loads(raw)
    except ValueError:
        pass
    # Common breakage: raw control characters inside strings, trailing commas.
    fixed = _CTRL.sub(" ", raw)
    fixed = re.sub(r",\s*([}\]])", r"\1", fixed)
    try:
        return json.loads(fixed)
    except ValueError:
        return None


def _walk(obj: Any, out: list[dict], depth: int = 0) -> None:
    if depth > 6:
        return
    if isinstance(obj, list):
        for x in obj:
            _walk(x, out, depth + 1)
    elif isinstance(obj, dict):
        out.append(obj)
        if "@graph" in obj:
            _walk(obj["@graph"], out, depth + 1)
        main = obj.get("mainEntity")
        if isinstance(main, dict | list):
            _walk(main, out, depth + 1)


def types_of(obj: dict) -> set[str]:
    t = obj.get("@type")
    if isinstance(t, str):
        return {t.lower().rsplit("/", 1)[-1]}
    if isinstance(t, list):
        return {x.lower().rsplit("/", 1)[-1] for x in t if isinstance(x, str)}
    return set()


def ld_objects(scripts: list[str]) -> list[dict]:
    """All JSON-LD objects of the page (flattened), in document order."""
    out: list[dict] = []
    for raw in scripts:
        if raw and len(raw) < 5_000_000:
            _walk(_loads(raw), out)
    return out


def main_article(objs: list[dict], url: str | None = None) -> dict | None:
    """The object that describes this page's article: an article type, preferring the
    one whose url/@id matches the page, that has a headline, then the first."""
    cands = [o for o in objs if types_of(o) & ARTICLE_TYPES]
    if not cands:
        return None
    path = _path(url)

    def score(o: dict) -> tuple:
        ids = [o.get("url"), o.get("@id")]
        me = o.get("mainEntityOfPage")
        ids.append(me.get("@id") if isinstance(me, dict) else me)
        same = bool(path) and any(isinstance(i, str) and _path(i) == path for i in ids)
        return (
            same,
            bool(o.get("headline")),
            bool(o.get("datePublished")),
            bool(o.get("articleBody")),
        )

    return max(cands, key=score)  # max keeps the first of equal scores


def _path(url: Any) -> str:
    if not isinstance(url, str):
        return ""
    u = url.split("#", 1)[0].split("?", 1)[0]
    u = re.sub(r"^https?://(www\.)?", "", u).rstrip("/")
    return u


def text_value(v: Any) -> str | None:
    """A string from a JSON-LD value that may be a string, list, or {name|@value} object."""
    if isinstance(v, str):
        v = v.strip()
        return v or None
    if isinstance(v, list):
        for x in v:
            t = text_value(x)
            if t:
                return t
        return None
    if isinstance(v, dict):
        return text_value(v.get("name") or v.get("@value") or v.get("url"))
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    return None


_ORG_TYPES = {"organization", "newsmediaorganization", "corporation", "organisation"}


def credits(v: Any) -> list[tuple[str, bool]]:
    """Names from an author value (strings, Person/Organization objects, lists of both),
    each with True when the page types it as an organisation."""
    out: list[tuple[str, bool]] = []
    if isinstance(v, list):
        for x in v:
            out.extend(credits(x))
    elif isinstance(v, dict):
        org = bool(types_of(v) & _ORG_TYPES)
        name = v.get("name")
        if isinstance(name, list):
            out.extend((n, org) for n, _ in credits(name))
        elif isinstance(name, str):
            out.append((name, org))
        elif v.get("givenName") or v.get("familyName"):
            out.append((f"{v.get('givenName', '')} {v.get('familyName', '')}".strip(), org))
    elif isinstance(v, str):
        out.append((v, False))
    return out


def people(v: Any) -> list[str]:
    """Person names from an author value; Organization authors are dropped."""
    return [name for name, org in credits(v) if not org]
