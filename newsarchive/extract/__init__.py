"""Article extraction: ``extract_article(html, url, outlet=...) -> Article | None``.

Worker pool (``pool``) and Scrapy pipeline (``pipeline``) live in submodules so that
importing the extractor does not pull in Scrapy or Twisted.
"""

from newsarchive.extract.article import EXTRACTOR_VERSION, Article
from newsarchive.extract.core import extract_article

__all__ = ["EXTRACTOR_VERSION", "Article", "extract_article"]
