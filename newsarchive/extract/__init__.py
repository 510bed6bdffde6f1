"""Article extraction: ``extract_article(html, url, outlet=...) -> Article | None``.

Worker pool (``pool``) and Scrapy pipeline (``pipeline``) live in submodules so that
importing the extractor does not pull in Scrapy or Twisted.

The names below are loaded on first use (PEP 562): a crawl process imports this package
for its pipeline and pool, while only the worker processes extract, so it must not pay for
importing trafilatura and the extractor's modules (~0.2 s of start-up CPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsarchive.extract.article import EXTRACTOR_VERSION, Article
    from newsarchive.extract.core import extract_article

__all__ = ["EXTRACTOR_VERSION", "Article", "extract_article"]

_LAZY = {
    "EXTRACTOR_VERSION": "newsarchive.extract.article",
    "Article": "newsarchive.extract.article",
    "extract_article": "newsarchive.extract.core",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
