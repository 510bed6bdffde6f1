"""The fault replica (issue 10, point 6): one real crawl of an outlet with every fault on.

One ``newsarchive crawl`` (real Scrapy engine, subprocess) of nypost with all faults of
``newsarchive.replica.faults``: the crawl finishes, every fault is in ``fetch_errors`` with
its own kind, no challenge/binary/truncated... page becomes an ``articles`` row, the
charset pages are still extracted with the right text, and the crawl's peak RSS stays
under ``RSS_BOUND_MB`` although the gzip bomb inflates to 1 GiB and the huge page is 50 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from newsarchive.replica import Replica
from newsarchive.replica.faults import FAULTS, STILL_ARTICLES, expand, parse_spec

ROOT = Path(__file__).resolve().parents[1]
# Peak RSS (ru_maxrss of the crawl process and its extraction workers, whichever is largest).
# Without the decompression bound the bomb alone needs more than 1 GiB.
RSS_BOUND_MB = 400
CRAWL_SECONDS = 60
SETTINGS = (
    "DOWNLOAD_TIMEOUT=4",  # the timeout fault costs 4 of these, the slow one 2
    "RETRY_TIMES=1",
    "NEWSARCHIVE_RETRY_AFTER_TIMES=1",
    "NEWSARCHIVE_EXTRACT_WORKERS=1",
)


def _crawl_measured(tmp: Path, replica: Replica, outlets: list[str]) -> dict:
    """``newsarchive crawl`` in a subprocess; returns rc, seconds, output and peak RSS."""
    cmd = [
        sys.executable,
        "-m",
        "newsarchive",
        "crawl",
        "--outlets",
        ",".join(outlets),
        "--fast",
        "--db",
        str(tmp / "archive.duckdb"),
        "--warc-dir",
        str(tmp / "warc"),
    ]
    for s in SETTINGS:
        cmd += ["-s", s]
    env = {**os.environ, **replica.env(), "PYTHONPATH": str(ROOT)}
    out, err = tmp / "crawl.out", tmp / "crawl.err"
    started = time.monotonic()
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=fo, stderr=fe)
        timer = threading.Timer(CRAWL_SECONDS * 2, proc.kill)
        timer.start()
        try:
            # wait4, not wait: its rusage is this crawl's (and its waited-for workers'), not
            # every child this test process ever had.
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "rc": proc.returncode,
        "seconds": time.monotonic() - started,
        "stdout": out.read_text(),
        "stderr": err.read_text(),
        "maxrss_mb": usage.ru_maxrss / 1024,
    }


@pytest.fixture(scope="module")
def fault_crawl(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    replica = Replica(seed=0, articles_per_outlet=3, faults={"nypost": ["all"]})
    replica.start()
    try:
        run = _crawl_measured(tmp, replica, ["nypost"])
    finally:
        replica.stop()
    con = duckdb.connect(str(tmp / "archive.duckdb"), read_only=True)
    try:
        run["errors"] = con.execute("SELECT kind, url, detail FROM fetch_errors").fetchall()
        run["articles"] = con.execute(
            "SELECT url, title, text, is_article FROM articles"
        ).fetchall()
    finally:
        con.close()
    run["tmp"] = tmp
    run["plan"] = replica.fault_plans["nypost"]
    run["replica"] = replica
    print(f"fault crawl: {run['seconds']:.1f} s, peak RSS {run['maxrss_mb']:.0f} MB")
    return run


def test_fault_crawl_finishes_in_time(fault_crawl):
    assert fault_crawl["rc"] == 0, fault_crawl["stderr"][-3000:]
    assert "crawl ok" in fault_crawl["stdout"]
    assert fault_crawl["seconds"] < CRAWL_SECONDS
    assert "Traceback" not in fault_crawl["stdout"]


def test_every_fault_recorded_with_its_own_kind(fault_crawl):
    plan = fault_crawl["plan"]
    assert len(plan.pages) == len(FAULTS) >= 14
    assert len({p.expect for p in plan.pages.values()}) == len(plan.pages)  # one kind each
    recorded: dict[str, set[str]] = {}
    for kind, url, _ in fault_crawl["errors"]:
        recorded.setdefault(url, set()).add(kind)
    for page in plan.pages.values():
        urls = {page.url}
        if page.fault == "redirect_loop":
            urls.add(plan.loop_partner)  # the loop shows at whichever hop closes it
        kinds = set().union(*(recorded.get(u, set()) for u in urls))
        assert page.expect in kinds, f"{page.fault}: expected {page.expect}, got {kinds}"
    # No fault page is recorded under another fault's kind.
    expected_by_url = {p.url: p.expect for p in plan.pages.values()}
    for kind, url, _ in fault_crawl["errors"]:
        if url in expected_by_url:
            assert kind == expected_by_url[url], (url, kind)


def test_no_fault_page_becomes_an_article(fault_crawl):
    plan = fault_crawl["plan"]
    by_url = {row[0]: row for row in fault_crawl["articles"]}
    for page in plan.pages.values():
        if page.fault in STILL_ARTICLES:
            continue
        assert page.url not in by_url, f"{page.fault} page indexed as an article"
    assert plan.loop_partner not in by_url
    # The rest of the outlet is archived as usual.
    truth = fault_crawl["replica"].truth("nypost")
    normal = [t for t in truth if t.kind == "article" and t.in_window]
    assert normal and all(t.url in by_url and by_url[t.url][3] for t in normal)


def test_charset_pages_are_extracted_correctly(fault_crawl):
    plan = fault_crawl["plan"]
    by_url = {row[0]: row for row in fault_crawl["articles"]}
    for fault in STILL_ARTICLES:
        page = plan.by_fault(fault)
        truth = plan.truth(page.url)
        assert page.url in by_url, f"{fault} page was not indexed"
        _, title, text, is_article = by_url[page.url]
        assert is_article and title == page.title  # "café naïve, “quoted” (€5)" intact
        assert all(p in text for p in truth.paragraphs if "“" in p or "’" in p)
        assert truth.paragraphs[0] in text and truth.paragraphs[-1] in text


def test_memory_stays_bounded(fault_crawl):
    assert 0 < fault_crawl["maxrss_mb"] < RSS_BOUND_MB, fault_crawl["maxrss_mb"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "newsarchive", *args]
    return subprocess.run(cmd, capture_output=True, cwd=cwd, env=env, timeout=60)


def test_archived_faults_read_back_safely(fault_crawl):
    """The WARCs stay valid; the bomb's capture keeps its head but not the refused body
    (``WARC-Truncated: length``), and ``show --html`` says so in one line."""
    tmp, plan = fault_crawl["tmp"], fault_crawl["plan"]
    check = _cli("warc", "check", str(tmp / "warc"), cwd=tmp)
    assert check.returncode == 0, check.stdout + check.stderr
    bomb = plan.by_fault("bomb").url
    assert _cli("show", bomb, "--warc-dir", str(tmp / "warc"), cwd=tmp).returncode == 0
    shown = _cli("show", bomb, "--html", "--warc-dir", str(tmp / "warc"), cwd=tmp)
    err = shown.stderr.decode()
    assert shown.returncode == 1 and "decompression limit" in err and "Traceback" not in err
    assert err.strip().count("\n") == 0 and not shown.stdout


def test_reindex_of_the_fault_warcs_gives_the_same_articles(fault_crawl):
    """``reindex`` applies the same page checks: the binary and challenge captures in the
    WARC do not become articles there either, and the charset pages decode the same way."""
    tmp = fault_crawl["tmp"]
    db = tmp / "reindexed.duckdb"
    done = _cli("reindex", str(tmp / "warc"), "--db", str(db), "--no-fts", "-q", cwd=tmp)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    con = duckdb.connect(str(db), read_only=True)
    try:
        again = con.execute("SELECT url, title, is_article FROM articles").fetchall()
        kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM fetch_errors").fetchall()}
    finally:
        con.close()
    assert sorted(again) == sorted((u, t, a) for u, t, _, a in fault_crawl["articles"])
    assert {"binary", "challenge", "charset_wrong"} <= kinds


def test_fault_specs_and_cli_errors(tmp_path):
    assert parse_spec("nypost:reset, nypost:charset,cbc:all") == {
        "nypost": ["reset", "charset_missing", "charset_wrong"],
        "cbc": list(FAULTS),
    }
    assert expand(["all"]) == list(FAULTS)
    with pytest.raises(ValueError, match="unknown fault"):
        parse_spec("nypost:meteor")
    with pytest.raises(ValueError, match="unknown outlet"):
        Replica(faults={"nosuch": ["reset"]})
    proc = subprocess.run(
        [sys.executable, "-m", "newsarchive", "replica", "--port", "0", "--faults", "nypost"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "OUTLET:FAULT" in proc.stderr
    assert "Traceback" not in proc.stderr


def _page(body: bytes, ctype: bytes):
    from scrapy.http import HtmlResponse

    return HtmlResponse("https://nypost.com/x", body=body, headers={"Content-Type": ctype})


def test_charset_checks_decide_by_the_bytes():
    from newsarchive.fetcherrors import charset_problem

    text = "<html><body><p>Caf\u00e9 \u201cquoted\u201d \u00a35</p></body></html>"
    utf8, cp1252 = text.encode("utf-8"), text.encode("cp1252")
    assert charset_problem(_page(utf8, b"text/html; charset=utf-8")) is None
    assert charset_problem(_page(cp1252, b"text/html; charset=windows-1252")) is None
    assert charset_problem(_page(b"<p>plain ascii</p>", b"text/html")) is None
    kind, _, enc = charset_problem(_page(utf8, b"text/html; charset=iso-8859-1"))
    assert (kind, enc) == ("charset_wrong", "utf-8")
    kind, _, enc = charset_problem(_page(cp1252, b"text/html; charset=utf-8"))
    assert (kind, enc) == ("charset_wrong", "cp1252")
    kind, _, enc = charset_problem(_page(utf8, b"text/html"))
    assert (kind, enc) == ("charset_missing", None)
    meta = b'<meta charset="utf-8">' + utf8
    assert charset_problem(_page(meta, b"text/html")) is None


def test_real_pages_are_not_flagged(corpus_dir):
    """No page of the shared corpus of real articles trips the binary, challenge or charset
    checks (they drop or re-decode pages, so a false positive would lose an article)."""
    from newsarchive.fetcherrors import body_fault, charset_problem

    pages = sorted(corpus_dir.rglob("*.html"))
    assert len(pages) >= 20
    for path in pages:
        resp = _page(path.read_bytes(), b"text/html; charset=utf-8")
        assert body_fault(resp) is None, path
        assert charset_problem(resp) is None, path


def test_switch_and_stats_of_the_fault_middlewares():
    """Off, nothing is recorded and decompression is still Scrapy's (bounded); on, a bomb is
    counted under newsarchive/fetcherrors/bomb and sent to the index as a fetch_error."""
    from scrapy import Spider
    from scrapy.exceptions import IgnoreRequest, NotConfigured
    from scrapy.http import HtmlResponse, Request
    from scrapy.utils.test import get_crawler

    from newsarchive import signals as na_signals
    from newsarchive.fetcherrors import BoundedDecompressionMiddleware, FetchErrorMiddleware
    from newsarchive.replica.faults import _bomb_body

    bomb = HtmlResponse(
        "https://nypost.com/b",
        body=_bomb_body(),
        headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
    )
    for enabled in (False, True):
        crawler = get_crawler(
            Spider, {"NEWSARCHIVE_FETCHERRORS_ENABLED": enabled, "DOWNLOAD_MAXSIZE": 1 << 20}
        )
        crawler.stats.open_spider()
        sent: list[dict] = []

        def collect(error: dict, _sent: list = sent, **_: object) -> None:
            _sent.append(error)

        crawler.signals.connect(collect, na_signals.fetch_error)  # weakly held: keep `collect`
        if not enabled:
            with pytest.raises(NotConfigured):
                FetchErrorMiddleware.from_crawler(crawler)
        mw = BoundedDecompressionMiddleware.from_crawler(crawler)
        request = Request("https://nypost.com/b")
        with pytest.raises(IgnoreRequest):
            mw.process_response(request, bomb)
        assert crawler.stats.get_value("newsarchive/fetcherrors/bomb") == (1 if enabled else None)
        assert [e["kind"] for e in sent] == (["bomb"] if enabled else [])
        assert request.meta.get("fetch_error") == ("bomb" if enabled else None)
