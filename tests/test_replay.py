"""Replay end to end: page requisites, pywb over our CDXJ, headless Chromium, WACZ, access rules.

One shared crawl (two real Scrapy runs of three outlets of the replica, the second with the
seen-set off so that every page and requisite is fetched again) feeds every test here. pywb
runs from ``.venv-pywb`` (``make pywb``); py-wacz, cdxj-indexer and FastWARC from ``.venv-dev``
(``make devtools``); Chromium is Debian's ``chromium``.
"""

from __future__ import annotations

import gzip
import http.client
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cdp import Browser, chromium_path
from conftest import require
from crawling import run_crawl

from newsarchive.replay import ReplayServer, replay_url
from newsarchive.replay.access import rule_line
from newsarchive.requisites import find_requisites
from newsarchive.warc import iter_members, read_record
from newsarchive.warc.cdxj import iter_cdxj
from newsarchive.warc.lookup import all_entries

ROOT = Path(__file__).resolve().parents[1]
PYWB_BIN = ROOT / ".venv-pywb" / "bin"
DEV_BIN = ROOT / ".venv-dev" / "bin"
ARTIFACTS = ROOT / "tests" / "artifacts"
OUTLETS = ["guardian", "standard"]  # CDN hosts + srcset; windows-1252 and own-host images


def need_pywb() -> None:
    require((PYWB_BIN / "wayback").exists(), "pywb", "make pywb")


def need_dev(tool: str) -> Path:
    require((DEV_BIN / tool).exists(), tool, "make devtools")
    return DEV_BIN / tool


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    from newsarchive.replica import Replica

    base = tmp_path_factory.mktemp("replay")
    rep = Replica(seed=12, articles_per_outlet=3)
    rep.start()
    try:
        kinds = "NEWSARCHIVE_REQUISITES=images,css,scripts"
        first = run_crawl(base, rep, OUTLETS, kinds, timeout=120)
        n_first = {p.name: len(list(iter_cdxj(p))) for p in (base / "warc").glob("*.cdxj")}
        assert n_first, first.get("_stderr", "")[-2000:]
        second = run_crawl(
            base,
            rep,
            OUTLETS,
            kinds,
            "NEWSARCHIVE_SEEN=False",
            timeout=120,
        )
    finally:
        rep.stop()
    import duckdb

    con = duckdb.connect(str(base / "archive.duckdb"), read_only=True)
    try:
        pages = con.execute(
            "SELECT a.outlet, c.url, c.fetched_at, c.warc_filename, c.warc_offset, c.warc_length "
            "FROM articles a JOIN captures c ON c.id = a.capture_id ORDER BY c.fetched_at"
        ).fetchall()
        captures = con.execute("SELECT url, discovered_via FROM captures").fetchall()
    finally:
        con.close()
    return {
        "dir": base,
        "warc": base / "warc",
        "db": base / "archive.duckdb",
        "first": first,
        "second": second,
        "first_files": n_first,
        "pages": pages,
        "captures": captures,
    }


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Accept-Encoding": "identity", **(headers or {})})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _article(crawl, outlet: str):
    return next(p for p in crawl["pages"] if p[0] == outlet)


def _requisites(crawl, page) -> list[tuple[str, str]]:
    rec = read_record(crawl["warc"] / page[3], page[4], page[5])
    return find_requisites(rec.decoded_payload(), rec.url, ("images", "css", "scripts"))


# ---------------------------------------------------------------------------- crawl side


