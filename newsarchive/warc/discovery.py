"""Discovery info in WARC ``metadata`` records, both ways.

The crawl writes how a URL was found (``request.meta["discovery"]``), its outlet and the
referer into a metadata record beside each capture, so ``newsarchive reindex`` can recover
them from the WARC files alone.
"""

from __future__ import annotations

from typing import Any

# (field name in the record, key in the discovery dict)
_SCALARS = (
    ("source-url", "source_url"),
    ("lastmod", "lastmod"),
    ("published", "published"),
    ("title", "title"),
)


def discovery_fields(
    discovery: dict | None, outlet: str | None, via: str | None
) -> list[tuple[str, str]]:
    """warc-fields (name, value) pairs for a capture's metadata record."""
    fields: list[tuple[str, str]] = []
    if isinstance(discovery, dict) and discovery.get("source"):
        fields.append(("discovery", str(discovery["source"])))
        for name, key in _SCALARS:
            value = discovery.get(key)
            if value not in (None, ""):
                fields.append((name, str(value)))
        keywords = discovery.get("keywords")
        if keywords:
            if isinstance(keywords, str):
                keywords = [keywords]
            clean = [" ".join(str(k).replace(",", " ").split()) for k in keywords]
            fields.append(("keywords", ",".join(k for k in clean if k)))
    if outlet:
        fields.append(("outlet", outlet))
    if via:
        fields.append(("via", via))
    return fields


def parse_warc_fields(block: bytes) -> list[tuple[str, str]]:
    out = []
    for line in block.decode("utf-8", "replace").splitlines():
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        out.append((name.strip().lower(), value.strip()))
    return out


def _record_block(record: Any) -> bytes:
    if isinstance(record, bytes | bytearray):
        return bytes(record)
    if hasattr(record, "block"):  # newsarchive.warc.records.Record
        return record.block
    if hasattr(record, "content_stream"):  # warcio ArcWarcRecord
        return record.content_stream().read()
    raise TypeError(f"cannot read a warc-fields block from {type(record).__name__}")


def read_discovery(record: Any) -> dict:
    """Parse a capture's metadata record back into a dict.

    Returns the discovery keys (``source``, ``source_url``, ``lastmod``, ``published``,
    ``title``, ``keywords`` as a list) plus ``outlet`` and ``via``; missing ones are None.
    ``source`` is None when the capture had no discovery info. Accepts a parsed
    :class:`~newsarchive.warc.records.Record`, a warcio record or the raw block bytes.
    """
    result: dict[str, Any] = {
        "source": None,
        "source_url": None,
        "lastmod": None,
        "published": None,
        "title": None,
        "keywords": None,
        "outlet": None,
        "via": None,
    }
    names = dict(_SCALARS)
    for name, value in parse_warc_fields(_record_block(record)):
        if name == "discovery":
            result["source"] = value or None
        elif name in names:
            result[names[name]] = value or None
        elif name == "keywords":
            result["keywords"] = [k.strip() for k in value.split(",") if k.strip()] or None
        elif name in ("outlet", "via"):
            result[name] = value or None
    return result
