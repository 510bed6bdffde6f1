"""Bad records and bounded tools (issue 17, points 3 and 4).

One WARC holds, between good article captures, a record whose ``WARC-Date`` is not a date,
a stored gzip bomb (1 MB on disk, 1 GiB inflated) and a page of 200,000 sibling paragraphs.
``warc check``, ``warc repair``, ``cdxj``, ``show`` and ``reindex`` run through the real CLI
(a subprocess each): every one ends with its report and documented exit code, never a
traceback, and the summed RSS of its process tree (extraction workers included) stays
under ``RSS_BOUND_MB``. The crawl side: the WarcWriter stores a body it refuses as a
``WARC-Truncated: length`` record without the body.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from newsarchive.extract.proctree import tree_rss
from newsarchive.warc.records import (
    DECODE_LIMIT,
    BodyTooLarge,
    build_fields_record,
    build_http_record,
    decode_content,
    response_head,
)
from newsarchive.warc.scan import iter_members

ROOT = Path(__file__).resolve().parents[1]
RSS_BOUND_MB = 500
HOST = "https://nypost.com"
BAD_DATE = "not-a-date"
WHEN = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def article_url(i: int) -> str:
    return f"{HOST}/2026/05/{i:02d}/harbour-ferry-story-{i}/"


GOOD = [article_url(i) for i in (1, 3, 6)]
BAD_URL = article_url(2)
BOMB_URL = article_url(4)
HUGE_URL = article_url(5)


def _page(i: int) -> bytes:
    paras = "".join(
        f"<p>Paragraph {k} of story {i}: the harbour council voted on the winter ferry "
        f"timetable after a long debate about crossings, fares and the old pier.</p>"
        for k in range(8)
    )
    return (
        f"<html><head><title>Ferry story {i}</title></head><body><article>"
        f"<h1>Ferry story {i}</h1>{paras}</article></body></html>"
    ).encode()


def _response(url: str, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> bytes:
    hdrs = [(b"Content-Type", b"text/html; charset=utf-8"), *(headers or [])]
    head = response_head("HTTP/1.1", 200, hdrs, len(body))
    return build_http_record("response", url, WHEN, head, body).member


def _with_bad_date(member: bytes) -> bytes:
    raw = zlib.decompress(member, 16 + zlib.MAX_WBITS)
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = [
        b"WARC-Date: " + BAD_DATE.encode() if ln.startswith(b"WARC-Date:") else ln
        for ln in head.split(b"\r\n")
    ]
    return gzip.compress(b"\r\n".join(lines) + sep + rest, mtime=0)


def _bomb() -> bytes:
    """A gzip stream of 1 GiB of zeros (about 1 MB), compressed a MiB at a time."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(1024)]
    return b"".join([*parts, packer.flush()])


