"""``newsarchive serve`` end to end: a real crawl of the replica, the real CLI running
uvicorn on an ephemeral loopback port, and a real headless Chromium driven over the
DevTools protocol. Screenshots go to tests/artifacts/ (gitignored)."""

from __future__ import annotations

import http.client
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import ROOT, require
from tests.crawling import run_crawl

ARTIFACTS = ROOT / "tests" / "artifacts"
OUTLETS = ["mirror", "bolnews", "express"]  # bolnews rewrites the Mirror: stories


def _free_pair() -> int:
    """A port p with p and p + 1 free (the app and the replay beside it)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65534:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@pytest.fixture(scope="session")
def archive(tmp_path_factory):
    from newsarchive.replica import Replica

    tmp = tmp_path_factory.mktemp("web")
    r = Replica(seed=1, articles_per_outlet=10, stories=30)
    r.start()
    try:
        run_crawl(tmp, r, OUTLETS)
        r.update("mirror", 1)  # a second version of one article, for the version diff
        run_crawl(tmp, r, ["mirror"], "NEWSARCHIVE_SEEN=False")
    finally:
        r.stop()
    db = tmp / "archive.duckdb"
    from newsarchive.index.db import connect
    from newsarchive.query.index import has_index, rebuild_index

    con = connect(db, read_only=True)
    try:
        built = has_index(con)
    finally:
        con.close()
    if not built:
        rebuild_index(db)
    return tmp


@pytest.fixture(scope="session")
def server(archive):
    port = _free_pair()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = open(archive / "serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsarchive",
            "serve",
            "--port",
            str(port),
            "--db",
            str(archive / "archive.duckdb"),
            "--warc-dir",
            str(archive / "warc"),
        ],
        cwd=archive,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if _get(base, "/")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError((archive / "serve.log").read_text())
        time.sleep(0.2)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        text = (archive / "serve.log").read_text()
        assert "Traceback" not in text, text


def _get(base: str, target: str) -> tuple[int, bytes, dict]:
    """A raw GET: the target is sent exactly as given (no client-side normalisation)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read(), dict(resp.getheaders())
    finally:
        conn.close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from cdp import Browser, chromium_path

    require(
        chromium_path() is not None,
        "headless Chromium",
        "apt-get install chromium (make sysdeps does it when root)",
    )
    b = Browser().start()
    try:
        yield b
    finally:
        b.stop()


def _ro(archive: Path):
    from newsarchive.index.db import connect

    return connect(archive / "archive.duckdb", read_only=True)


def _common_word(archive: Path) -> str:
    """A title word of several articles, so the search has results to show."""
    con = _ro(archive)
    try:
        titles = [
            t for (t,) in con.execute("SELECT title FROM articles WHERE is_article").fetchall()
        ]
    finally:
        con.close()
    counts: dict[str, int] = {}
    for t in titles:
        for w in {w.strip(".,:'\"?!").lower() for w in (t or "").split()}:
            if len(w) > 5 and w.isalpha():
                counts[w] = counts.get(w, 0) + 1
    return max(counts, key=lambda w: (counts[w], w))