def test_requisites_are_archived_as_captures_never_articles(crawl):
    entries = all_entries(crawl["warc"])
    urls = {e.url for e in entries}
    page = _article(crawl, "guardian")
    reqs = _requisites(crawl, page)
    assert len([u for u, k in reqs if k == "images"]) >= 3
    hosts = {urlsplit(u).hostname for u, _ in reqs}
    assert "i.guim.co.uk" in hosts  # the outlet's CDN host (seeds/outlets.toml)
    assert any("?w=960" in u for u, _ in reqs)  # one srcset candidate: the widest
    assert not any("?w=480" in u for u in urls)  # ...and only that one
    for url, _ in reqs:
        assert url in urls, url
    article_urls = {p[1] for p in crawl["pages"]}
    assert not article_urls & {u for u, _ in reqs}
    sources = [json.loads(v or "{}").get("source") for _, v in crawl["captures"]]
    assert sources.count("requisite") >= len(reqs)
    # robots.txt of the CDN host was read before its files (politeness as for pages)
    assert "https://i.guim.co.uk/robots.txt" in urls
    by_url = {e.url: e for e in _runs(crawl)[0]}
    assert all(by_url[u].status == 200 for u, _ in reqs)
    assert by_url[next(u for u, k in reqs if k == "images")].mime == "image/png"


def test_requisite_request_carries_the_page_as_referer(crawl):
    page = _article(crawl, "guardian")
    img = next(u for u, k in _requisites(crawl, page) if k == "images")
    found = False
    for path in crawl["warc"].glob("*.warc.gz"):
        for m in iter_members(path):
            for rec in m.records or []:
                if rec.type == "request" and rec.url == img:
                    assert rec.http_header("Referer") == page[1]
                    found = True
    assert found


def _runs(crawl):
    """CDXJ entries of the first and of the second crawl."""
    first, second = [], []
    for e in all_entries(crawl["warc"]):
        (first if e.filename + ".cdxj" in crawl["first_files"] else second).append(e)
    return first, second


def test_second_crawl_revisits_requisites_and_fetches_robots_once(crawl):
    first, second = _runs(crawl)
    assert first and second
    page = _article(crawl, "guardian")
    reqs = {u for u, _ in _requisites(crawl, page)}
    r1 = [e for e in first if e.url in reqs]
    r2 = [e for e in second if e.url in reqs]
    assert len(r1) == len(r2) == len(reqs)
    assert all(not e.is_revisit for e in r1) and all(e.is_revisit for e in r2)
    # unchanged images come back as revisit records: the second run's requisites are small
    assert sum(e.length for e in r2) < sum(e.length for e in r1) / 20
    # every request of the second run carried its capture's validators, and each unchanged
    # answer (304) is a server-not-modified revisit: empty block, no payload digest, the
    # original named, the 304 itself kept in the metadata record
    by_id = {e.record_id: e for e in first}
    page_revisits = [e for e in second if e.url == page[1]]
    assert len(page_revisits) == 1
    for e in r2 + page_revisits:
        rec = read_record(crawl["warc"] / e.filename, e.offset, e.length)
        assert rec.header("WARC-Profile").endswith("/revisit/server-not-modified")
        assert rec.header("WARC-Payload-Digest") is None and rec.payload == b""
        assert rec.header("WARC-Refers-To") in by_id
        assert (
            by_id[rec.header("WARC-Refers-To")].url
            == e.url
            == rec.header("WARC-Refers-To-Target-URI")
        )
    metas = [
        rec
        for path in crawl["warc"].glob("*.warc.gz")
        for m in iter_members(path)
        for rec in m.records or []
        if rec.type == "metadata" and rec.url == page[1]
    ]
    assert any(b"not-modified: HTTP/1.1 304 Not Modified" in r.payload for r in metas)
    assert any(b"not-modified-header: etag: " in r.payload.lower() for r in metas)
    # robots.txt: one capture per host per run (Scrapy's middleware and the spider share it)
    for run in (first, second):
        robots = [e.url for e in run if e.url.endswith("/robots.txt")]
        assert robots and len(robots) == len(set(robots)), robots