def _huge_page() -> bytes:
    paras = "".join(f"<p>Line {k} of the endless page.</p>" for k in range(200_000))
    return (
        f"<html><head><title>Endless</title></head><body><div>{paras}</div></body></html>".encode()
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> dict:
    return build_source(tmp_path_factory.mktemp("badrecords"))


def build_source(base: Path) -> dict:
    """warc/bad.warc.gz: warcinfo, good, bad date, good, bomb, huge page, good."""
    d = base / "warc"
    d.mkdir()
    gz = [(b"Content-Encoding", b"gzip")]
    members = [
        build_fields_record("warcinfo", None, WHEN, [("software", "test")]).member,
        _response(GOOD[0], _page(1)),
        _with_bad_date(_response(BAD_URL, _page(2))),
        _response(GOOD[1], _page(3)),
        _response(BOMB_URL, _bomb(), gz),
        _response(HUGE_URL, gzip.compress(_huge_page(), 6), gz),
        _response(GOOD[2], _page(6)),
    ]
    offsets, pos = [], 0
    for m in members:
        offsets.append(pos)
        pos += len(m)
    path = d / "bad.warc.gz"
    path.write_bytes(b"".join(members))
    return {"dir": d, "path": path, "bad_offset": offsets[2], "bad_length": len(members[2])}


@pytest.fixture
def warc(source, tmp_path) -> Path:
    """A private copy of the WARC directory (repair and cdxj write into it)."""
    d = tmp_path / "warc"
    shutil.copytree(source["dir"], d)
    return d


def _cli(*args: str, cwd: Path, timeout: float = 240) -> dict:
    """Run ``python -m newsarchive ARGS``; rc, output and peak RSS of the whole process tree
    (polled from /proc every 50 ms, so extraction workers count; RUSAGE_CHILDREN would mix in
    every earlier child of this test process)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsarchive", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peak = 0
    deadline = time.monotonic() + timeout
    import threading

    outs: dict[str, bytes] = {}

    def drain() -> None:
        outs["out"], outs["err"] = proc.communicate()

    reader = threading.Thread(target=drain)
    reader.start()
    while reader.is_alive() and time.monotonic() < deadline:
        peak = max(peak, tree_rss(proc.pid))
        reader.join(0.05)
    if reader.is_alive():
        proc.kill()
        reader.join()
        pytest.fail(f"{args[0]} did not finish in {timeout} s")
    err = outs["err"].decode("utf-8", "replace")
    assert "Traceback" not in err, err[-3000:]
    return {
        "rc": proc.returncode,
        "out": outs["out"].decode("utf-8", "replace"),
        "err": err,
        "peak_mb": peak / 2**20,
    }


def test_stored_bomb_decodes_only_to_the_crawl_limit(source):
    from newsarchive import settings

    assert DECODE_LIMIT == settings.DOWNLOAD_MAXSIZE
    bomb = next(
        r for m in iter_members(source["path"]) if m.ok for r in m.records if r.url == BOMB_URL
    )
    with pytest.raises(BodyTooLarge, match="decompression limit"):
        bomb.decoded_payload()
    with pytest.raises(BodyTooLarge):
        decode_content(bomb.payload, ["gzip"])  # no caller gets an unbounded default


def test_every_reader_sees_the_bad_record_as_one_skipped_member(source):
    members = list(iter_members(source["path"]))
    bad = [m for m in members if not m.ok]
    assert [(m.offset, m.length) for m in bad] == [(source["bad_offset"], source["bad_length"])]
    assert f"WARC-Date {BAD_DATE!r} is not a date" in bad[0].error
    urls = [r.url for m in members if m.ok for r in m.records]
    assert urls == ["", GOOD[0], GOOD[1], BOMB_URL, HUGE_URL, GOOD[2]]


def test_plain_warc_skips_exactly_the_bad_record(source, tmp_path):
    raw = b"".join(
        zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(m)
        for m in _split_members(source["path"].read_bytes())
    )
    plain = tmp_path / "bad.warc"
    plain.write_bytes(raw)
    members = list(iter_members(plain))
    assert sum(not m.ok for m in members) == 1
    assert [r.url for m in members if m.ok for r in m.records][-1] == GOOD[2]


def _split_members(data: bytes) -> list[bytes]:
    out = []
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        d.decompress(data, 1)  # only to find where this member ends
        while not d.eof:
            d.decompress(d.unconsumed_tail, 1 << 20)
        end = len(data) - len(d.unused_data)
        out.append(data[:end])
        data = d.unused_data
    return out


def test_check_reports_file_offset_and_problem(warc, source):
    r = _cli("warc", "check", str(warc), cwd=warc.parent)
    assert r["rc"] == 1, r
    assert f"BAD     {warc / 'bad.warc.gz'}" in r["out"]
    assert f"offset {source['bad_offset']} (+{source['bad_length']} bytes)" in r["out"]
    assert f"WARC-Date {BAD_DATE!r} is not a date" in r["out"]
    assert "0 of 1 files OK" in r["out"]
    assert r["peak_mb"] <= RSS_BOUND_MB, r["peak_mb"]


def test_repair_drops_the_bad_record_and_says_which(warc, source):
    r = _cli("warc", "repair", str(warc), cwd=warc.parent)
    assert r["rc"] == 0, r
    assert r["out"].startswith("REPAIRED"), r["out"]
    assert "kept 6 records" in r["out"] and f"offset {source['bad_offset']}" in r["out"]
    assert "is not a date" in r["out"] and "original kept as bad.warc.gz.bak" in r["out"]
    assert r["peak_mb"] <= RSS_BOUND_MB, r["peak_mb"]
    again = _cli("warc", "check", str(warc / "bad.warc.gz"), cwd=warc.parent)
    assert again["rc"] == 0 and "OK      " in again["out"], again
    urls = [r.url for m in iter_members(warc / "bad.warc.gz") for r in m.records]
    assert BAD_URL not in urls and {*GOOD, BOMB_URL, HUGE_URL} <= set(urls)


def test_cdxj_and_show_skip_the_bad_record_and_refuse_the_bomb(warc, source):
    r = _cli("cdxj", str(warc), cwd=warc.parent)
    assert r["rc"] == 0, r
    assert f"offset {source['bad_offset']}" in r["err"] and "is not a date" in r["err"]
    index = (warc / "bad.warc.gz.cdxj").read_text()
    assert BOMB_URL.split("//")[1].split("/")[0].split(".")[0] in index
    assert "harbour-ferry-story-2/" not in index and "harbour-ferry-story-6/" in index
    shown = _cli("show", GOOD[2], "--warc-dir", str(warc), cwd=warc.parent)
    assert shown["rc"] == 0 and "status:    HTTP/1.1 200 OK" in shown["out"], shown
    missing = _cli("show", BAD_URL, "--warc-dir", str(warc), cwd=warc.parent)
    assert missing["rc"] == 1 and missing["err"].startswith("no capture of"), missing
    bomb = _cli("show", BOMB_URL, "--html", "--warc-dir", str(warc), cwd=warc.parent)
    assert bomb["rc"] == 1 and "decompression limit" in bomb["err"], bomb
    assert bomb["err"].strip().count("\n") == 0 and not bomb["out"]
    for run in (shown, bomb):
        print("peak RSS MB", run["peak_mb"])
        assert run["peak_mb"] <= RSS_BOUND_MB, run["peak_mb"]


def test_show_text_of_the_endless_page_stays_bounded(warc):
    huge = _cli("show", HUGE_URL, "--text", "--warc-dir", str(warc), cwd=warc.parent)
    print("show --text peak RSS MB", huge["peak_mb"])
    assert huge["rc"] in (0, 1), huge
    assert huge["peak_mb"] <= RSS_BOUND_MB, huge["peak_mb"]


def test_reindex_records_bad_record_bomb_and_slow_page(warc, source):
    db = warc.parent / "archive.duckdb"
    r = _cli(
        "reindex", str(warc), "--db", str(db), "--workers", "1", "--extract-timeout", "3",
        "--no-fts", "-q", cwd=warc.parent,
    )  # fmt: skip
    assert r["rc"] == 0, r
    assert "reindexed 1 WARC file(s)" in r["err"], r["err"]
    print("reindex peak RSS MB", r["peak_mb"])
    assert r["peak_mb"] <= RSS_BOUND_MB, r["peak_mb"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        articles = {u for (u,) in con.execute("SELECT url FROM articles").fetchall()}
        captures = {u for (u,) in con.execute("SELECT url FROM captures").fetchall()}
        errors = con.execute("SELECT url, kind, detail FROM fetch_errors").fetchall()
    finally:
        con.close()
    assert set(GOOD) <= articles and BOMB_URL not in articles and BAD_URL not in articles
    assert BAD_URL not in captures and {*GOOD, BOMB_URL, HUGE_URL} <= captures
    warc_errors = [(u, d) for u, k, d in errors if k == "warc"]
    assert warc_errors == [
        (
            f"bad.warc.gz@{source['bad_offset']}",
            f"bad WARC record: WARC-Date {BAD_DATE!r} is not a date "
            f"({source['bad_length']} bytes skipped)",
        )
    ]
    assert [(u, k) for u, k, _ in errors if u == BOMB_URL] == [(BOMB_URL, "bomb")]
    # The endless page is extracted or times out; either way it is accounted for.
    huge_kinds = {k for u, k, _ in errors if u == HUGE_URL}
    assert (HUGE_URL in articles) != bool(huge_kinds & {"extract:timeout", "extract:crash"})


def test_crawl_stores_a_refused_body_as_a_truncated_record(tmp_path):
    """The WarcWriter (what the crawl runs) keeps the head of a response whose body inflates
    past DOWNLOAD_MAXSIZE but not the body, marked ``WARC-Truncated: length``; a normal
    gzip page beside it is stored byte for byte."""
    from scrapy import Request, Spider
    from scrapy.http import HtmlResponse
    from scrapy.utils.test import get_crawler

    from newsarchive.warc.writer import WarcWriter

    crawler = get_crawler(
        Spider,
        {
            "NEWSARCHIVE_WARC_DIR": str(tmp_path / "warc"),
            "NEWSARCHIVE_WARC_REVISITS": False,
            "DOWNLOAD_MAXSIZE": 4 * 1024 * 1024,
        },
    )
    spider = Spider(name="t")
    writer = WarcWriter.from_crawler(crawler)
    writer.spider_opened(spider)
    # 8 MiB of zeros: 8 KB gzipped, twice the limit inflated.
    bomb_body = gzip.compress(bytes(8 << 20), 6)
    page_body = gzip.compress(_page(1), 6)
    for url, body in ((BOMB_URL, bomb_body), (GOOD[0], page_body)):
        headers = {
            "Content-Encoding": "gzip",
            "Content-Type": "text/html",
            "Content-Length": str(len(body)),
        }
        resp = HtmlResponse(url, body=body, headers=headers, request=Request(url))
        writer.response_downloaded(resp, resp.request, spider)
    writer.spider_closed(spider, "finished")
    (path,) = (tmp_path / "warc").glob("*.warc.gz")
    recs = {r.url: r for m in iter_members(path) for r in m.records if r.type == "response"}
    bomb, page = recs[BOMB_URL], recs[GOOD[0]]
    assert bomb.truncated == "length" and bomb.payload == b""
    assert bomb.http_header("Content-Encoding") == "gzip"
    assert bomb.http_header("X-Newsarchive-Orig-Content-Length") == str(len(bomb_body))
    assert page.truncated is None and page.payload == page_body
    check = _cli("warc", "check", str(path), cwd=tmp_path)
    assert check["rc"] == 0, check