def test_search_article_story_replay_in_chromium(archive, server, browser):
    from newsarchive import query as qm

    word = _common_word(archive)
    con = _ro(archive)
    try:
        expected = qm.search(con, word, qm.Scope(), limit=20)
        buckets = qm.count(con, word, qm.Scope(), by="day", normalize=True)
    finally:
        con.close()
    assert expected.total >= 2

    browser.navigate(f"{server}/?q={urllib.parse.quote(word)}")
    assert browser.evaluate("document.querySelector('#result-count').dataset.total") == str(
        expected.total
    )
    assert browser.evaluate("document.querySelectorAll('li.hit').length") == len(expected.hits)
    assert browser.evaluate("document.querySelectorAll('#attention svg circle.pt').length") == len(
        buckets
    )
    assert browser.evaluate("document.querySelectorAll('.snippet mark').length") >= 1
    browser.screenshot(ARTIFACTS / "search.png")

    # the normalised toggle redraws the same buckets as shares
    browser.navigate(
        server + browser.evaluate("document.querySelector('#toggle-norm').getAttribute('href')")
    )
    values = browser.evaluate(
        "[...document.querySelectorAll('#attention circle.pt')].map(c => +c.dataset.value)"
    )
    assert len(values) == len(buckets) and all(0 <= v <= 1 for v in values)

    # open the first result
    href = browser.evaluate("document.querySelector('li.hit a.title').getAttribute('href')")
    browser.navigate(server + href)
    assert browser.evaluate("document.querySelector('#title').textContent") == (
        expected.hits[0].title or "(no title)"
    )
    assert browser.evaluate("document.querySelectorAll('#text p').length") >= 2
    assert browser.evaluate("document.querySelectorAll('#provenance tr').length") >= 10
    prov = browser.evaluate("document.querySelector('#provenance').textContent")
    assert "clean text from: trafilatura" in prov or "clean text from: articleBody" in prov, prov
    assert "page: ?" not in prov, prov  # the title and date sources are named
    assert browser.evaluate("document.querySelectorAll('#versions li.version').length") >= 1
    browser.screenshot(ARTIFACTS / "article.png")

    # the raw capture is the archived response, served as inert text
    raw = browser.evaluate("document.querySelector('#raw-link').getAttribute('href')")
    status, body, headers = _get(server, raw)
    assert status == 200 and body.startswith(b"HTTP/")
    assert headers["content-type"].startswith("text/plain")
    assert "sandbox" in headers["content-security-policy"]

    replay = browser.evaluate("(document.querySelector('#replay-link') || {}).href || ''")
    replay_missing = browser.evaluate(
        "(document.querySelector('#replay-missing') || {}).textContent"
    )

    # a story across outlets: from its origin article's panel to the story page
    from newsarchive.stories import query as sq

    con = _ro(archive)
    try:
        stories = sq.list_stories(con, min_outlets=2)
        members = sq.story_members(con, stories[0].story_id) if stories else []
    finally:
        con.close()
    assert stories, "the replica's planned stories were not detected"
    browser.navigate(f"{server}/article?id={urllib.parse.quote(stories[0].origin_article_id)}")
    assert browser.evaluate("document.querySelectorAll('#story-panel li').length") == len(members)
    browser.navigate(browser.evaluate("document.querySelector('#story-link').href"))
    assert browser.evaluate("document.querySelectorAll('#members li.member').length") == len(
        members
    )
    assert browser.evaluate("document.querySelectorAll('#timeline circle.pt').length") == len(
        [m for m in members if m.published]
    )
    assert browser.evaluate("document.querySelectorAll('.diff ins, .diff del').length") >= 1
    browser.screenshot(ARTIFACTS / "story.png")

    # replay opens on its own port, never the app's, and shows the page with its images
    require(bool(replay), f"pywb beside serve ({replay_missing})", "make pywb")
    assert not replay.startswith(server + "/")
    page = re.sub(r"/(\d{14})(?:mp_)?/", r"/\1mp_/", replay, count=1)  # unframed
    browser.navigate(page)
    browser.evaluate(
        "new Promise(r => { const imgs = [...document.images];"
        " Promise.all(imgs.map(i => i.complete ? 1 : new Promise(d => {"
        " i.onload = i.onerror = d; }))).then(r); })"
    )
    loaded = browser.evaluate("[...document.images].filter(i => i.naturalWidth > 0).length")
    assert loaded >= 1, browser.evaluate("[...document.images].map(i => i.src)")
    browser.screenshot(ARTIFACTS / "replay.png")


def test_health_page_in_chromium(archive, server, browser):
    from newsarchive.index import read

    con = _ro(archive)
    try:
        labels, series = read.articles_per_outlet_day(con, days=14)
        runs = read.crawl_runs(con)
    finally:
        con.close()
    browser.navigate(f"{server}/health?days=14")
    assert browser.evaluate("document.querySelectorAll('#volume circle.pt').length") == len(
        labels
    ) * len(series)
    assert set(series) == set(OUTLETS)
    assert browser.evaluate("document.querySelectorAll('#runs tr.run').length") == len(runs) >= 1
    assert browser.evaluate("document.querySelectorAll('#last-good tr').length") == len(OUTLETS) + 1
    browser.screenshot(ARTIFACTS / "health.png")


