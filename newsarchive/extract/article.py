"""The ``Article`` record produced by the extractor.

A plain dataclass so that it crosses process boundaries cheaply (the pool sends
``to_dict()`` back) and maps one to one onto the ``articles`` index row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Bump whenever the extracted output changes, so that re-extraction can be targeted.
EXTRACTOR_VERSION = "1.2.1"


@dataclass
class Article:
    text: str = ""
    title: str | None = None
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    image: str | None = None
    captions: list[str] = field(default_factory=list)
    credits: list[str] = field(default_factory=list)
    word_count: int = 0
    is_article: bool = True
    page_type: str = "article"
    paywalled: bool = False
    challenge: bool = False
    # provenance: which method gave ``text`` ("trafilatura": the pruned page, "articleBody":
    # JSON-LD, "fallback": plain trafilatura on the unpruned page, "hydration": the page's
    # script state, "" when there is none), and which source gave the title and the date
    text_source: str = "trafilatura"
    title_source: str | None = None
    date_source: str | None = None
    extractor_version: str = EXTRACTOR_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
