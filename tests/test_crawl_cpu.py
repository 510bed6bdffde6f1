"""What keeps the crawl process's CPU per article down (issue 16) without changing output.

- the crawl process does not import the extractor (trafilatura): only pool workers extract;
- Scrapy's remote-control server (and its aiohttp import) is off for ``newsarchive crawl``;
- ``find_requisites`` parses only what it reads, and finds exactly what a full parse finds;
- the outlet of a URL, remembered per host, is the one ``outlet_for_url`` names.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from newsarchive.crawl import crawl_settings
from newsarchive.registry import OutletByHost, load_outlets, outlet_for_url
from newsarchive.requisites import SCAN_LIMIT, find_requisites, widest_candidate

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "fundus"


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_crawl_components_do_not_import_the_extractor():
    mods = _modules_after(
        "import newsarchive.extract.pipeline, newsarchive.extract.shared, newsarchive.crawl\n"
        "from newsarchive.crawl import crawl_settings\n"
        "from newsarchive.extract import pool"
    )
    assert "newsarchive.extract.pipeline" in mods
    assert not {m for m in mods if m.split(".")[0] == "trafilatura"}
    assert "newsarchive.extract.core" not in mods


def test_extractor_names_still_import_from_the_package():
    from newsarchive.extract import EXTRACTOR_VERSION, Article, extract_article
    from newsarchive.extract.article import EXTRACTOR_VERSION as version
    from newsarchive.extract.core import extract_article as core_extract

    assert extract_article is core_extract and EXTRACTOR_VERSION == version
    assert Article(text="x").to_dict()["text"] == "x"
    import newsarchive.extract as pkg

    assert "extract_article" in dir(pkg)
    with pytest.raises(AttributeError):
        pkg.no_such_name  # noqa: B018


def test_remote_control_is_off_and_not_loaded():
    s = crawl_settings()
    assert not s.getbool("REMOTE_CONTROL_ENABLED")
    assert not [k for k in s.getdict("EXTENSIONS_BASE") if "remote_control" in k]
    assert "scrapy.extensions.corestats.CoreStats" in s.getdict("EXTENSIONS_BASE")
    # asked for explicitly, it is back (Scrapy's own extension, started by its setting)
    s = crawl_settings({"REMOTE_CONTROL_ENABLED": True})
    assert "scrapy.extensions.remote_control.RemoteControl" in s.getdict("EXTENSIONS_BASE")


# The requisite finder as it was before it skipped work: every tag, every attribute parsed
# and unescaped. The fast one must find exactly the same URLs, in the same order.
_TAG = re.compile(rb"<(img|link|meta|script|source)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(
    rb"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.DOTALL
)


def _full_parse(body: bytes, page_url: str, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    found = []
    for m in _TAG.finditer(body, 0, SCAN_LIMIT):
        tag = m.group(1).lower()
        a: dict[str, str] = {}
        for am in _ATTR.finditer(m.group(2)):
            value = next(g for g in am.groups()[1:] if g is not None)
            a.setdefault(
                am.group(1).decode("ascii", "replace").lower(),
                html.unescape(value.decode("utf-8", "replace")).strip(),
            )
        if tag in (b"img", b"source") and "images" in kinds:
            if tag == b"img" and a.get("src"):
                found.append((a["src"], "images"))
            if a.get("srcset") and (cand := widest_candidate(a["srcset"])):
                found.append((cand, "images"))
        elif tag == b"meta" and "images" in kinds:
            prop = (a.get("property") or a.get("name") or "").lower()
            if prop in ("og:image", "og:image:url", "og:image:secure_url") and a.get("content"):
                found.append((a["content"], "images"))
        elif tag == b"link":
            rel = (a.get("rel") or "").lower().split()
            if "stylesheet" in rel and "css" in kinds and a.get("href"):
                found.append((a["href"], "css"))
        elif tag == b"script" and "scripts" in kinds and a.get("src"):
            found.append((a["src"], "scripts"))
    out, seen = [], set()
    for raw, kind in found:
        url = urljoin(page_url, raw).split("#", 1)[0]
        if urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        out.append((url, kind))
    return out


EDGE_PAGE = b"""<html><head>
<META PROPERTY="OG:Image" content=" /og.png ">
<meta property="og&#58;image" content="/escaped-property.png">
<meta name="og:image:url" content="/by-name.png"><meta property="" name="og:image" content="/n2.png">
<meta property="og:title" content="og:image is not here">
<link rel="Preload Stylesheet" href="/a.css"><link href='/b.css' rel=stylesheet>
<link rel="style&#115;heet" href="/escaped-rel.css"><link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="/c.css?x=1&amp;y=2"><link rel="stylesheet" href="#frag">
<script src=/j.js></script><script>var s = '<img src="/in-script.png">';</script>
</head><body>
<img data-x='src="/decoy.png"' SRC="/b&amp;c.png" src="/dup.png">
<img srcset="/x.png 1x, /y&#46;png 2x" src="/x.png">
<picture><source srcset="/v.webp 300w, /w.webp 900w"><img src="/w.webp"></picture>
<img src='' srcset=''><img src="data:image/png;base64,xx"><img src="//cdn.example.com/z.png#k">
<img src="/caf\xc3\xa9.png"><img src="/og.png">
</body></html>"""

KINDS = [("images", "css"), ("images", "css", "scripts"), ("css",), ("scripts",), ("images",), ()]


@pytest.mark.parametrize("kinds", KINDS)
def test_find_requisites_finds_what_a_full_parse_finds(kinds):
    url = "https://www.example.com/news/story-1"
    assert find_requisites(EDGE_PAGE, url, kinds) == _full_parse(EDGE_PAGE, url, kinds)


def test_find_requisites_edge_cases():
    got = find_requisites(EDGE_PAGE, "https://www.example.com/news/story-1", ("images", "css"))
    urls = [u for u, _ in got]
    base = "https://www.example.com"
    assert urls[0] == f"{base}/og.png"  # first seen wins, later <img src=/og.png> dropped
    assert f"{base}/escaped-property.png" in urls  # entities in the property are decoded
    assert f"{base}/escaped-rel.css" in urls and f"{base}/c.css?x=1&y=2" in urls
    assert f"{base}/decoy.png" not in urls and f"{base}/b&c.png" in urls
    assert f"{base}/favicon.ico" not in urls
    assert urls.count(f"{base}/x.png") == 1 and f"{base}/w.webp" in urls
    assert not any(u.startswith("data:") for u in urls)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_find_requisites_on_corpus_pages_matches_full_parse():
    pages = sorted(CORPUS.glob("*/*/*.html"))[:20]
    assert pages
    for path in pages:
        body = path.read_bytes()
        for kinds in (("images", "css"), ("images", "css", "scripts")):
            url = "https://www.example.com/a/b"
            assert find_requisites(body, url, kinds) == _full_parse(body, url, kinds), path


def test_outlet_by_host_names_the_outlet_outlet_for_url_names():
    outlets = load_outlets()
    by_host = OutletByHost(outlets)
    urls = []
    for o in outlets.values():
        for d in o.domains:
            bare = d.removeprefix("www.")
            urls += [f"https://{d}/x", f"http://{bare}/y?z=1", f"https://img.{bare}/p.png"]
        urls += [f"https://{h}/a.css" for h in o.cdn_hosts]
    urls += ["https://example.org/", "not a url", "https://WWW.THEGUARDIAN.COM/uk"]
    for url in urls * 2:  # the second pass answers from the per-host memory
        want = outlet_for_url(url, outlets)
        assert by_host.outlet(url) is want, url
        assert by_host.key(url) == (want.key if want else None)


def test_compressed_payload_goes_in_stored_blocks_and_the_record_is_unchanged():
    import gzip
    import io
    import zlib
    from datetime import UTC, datetime

    from warcio.archiveiterator import ArchiveIterator

    from newsarchive.warc.records import build_http_record, compressed_payload

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    page = b"".join(
        b"<p>paragraph %d of a page that compresses well</p>\n" % i for i in range(4000)
    )
    payload = gzip.compress(page)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(payload)
    )
    extra = {"WARC-Record-ID": "<urn:uuid:00000000-0000-0000-0000-000000000001>"}
    plain = build_http_record("response", "https://x.test/a", now, head, payload, extra)
    stored = build_http_record(
        "response", "https://x.test/a", now, head, payload, extra, compressed=True
    )
    assert gzip.decompress(stored.member) == gzip.decompress(plain.member)
    # stored blocks carry the payload verbatim; deflating it again re-codes it
    assert payload[:1000] in stored.member and payload[:1000] not in plain.member
    assert stored.payload_digest == plain.payload_digest
    inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
    inflater.decompress(stored.member)
    assert inflater.eof and not inflater.unused_data  # one gzip member, nothing after it
    read = []
    for rec in ArchiveIterator(io.BytesIO(stored.member)):  # a record is read while current
        read.append((rec.http_headers.get_header("Content-Encoding"), rec.content_stream().read()))
    assert read == [("gzip", page)]
    # a compressible payload marked compressed is still one valid member (just larger)
    odd = build_http_record("response", "https://x.test/b", now, head, page, extra, True)
    assert gzip.decompress(odd.member).endswith(page + b"\r\n\r\n")

    assert compressed_payload([(b"Content-Encoding", b"gzip")])
    assert compressed_payload([(b"content-type", b"image/jpeg; q=1")])
    assert compressed_payload([(b"Content-Type", b"video/mp4")])
    assert not compressed_payload([(b"Content-Encoding", b"identity")])
    assert not compressed_payload([(b"Content-Type", b"text/html; charset=utf-8")])