def test_version_diff_is_drawn(archive, server, browser):
    """Two captures of one URL: the article page shows a word diff between them."""
    from newsarchive.web import sources

    require(sources.word_diff() is not None, "newsarchive.stories.diff", "merge branch i11")
    con = _ro(archive)
    try:
        row = con.execute(
            "SELECT id FROM articles WHERE canonical_url IN (SELECT canonical_url FROM articles "
            "GROUP BY 1 HAVING count(DISTINCT text) > 1) LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert row is not None, "the fixture's second crawl must capture the updated article"
    browser.navigate(f"{server}/article?id={urllib.parse.quote(row[0])}")
    assert (
        browser.evaluate(
            "document.querySelectorAll('#versions .diff ins, #versions .diff del').length"
        )
        >= 1
    )


FUZZ_ALPHABET = list("abcxyz\"()*:-+[]{}~^!?\\/.,;'&|<>% \t") + [
    "AND",
    "OR",
    "NOT",
    "title:",
    "outlet:",
]


def _fuzz_queries(n: int, seed: int = 14) -> list[str]:
    rng = random.Random(seed)
    out = [
        "",
        " ",
        '"',
        "(",
        ")",
        "*",
        "AND",
        "OR OR",
        "title:",
        "[1 TO",
        "\x00",
        "é" * 50,
        "a" * 900,
    ]
    while len(out) < n:
        out.append("".join(rng.choice(FUZZ_ALPHABET) for _ in range(rng.randint(1, 25))))
    return out[:n]


def test_fuzzed_queries_never_500(server):
    codes = {}
    for q in _fuzz_queries(200):
        params = {"q": q}
        status, body, headers = _get(server, "/?" + urllib.parse.urlencode(params))
        assert status in (200, 400), (q, status, body[:300])
        assert "default-src 'none'" in headers["content-security-policy"]
        codes[status] = codes.get(status, 0) + 1
    assert codes.get(400, 0) >= 10 and codes.get(200, 0) >= 10, codes


def crafted_paths() -> list[str]:
    base = [
        "/static/../app.py",
        "/static/../../pyproject.toml",
        "/static/%2e%2e/app.py",
        "/static/%2e%2e%2fapp.py",
        "/static/..%2f..%2fpyproject.toml",
        "/static/%252e%252e/app.py",
        "/static/....//....//etc/passwd",
        "/static/..\\..\\app.py",
        "/static/%5c..%5capp.py",
        "/static//etc/passwd",
        "/static/%00",
        "/static/style.css%00.py",
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/capture?id=../../etc/passwd",
        "/capture?id=%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/article?id=../../etc/passwd",
        "/article?id=%27%3B%20DROP%20TABLE%20articles%3B--",
        "/story?id=../../secret",
        "/replay?id=/etc/passwd",
        "/export?q=a&fmt=../../../etc/passwd",
        "/export?q=a&fmt=parquet",
        "/health?days=-1",
        "/health?days=99999999999999999999",
        "/health?days=abc",
        "/?q=a&page=-5",
        "/?q=a&page=99999999999",
        "/?q=a&since=2026-13-45",
        "/?q=a&until=yesterday",
        "/?q=a&by=../../x",
        "/?q=a&outlet=" + "x" * 2000,
        "/?q=" + "a" * 3000,
        "/?q=" + "%22" * 1000,
        "/?" + "&".join(f"outlet=o{i}" for i in range(200)),
        "/" + "a/" * 1000,
        "/?q=" + "b" * 9000,
        "/static/" + "x" * 5000,
        "/article",
        "/story",
        "/capture",
        "/replay",
        "/export",
        "/%ff%fe",
        "/?q=%ff%fe%00",
        "/article?id=%00%01%02",
        "//etc/passwd",
        "/static/.",
        "/static/",
        "/.git/config",
        "/archive.duckdb",
    ]
    assert len(base) == 50
    return base


def test_crafted_paths_never_500_nor_escape(archive, server):
    secrets = [b"root:x:0:0", b"[project]", b"[core]", b"DUCK", b"def create_app"]
    for target in crafted_paths():
        status, body, _ = _get(server, target)
        assert status < 500 or status == 503, (target, status, body[:300])
        for s in secrets:
            assert s not in body, (target, s)


def test_archive_locked_by_writer_gives_message_not_500(archive, server):
    from newsarchive.index.db import connect

    con = connect(archive / "archive.duckdb", read_only=False)
    try:
        t0 = time.monotonic()
        status, body, _ = _get(server, "/health")
        waited = time.monotonic() - t0
    finally:
        con.close()
    assert status == 503 and b"archive is busy" in body
    assert waited >= 2  # it retried before giving up
    assert _get(server, "/health")[0] == 200


def test_no_endpoint_writes(server):
    host, port = server.removeprefix("http://").split(":")
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request(method, "/", body=b"x=1")
        assert conn.getresponse().status == 405
        conn.close()
