"""WARC building blocks on real files: records, CDXJ, discovery, check and repair."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsarchive.warc import (
    CdxjEntry,
    check_file,
    index_file,
    iter_members,
    read_discovery,
    read_record,
    repair_file,
    surt,
)
from newsarchive.warc.discovery import discovery_fields
from newsarchive.warc.files import NAME_RE, OPEN_SUFFIX, RotatingWarcFiles
from newsarchive.warc.records import (
    build_fields_record,
    build_http_record,
    response_head,
)

ROOT = Path(__file__).resolve().parents[1]
WARCIO = ROOT / ".venv" / "bin" / "warcio"


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(WARCIO), "check", str(path)], capture_output=True, text=True)


def write_sample(directory: Path, n: int = 5, max_size: int = 10**9) -> list[Path]:
    """Write ``n`` response/metadata pairs through the real rotating writer."""

    def start(wf):
        wf.append(
            build_fields_record(
                "warcinfo",
                None,
                datetime.now(UTC),
                [("software", "t")],
                extra={"WARC-Filename": wf.name},
            ).member
        )

    files = RotatingWarcFiles(directory, "unit", max_size, start)
    for i in range(n):
        body = gzip.compress((f"<html><p>page {i}</p>" + "x" * (300 * i) + "</html>").encode())
        head = response_head(
            "HTTP/1.1",
            200,
            [(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip")],
            len(body),
        )
        now = datetime.now(UTC)
        resp = build_http_record("response", f"https://example.com/p/{i}?a=1", now, head, body)
        meta = build_fields_record(
            "metadata",
            f"https://example.com/p/{i}?a=1",
            now,
            [("via", "https://example.com/")],
            extra={"WARC-Concurrent-To": resp.record_id},
        )
        wf = files.for_group(len(resp.member) + len(meta.member))
        offset, length = wf.append(resp.member)
        wf.append(meta.member)
        wf.entries.append(
            CdxjEntry(
                f"https://example.com/p/{i}?a=1",
                now.strftime("%Y%m%d%H%M%S"),
                "text/html",
                200,
                resp.payload_digest,
                length,
                offset,
                wf.name,
                resp.record_id,
            )
        )
    files.rotate()
    return files.closed


def test_surt_matches_pywb_form():
    assert surt("https://www.NYPost.com/2024/01/02/Foo-Bar/?b=2&a=1") == (
        "com,nypost)/2024/01/02/foo-bar?a=1&b=2"
    )
    assert surt("http://example.com:8080/x") == "com,example:8080)/x"
    assert surt("http://127.0.0.1:8000/p?q=A") == "1,0,0,127:8000)/p?q=a"


def test_response_head_describes_stored_bytes():
    headers = [
        (b"Transfer-Encoding", b"chunked"),
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
        (b"Content-Type", b"text/html"),
    ]
    head = response_head("HTTP/1.1", 301, headers, 12)
    assert head.startswith(b"HTTP/1.1 301 Moved Permanently\r\n")
    assert b"Transfer-Encoding" not in head
    assert head.count(b"Set-Cookie:") == 2
    assert b"Content-Length: 12\r\n" in head
    stale = response_head("HTTP/1.1", 200, [(b"Content-Length", b"999")], 12)
    assert b"Content-Length: 12\r\n" in stale and b"Orig-Content-Length: 999" in stale


def test_discovery_round_trip(tmp_path):
    disc = {
        "source": "news_sitemap",
        "source_url": "https://x.com/news.xml",
        "lastmod": "2026-01-01T00:00:00+00:00",
        "published": None,
        "title": "A title,\nwith a newline",
        "keywords": ["Politics", "Elections, 2026"],
    }
    rec = build_fields_record(
        "metadata",
        "https://x.com/a",
        datetime.now(UTC),
        discovery_fields(disc, "x", "https://x.com/"),
    )
    path = tmp_path / "m.warc.gz"
    path.write_bytes(rec.member)
    got = read_discovery(read_record(path, 0, len(rec.member)))
    assert got["source"] == "news_sitemap"
    assert got["source_url"] == "https://x.com/news.xml"
    assert got["published"] is None
    assert got["title"] == "A title, with a newline"
    assert got["keywords"] == ["Politics", "Elections 2026"]
    assert got["outlet"] == "x" and got["via"] == "https://x.com/"
    # warcio's own reader works too.
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        found = [read_discovery(r)["source_url"] for r in ArchiveIterator(fh)]
    assert found == ["https://x.com/news.xml"]


def test_files_named_indexed_and_readable(tmp_path):
    paths = write_sample(tmp_path, n=4)
    assert len(paths) == 1 and NAME_RE.match(paths[0].name)
    assert not list(tmp_path.glob("*" + OPEN_SUFFIX))
    entries = index_file(paths[0])
    assert len(entries) == 4
    cdxj = (tmp_path / (paths[0].name + ".cdxj")).read_text().splitlines()
    assert cdxj == sorted(cdxj) and len(cdxj) == 4
    for e in entries:
        rec = read_record(paths[0], e.offset, e.length)
        assert rec.url == e.url and rec.type == "response"
        assert b"<p>page" in rec.decoded_payload()
    assert warcio_check(paths[0]).returncode == 0
    assert check_file(paths[0]).ok


def test_rotation_keeps_groups_and_warcinfo(tmp_path):
    paths = write_sample(tmp_path, n=12, max_size=1500)
    assert len(paths) >= 3
    for p in paths:
        members = list(iter_members(p))
        assert members[0].records[0].type == "warcinfo"
        types = [m.records[0].type for m in members[1:]]
        assert types == ["response", "metadata"] * (len(types) // 2)  # pairs never split


@pytest.mark.parametrize("tail", ["half_member", "garbage", "both"])
def test_repair_cuts_torn_tail(tmp_path, tail):
    (good,) = write_sample(tmp_path / "src", n=6)
    members = list(iter_members(good))
    torn = tmp_path / (good.name + OPEN_SUFFIX)
    data = good.read_bytes()
    last = members[-1]
    extra = b""
    if tail in ("half_member", "both"):
        extra += data[last.offset : last.offset + last.length // 2]
    if tail in ("garbage", "both"):
        extra += b"\x00garbage that is not gzip" * 7
    torn.write_bytes(data + extra)
    assert not check_file(torn).ok
    if tail == "garbage":  # warcio check silently accepts a truncated last member
        assert warcio_check(torn).returncode != 0
    result = repair_file(torn)
    assert result.path == tmp_path / good.name and not torn.exists()
    assert result.kept == len(members)
    assert result.path.read_bytes() == data  # every complete record kept, tail cut exactly
    assert warcio_check(result.path).returncode == 0
    assert check_file(result.path).ok
    assert (tmp_path / (good.name + ".cdxj")).read_text().count("\n") == 6


def test_repair_skips_garbage_in_the_middle(tmp_path):
    (good,) = write_sample(tmp_path / "src", n=4)
    members = list(iter_members(good))
    data = good.read_bytes()
    cut = members[2].offset
    bad = tmp_path / good.name
    bad.write_bytes(data[:cut] + b"junk" * 50 + data[cut:])
    report = check_file(bad)
    assert not report.ok and report.records == len(members)
    result = repair_file(bad)
    assert result.kept == len(members) and result.path.read_bytes() == data
    assert warcio_check(result.path).returncode == 0


def test_check_catches_what_warcio_check_misses(tmp_path):
    """A decoded body that kept its gzip Content-Encoding / stale length breaks replay."""
    body = b"<html>" + b"decoded already " * 50 + b"</html>"
    bad_head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: 106\r\n\r\n"
    )
    rec = build_http_record("response", "https://example.com/", datetime.now(UTC), bad_head, body)
    path = tmp_path / "bad.warc.gz"
    path.write_bytes(rec.member)
    assert warcio_check(path).returncode == 0
    report = check_file(path)
    text = "\n".join(report.errors)
    assert "Content-Length 106" in text and "does not decode as gzip" in text
    chunked_head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    rec2 = build_http_record(
        "response", "https://example.com/c", datetime.now(UTC), chunked_head, b"plain body"
    )
    path2 = tmp_path / "bad2.warc.gz"
    path2.write_bytes(rec2.member)
    assert any("chunked" in e for e in check_file(path2).errors)


def test_cli_check_and_repair_exit_codes(tmp_path):
    (good,) = write_sample(tmp_path, n=3)
    torn = tmp_path / "x-20260101000000000-00000-h.warc.gz.open"
    shutil.copy(good, torn)
    with open(torn, "ab") as fh:
        fh.write(b"\x1f\x8b\x08\x00torn")
    cli = [sys.executable, "-m", "newsarchive"]
    res = subprocess.run(
        cli + ["warc", "check", str(tmp_path)], capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 1 and "BAD" in res.stdout and "truncated" in res.stdout
    res = subprocess.run(
        cli + ["warc", "repair", str(tmp_path)], capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run(
        cli + ["warc", "check", str(tmp_path)], capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 0, res.stdout
    repaired = tmp_path / "x-20260101000000000-00000-h.warc.gz"
    assert hashlib.sha1(repaired.read_bytes()).digest() == hashlib.sha1(good.read_bytes()).digest()


def test_revisit_index_streams_cdxj_and_accepts_pywb_entries(tmp_path):
    from newsarchive.warc.writer import RevisitIndex

    (tmp_path / "a.warc.gz.cdxj").write_text(
        'com,x)/a 20260101000000 {"url": "https://x.com/a", "mime": "text/html", '
        '"status": "200", "digest": "AAAA", "length": "10", "offset": "0", '
        '"filename": "a.warc.gz"}\n'
        'com,x)/a 20260102000000 {"url": "https://x.com/a", "mime": "warc/revisit", '
        '"status": "200", "digest": "AAAA", "length": "10", "offset": "10", '
        '"filename": "a.warc.gz", "record_id": "<urn:uuid:r>"}\n'
        "not a cdxj line\n"
    )
    (tmp_path / "b.warc.gz.cdxj").write_text(
        'com,x)/b 20260103000000 {"url": "https://x.com/b", "mime": "text/html", '
        '"digest": "sha1:BBBB", "length": "5", "offset": "0", "filename": "b.warc.gz", '
        '"record_id": "<urn:uuid:b>"}\n'
    )
    idx = RevisitIndex(max_urls=10)
    assert idx.load(tmp_path) == 2
    a, b = idx.get("https://x.com/a"), idx.get("https://x.com/b")
    assert a.digest == "sha1:AAAA" and a.record_id == "" and a.date == "2026-01-01T00:00:00Z"
    assert b.record_id == "<urn:uuid:b>"
    small = RevisitIndex(max_urls=1)
    small.load(tmp_path)
    assert len(small.by_url) == 1 and small.full


def test_show_reports_missing_capture(tmp_path):
    write_sample(tmp_path, n=1)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsarchive",
            "show",
            "https://example.com/none",
            "--warc-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 1 and "no capture" in res.stderr
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsarchive",
            "show",
            "https://example.com/p/0?a=1",
            "--warc-dir",
            str(tmp_path),
            "--html",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0 and "<p>page 0</p>" in res.stdout