def test_no_payload_digest_on_metadata_and_checkers_pass(crawl):
    files = sorted(crawl["warc"].glob("*.warc.gz"))
    for path in files:
        for m in iter_members(path):
            for rec in m.records or []:
                if rec.type in ("metadata", "warcinfo"):
                    assert rec.header("WARC-Payload-Digest") is None
    warcio = ROOT / ".venv" / "bin" / "warcio"
    res = subprocess.run([str(warcio), "check", *map(str, files)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    # The second run's revisits are server-not-modified ones (no payload digest), so FastWARC,
    # which checks any WARC-Payload-Digest against the record's own (empty) payload, passes
    # on every file of both runs.
    fastwarc = need_dev("fastwarc")
    for path in files:
        report = path.parent.parent / (path.name + ".fastwarc.txt")
        res = subprocess.run(
            [str(fastwarc), "check", "-q", "-p", str(path), "-o", str(report)],
            capture_output=True,
            text=True,
        )
        lines = report.read_text().splitlines()
        assert lines, res.stderr
        bad = {
            line.split(">", 1)[0] + ">"
            for line in lines
            if ": OK, PAYLOAD_OK" not in line and ": OK, PAYLOAD_NO_DIGEST" not in line
        }
        assert not bad and res.returncode == 0, (path.name, sorted(bad)[:3])


def test_show_html_writes_the_body_in_its_own_charset(crawl):
    page = _article(crawl, "standard")
    rec = read_record(crawl["warc"] / page[3], page[4], page[5])
    assert "windows-1252" in rec.http_header("Content-Type")
    res = subprocess.run(
        [sys.executable, "-m", "newsarchive", "show", page[1], "--html"]
        + ["--warc-dir", str(crawl["warc"])],
        capture_output=True,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == rec.decoded_payload()
    assert b'charset="windows-1252"' in res.stdout and b"\xc2\xa3" not in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "newsarchive", "show", page[1], "--warc-dir", str(crawl["warc"])],
        capture_output=True,
        text=True,
    )
    assert "replay:    http://127.0.0.1:8080/news/" in res.stdout


def test_search_prints_a_replay_link_per_hit(crawl):
    page = _article(crawl, "guardian")
    word = next(w for w in crawl_title(crawl, page).split() if len(w) > 5 and w.isalpha())
    env = {**__import__("os").environ, "NEWSARCHIVE_REPLAY_BASE": "http://127.0.0.1:9/x"}
    res = subprocess.run(
        [sys.executable, "-m", "newsarchive", "search", word, "--db", str(crawl["db"])],
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    links = [line.strip() for line in res.stdout.splitlines() if "replay: " in line]
    hits = [line for line in res.stdout.splitlines() if line[:1].isdigit()]
    assert hits and len(links) == len(hits)
    assert all(link.startswith("replay: http://127.0.0.1:9/x/") for link in links)
    assert any(link.endswith("mp_/" + page[1]) for link in links), links


def crawl_title(crawl, page) -> str:
    import duckdb

    con = duckdb.connect(str(crawl["db"]), read_only=True)
    try:
        return con.execute("SELECT title FROM articles WHERE url = ?", [page[1]]).fetchone()[0]
    finally:
        con.close()


# ---------------------------------------------------------------------------- pywb


@pytest.fixture(scope="module")
def replay(crawl):
    need_pywb()
    with ReplayServer(crawl["warc"]) as rs:
        yield rs


def _mementos(timemap: bytes) -> list[str]:
    """The 14-digit timestamps of a link-format TimeMap's mementos."""
    import re

    return re.findall(r"/news/(\d{14})/", timemap.decode())


def test_pywb_serves_our_cdxj_with_memento(crawl, replay):
    page = _article(crawl, "standard")
    port = replay.port
    ts = page[2].strftime("%Y%m%d%H%M%S")
    status, _, body = _get(port, _path(replay_url(replay.base, page[1], ts, "id_")))
    rec = read_record(crawl["warc"] / page[3], page[4], page[5])
    assert status == 200 and body == rec.decoded_payload()
    status, headers, body = _get(port, _path(replay.timemap(page[1])))
    assert status == 200 and "application/link-format" in headers["content-type"]
    assert len(_mementos(body)) == 2  # two crawls: the page was captured twice
    # the second memento is the 304 revisit: replayed as the page it stands for
    later = max(_mementos(body))
    assert later > ts
    status, headers, again = _get(port, _path(replay_url(replay.base, page[1], later, "id_")))
    assert status == 200 and again == rec.decoded_payload()
    assert headers.get("memento-datetime")
    status, headers, _ = _get(
        port, f"/news/{page[1]}", {"Accept-Datetime": "Thu, 01 Jan 2099 00:00:00 GMT"}
    )
    # pywb answers the TimeGate with the memento itself (200) or a redirect to it (302)
    assert status in (200, 302) and "accept-datetime" in headers.get("vary", "").lower()
    links = headers.get("location", "") + headers.get("content-location", "")
    assert max(_mementos(body)) in links + headers.get("link", ""), headers
    # robots.txt once per run: the TimeMap lists one memento per crawl, not two
    status, _, body = _get(port, _path(replay.timemap("https://www.standard.co.uk/robots.txt")))
    assert status == 200 and len(_mementos(body)) == 2


def test_article_renders_with_every_image_in_headless_chromium(crawl, replay):
    require(chromium_path() is not None, "chromium", "apt-get install chromium (make sysdeps)")
    page = _article(crawl, "guardian")
    first = page[2].strftime("%Y%m%d%H%M%S")
    _, _, timemap = _get(replay.port, _path(replay.timemap(page[1])))
    later = max(_mementos(timemap))
    assert later > first  # the second crawl's 304 revisit, with its images' revisits
    for ts in (first, later):
        _render_every_image(replay, page, ts)


def _render_every_image(replay, page, ts: str) -> None:
    url = replay_url(replay.base, page[1], ts, "mp_")
    with Browser() as b:
        b.navigate(url)
        b.evaluate(
            "new Promise(r => { const imgs = [...document.images];"
            " Promise.all(imgs.map(i => i.complete ? 1 : new Promise(d => {"
            " i.onload = i.onerror = d; }))).then(r); })"
        )
        images = b.evaluate(
            "[...document.images].map(i => [i.currentSrc || i.src, i.naturalWidth])"
        )
        sheets = b.evaluate("document.styleSheets.length")
        shot = b.screenshot(ARTIFACTS / f"replay-guardian-{ts}.png")
        responses = b.responses()
    assert len(images) >= 3
    assert all(w > 0 for _, w in images), images
    assert sheets >= 2
    # requisite loads only (the browser's own favicon probe is not part of the page)
    loads = [r for r in responses if r.get("type") in ("Image", "Stylesheet", "Script")]
    assert len(loads) >= len(images) + 2
    failed = [(r["response"]["url"], r["response"]["status"]) for r in loads]
    failed = [(u, s) for u, s in failed if s >= 400]
    assert failed == []
    assert shot.stat().st_size > 10_000


# ---------------------------------------------------------------------------- WACZ


def _export(crawl, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsarchive", "export", "wacz", str(out)]
        + ["--db", str(crawl["db"]), "--warc-dir", str(crawl["warc"]), *args],
        capture_output=True,
        text=True,
    )


def test_wacz_subset_validates_and_loads_in_pywb(crawl, tmp_path):
    wacz = need_dev("wacz")
    need_pywb()
    out = tmp_path / "guardian.wacz"
    res = _export(crawl, out, "--outlet", "guardian")
    assert res.returncode == 0, res.stderr
    check = subprocess.run([str(wacz), "validate", "-f", str(out)], capture_output=True, text=True)
    assert check.returncode == 0 and "valid" in check.stdout, check.stdout + check.stderr
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        assert z.getinfo("archive/export.warc.gz").compress_type == zipfile.ZIP_STORED
        pages = [json.loads(line) for line in z.read("pages/pages.jsonl").splitlines()[1:]]
        index = gzip.decompress(z.read("indexes/index.cdx.gz")).decode().splitlines()
    assert {"datapackage.json", "datapackage-digest.json", "indexes/index.idx"} <= set(names)
    guardian = [p for p in crawl["pages"] if p[0] == "guardian"]
    assert len(pages) == len(guardian) and all(p["title"] and p["text"] for p in pages)
    indexed = {json.loads(line.split(" ", 2)[2])["url"] for line in index}
    assert all(urlsplit(u).hostname in ("www.theguardian.com", "i.guim.co.uk") for u in indexed)
    for url, _ in _requisites(crawl, guardian[0]):
        assert url in indexed
    # pywb loads it (wb-manager add --unpack-wacz) and replays the pages and their images
    wbm = str(PYWB_BIN / "wb-manager")
    subprocess.run([wbm, "init", "w"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(
        [wbm, "add", "--unpack-wacz", "w", str(out)], cwd=tmp_path, check=True, capture_output=True
    )
    from newsarchive.replay.server import free_port

    port = free_port()
    proc = subprocess.Popen(
        [str(PYWB_BIN / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import time

        for _ in range(150):
            try:
                _get(port, "/w/")
                break
            except OSError:
                time.sleep(0.2)
        for p in pages:
            ts = p["ts"].replace("-", "").replace("T", "").replace(":", "").rstrip("Z")
            status, _, body = _get(port, _path(replay_url("http://x/w", p["url"], ts, "mp_")))
            assert status == 200 and b"</html>" in body.lower()
        img = next(u for u, k in _requisites(crawl, guardian[0]) if k == "images")
        status, headers, body = _get(port, _path(replay_url("http://x/w", img, ts, "id_")))
        assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        proc.terminate()
        proc.wait(10)


def test_wacz_full_export_keeps_the_warcs(crawl, tmp_path):
    wacz = need_dev("wacz")
    from newsarchive.index.db import connect
    from newsarchive.replay.wacz import export_wacz

    out = tmp_path / "all.wacz"
    con = connect(crawl["db"], read_only=True)
    try:
        result = export_wacz(out, crawl["warc"], con)
    finally:
        con.close()
    assert not result.subset and result.pages == len(crawl["pages"])
    check = subprocess.run([str(wacz), "validate", "-f", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    with zipfile.ZipFile(out) as z:
        warcs = sorted(n.split("/", 1)[1] for n in z.namelist() if n.startswith("archive/"))
        n_pages = len(z.read("pages/pages.jsonl").splitlines()) - 1
    assert warcs == sorted(p.name for p in crawl["warc"].glob("*.warc.gz"))
    assert n_pages == len(crawl["pages"])


def test_wacz_query_selects_what_search_finds(crawl, tmp_path):
    from newsarchive.index.db import connect
    from newsarchive.query import search
    from newsarchive.replay.wacz import export_wacz

    con = connect(crawl["db"], read_only=True)
    try:
        title = con.execute(
            "SELECT title FROM articles WHERE is_article AND outlet = 'guardian' LIMIT 1"
        ).fetchone()[0]
        word = max(title.split(), key=len).strip(".,:;'\"")
        q = f"title:{word} outlet:guardian"
        found = {h.url for h in search(con, q, limit=1000, all_versions=True).hits}
        result = export_wacz(tmp_path / "q.wacz", crawl["warc"], con, query=q)
    finally:
        con.close()
    assert found and result.subset
    with zipfile.ZipFile(tmp_path / "q.wacz") as z:
        pages = [json.loads(x) for x in z.read("pages/pages.jsonl").splitlines()[1:]]
    assert {p["url"] for p in pages} == found


def test_export_errors_are_one_line(crawl, tmp_path):
    res = _export(crawl, tmp_path / "x.wacz", "--outlet", "nosuchoutlet")
    assert (
        res.returncode == 2 and res.stderr.startswith("error: ") and "Traceback" not in res.stderr
    )
    assert not (tmp_path / "x.wacz").exists()


# ---------------------------------------------------------------------------- access rules


def test_aclj_exclusion_and_embargo_are_honoured(crawl, tmp_path):
    need_pywb()
    hidden, shown = [p for p in crawl["pages"] if p[0] == "standard"][:2]
    acl = tmp_path / "rules.aclj"
    acl.write_text(rule_line(hidden[1], "exclude") + "\n")
    from newsarchive.index.db import connect
    from newsarchive.replay.wacz import export_wacz

    out = tmp_path / "std.wacz"
    con = connect(crawl["db"], read_only=True)
    try:
        result = export_wacz(out, crawl["warc"], con, outlets=("standard",), acl=acl)
    finally:
        con.close()
    assert result.subset and result.excluded >= 1
    with zipfile.ZipFile(out) as z:
        pages = z.read("pages/pages.jsonl").decode()
        index = gzip.decompress(z.read("indexes/index.cdx.gz")).decode()
    assert hidden[1] not in pages and hidden[1] not in index
    assert shown[1] in pages and shown[1] in index
    with ReplayServer(crawl["warc"], acl=acl) as rs:
        for page, expect in ((hidden, 404), (shown, 200)):
            ts = page[2].strftime("%Y%m%d%H%M%S")
            status, _, _ = _get(rs.port, _path(replay_url(rs.base, page[1], ts, "id_")))
            assert status == expect, page[1]
    # pywb's embargo: captures of the last day are hidden (ours are minutes old)
    with ReplayServer(crawl["warc"], embargo_days=1) as rs:
        ts = shown[2].strftime("%Y%m%d%H%M%S")
        status, _, _ = _get(rs.port, _path(replay_url(rs.base, shown[1], ts, "id_")))
        assert status == 404


# ---------------------------------------------------------------------------- index keys

# Unusual URLs as Scrapy sends (and the WARC stores) them; several used to get other keys
# than pywb's, and then 404ed in replay.
TRICKY = [
    "https://example.com/search?q=a b",
    "https://example.com/p?a=%2F",
    "https://example.com/amp/story?amp",
    "https://example.com/%7Euser/page",
    "https://example.com/a//b",
    "https://example.com/a/../b",
    "https://bücher.example/seite",
    "https://example.com/café/menü",
    "https://example.com/a b",
    "https://WWW.Example.COM/Path/Index.html",
    "https://example.com:443/port",
    "http://example.com:8080/port",
    "https://example.com/x?b=2&a=1",
    "https://www2.example.com/x",
    "https://example.com/x?A=B&a=b",
    "https://example.com/x/?q=",
    "https://example.com/x;jsessionid=ABC123",
    "https://example.com/%e2%82%ac",
    "https://example.com/x?q=%E2%82%AC&z",
    "https://example.com/with+plus?x=1+2",
    "https://sub.example.co.uk/x?x=%2f%2F",
    "https://example.com/x?q=a%20b&q=a+b",
    "http://127.0.0.1:8000/ip?x=1",
]


def test_cdxj_keys_equal_cdxj_indexer_and_replay_in_pywb(tmp_path):
    from datetime import UTC, datetime

    from scrapy import Request

    from newsarchive.warc.records import build_http_record, response_head
    from newsarchive.warc.scan import write_index

    indexer = need_dev("cdxj-indexer")
    need_pywb()
    urls = [Request(u).url for u in TRICKY]  # what the WARC would hold
    assert len(set(urls)) == len(urls) >= 20
    warc = tmp_path / "tricky.warc.gz"
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with open(warc, "wb") as fh:
        for i, url in enumerate(urls):
            body = f"<html><body>page {i}</body></html>".encode()
            head = response_head("HTTP/1.1", 200, [(b"Content-Type", b"text/html")], len(body))
            fh.write(build_http_record("response", url, when, head, body).member)
    ours = {e.url: e.line().split(" ", 1)[0] for e in iter_cdxj(write_index(warc))}
    res = subprocess.run([str(indexer), str(warc)], capture_output=True, text=True, check=True)
    theirs = {}
    for line in res.stdout.splitlines():
        if line.strip() and not line.startswith("!"):
            key, _ts, data = line.split(" ", 2)
            theirs[json.loads(data)["url"]] = key
    assert set(ours) == set(theirs) == set(urls)
    assert {u: ours[u] for u in urls} == {u: theirs[u] for u in urls}
    with ReplayServer(tmp_path) as rs:
        for i, url in enumerate(urls):
            status, _, body = _get(
                rs.port, _path(replay_url(rs.base, url, "20260102030405", "id_"))
            )
            assert (status, body) == (200, f"<html><body>page {i}</body></html>".encode()), url


# ---------------------------------------------------------------------------- ReplayWeb.page

RWP = ROOT / ".venv-dev" / "replaywebpage"

_SHADOW_TEXT = """(() => { const out = []; const walk = n => { if (!n) return;
  if (n.shadowRoot) walk(n.shadowRoot); for (const c of n.children || []) walk(c);
  if (n.nodeType === 1 && !n.children.length && n.textContent.trim())
    out.push(n.textContent.trim()); }; walk(document.documentElement); return out; })()"""


def _range_server(directory: Path):
    """A loopback static server answering Range requests (ReplayWeb.page reads WACZ by range)."""
    import re
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send_head(self):
            path = self.translate_path(self.path.split("?", 1)[0])
            m = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range") or "")
            if not m or not Path(path).is_file():
                return super().send_head()
            size = Path(path).stat().st_size
            if m.group(1):
                start, end = int(m.group(1)), int(m.group(2) or size - 1)
            else:
                start, end = max(0, size - int(m.group(2))), size - 1
            end = min(end, size - 1)
            with open(path, "rb") as fh:
                fh.seek(start)
                data = fh.read(end - start + 1)
            self.send_response(206)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            import io

            return io.BytesIO(data)

        def end_headers(self):
            self.send_header("Accept-Ranges", "bytes")
            super().end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _rwp_pages(b: Browser, port: int, wacz: str, query: str, until) -> list[str]:
    """Texts of ReplayWeb.page's page list for ``query``, once ``until(texts)`` holds."""
    import time

    b.call("Page.navigate", url=f"http://127.0.0.1:{port}/index.html?source="
           f"http://127.0.0.1:{port}/{wacz}#view=pages&query={query}")  # fmt: skip
    deadline = time.monotonic() + 60
    texts: list[str] = []
    while time.monotonic() < deadline:
        time.sleep(1)
        texts = b.evaluate(_SHADOW_TEXT) or []
        if until(texts):
            break
    return texts


def test_wacz_pages_listed_and_searchable_in_replaywebpage(crawl, tmp_path):
    """ReplayWeb.page (npm build, served on loopback, headless Chromium) lists the WACZ's
    pages and finds them by words of their text (not of their titles)."""
    require((RWP / "ui.js").exists(), "ReplayWeb.page", "make devtools (npm pack replaywebpage)")
    require(chromium_path() is not None, "chromium", "apt-get install chromium (make sysdeps)")
    site = tmp_path / "site"
    site.mkdir()
    for name in ("index.html", "ui.js", "sw.js"):
        (site / name).symlink_to(RWP / name)
    res = _export(crawl, site / "g.wacz", "--outlet", "guardian")
    assert res.returncode == 0, res.stderr
    with zipfile.ZipFile(site / "g.wacz") as z:
        page = json.loads(z.read("pages/pages.jsonl").splitlines()[1])
    word = next(
        w for w in page["text"].split() if w.isalpha() and len(w) > 6 and w not in page["title"]
    )
    server = _range_server(site)
    try:
        port = server.server_address[1]
        with Browser() as b:
            b.call("Page.enable")
            found = _rwp_pages(b, port, "g.wacz", word, lambda t: page["title"] in t)
            missing = _rwp_pages(b, port, "g.wacz", "zqxjnotaword", lambda t: "0 Pages" in t)
            import time

            time.sleep(2)  # a late result would show up now
            missing = b.evaluate(_SHADOW_TEXT) or []
    finally:
        server.shutdown()
    assert page["title"] in found, [t for t in found if "Page" in t]
    assert "0 Pages" in missing and page["title"] not in missing
