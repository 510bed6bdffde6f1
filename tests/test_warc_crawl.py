"""End to end: real Scrapy crawls of the replica write WARCs that validate and replay.

Each crawl is a real CrawlerProcess in a subprocess (the reactor cannot restart) with the
WarcWriter enabled, reaching the replica's proxy through http(s)_proxy. Replay is checked
in a real pywb (``make pywb``).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import require

from newsarchive.warc import check_file, iter_members, read_discovery, read_record
from newsarchive.warc.files import NAME_RE, OPEN_SUFFIX
from newsarchive.warc.lookup import all_entries

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
PYWB_BIN = ROOT / ".venv-pywb" / "bin"
EDGE_KEYS = (
    "gzip",
    "chunked",
    "redirect",
    "query_string",
    "set_cookie_twice",
    "windows_1252",
    "binary",
    "not_found",
)

CRAWL_SCRIPT = textwrap.dedent("""
    import json, sys
    from scrapy import Request, Spider, signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings
    import newsarchive.settings as base
    from newsarchive.signals import capture_recorded

    cfg = json.loads(sys.argv[1])
    captures = open(cfg["captures"], "a", encoding="utf-8")

    class WarcTestSpider(Spider):
        name = "warctest"

        @classmethod
        def from_crawler(cls, crawler, *args, **kwargs):
            spider = super().from_crawler(crawler, *args, **kwargs)
            crawler.signals.connect(spider.on_capture, signal=capture_recorded)
            if cfg.get("slow_writer"):
                crawler.signals.connect(spider.slow_writer, signal=signals.engine_started)
            return spider

        def slow_writer(self):
            # Fault injection: the writer thread starts each capture late, after the
            # decompression middleware has run on the reactor (the race it must survive).
            import time
            from newsarchive.warc import WarcWriter
            for ext in self.crawler.extensions.middlewares:
                if isinstance(ext, WarcWriter):
                    capture = ext._capture
                    def late(*args, _capture=capture, **kwargs):
                        time.sleep(0.3)
                        return _capture(*args, **kwargs)
                    ext._capture = late

        def on_capture(self, capture):
            row = dict(capture, fetched_at=capture["fetched_at"].isoformat())
            captures.write(json.dumps(row) + "\\n")
            captures.flush()

        async def start(self):
            for i, url in enumerate(cfg["urls"]):
                yield Request(url, dont_filter=True, meta={"discovery": {
                    "source": "sitemap", "source_url": "https://example.org/sitemap.xml",
                    "lastmod": "2026-01-02T03:04:05+00:00", "published": None,
                    "title": f"title {i}", "keywords": ["k1", "k 2"]}})

        def parse(self, response):
            assert response.meta["warc_record"]["url"]

    settings = Settings()
    settings.setmodule(base)
    settings.update(base.replica_overrides(cfg.get("concurrency", 8)))
    settings.update({"EXTENSIONS": {"newsarchive.warc.WarcWriter": 100},
                     "LOG_LEVEL": "WARNING", "NEWSARCHIVE_CRAWL_DELAY_MAX": 0})
    settings.update(cfg["settings"])
    process = CrawlerProcess(settings)
    process.crawl(WarcTestSpider)
    process.start()
""")


@pytest.fixture(scope="module")
def rep():
    from newsarchive.replica import Replica

    r = Replica(seed=3, articles_per_outlet=12)
    r.start()
    yield r
    r.stop()


class Crawl:
    def __init__(
        self, base: Path, rep, urls, warc_dir: Path, slow_writer: bool = False, **settings
    ):
        self.script = base / "crawl.py"
        self.script.write_text(CRAWL_SCRIPT)
        self.captures_path = base / f"captures-{time.monotonic_ns()}.jsonl"
        self.warc_dir = warc_dir
        cfg = {
            "urls": urls,
            "captures": str(self.captures_path),
            "slow_writer": slow_writer,
            "settings": {
                "NEWSARCHIVE_WARC_DIR": str(warc_dir),
                "NEWSARCHIVE_DB": str(base / "archive.duckdb"),
                **settings,
            },
        }
        env = {**os.environ, **rep.env(), "PYTHONPATH": str(ROOT)}
        self.args = [str(VENV_BIN / "python"), str(self.script), json.dumps(cfg)]
        self.env = env

    def run(self, timeout: float = 120) -> subprocess.CompletedProcess:
        res = subprocess.run(
            self.args,
            env=self.env,
            cwd=self.script.parent,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert res.returncode == 0, res.stderr[-3000:]
        assert "Traceback" not in res.stderr, res.stderr[-3000:]
        return res

    def popen(self) -> subprocess.Popen:
        return subprocess.Popen(
            self.args,
            env=self.env,
            cwd=self.script.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def captures(self) -> list[dict]:
        lines = self.captures_path.read_text().splitlines()
        return [json.loads(line) for line in lines]


def warc_files(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.name.endswith(".warc.gz"))


def all_records(paths):
    for p in paths:
        for m in iter_members(p):
            assert m.ok, (p, m.error)
            for rec in m.records:
                yield p, m, rec


@pytest.fixture(scope="module", params=[False, True], ids=["reactor", "writer-thread"])
def edge(rep, tmp_path_factory, request):
    """The edge cases captured on the reactor and by the writer thread (which must see the
    headers as received, before the decompression middleware edits them)."""
    base = tmp_path_factory.mktemp("edge")
    urls = [rep.edge_cases[k] for k in EDGE_KEYS]
    crawl = Crawl(
        base,
        rep,
        urls,
        base / "warc",
        slow_writer=request.param,
        NEWSARCHIVE_RUN_ID="run-42",
        NEWSARCHIVE_WARC_THREAD=request.param,
    )
    crawl.run()
    return crawl


@pytest.fixture(scope="module")
def articles(rep, tmp_path_factory):
    """Two crawls of the same ~30 articles of an unchanged replica, into one directory."""
    base = tmp_path_factory.mktemp("articles")
    urls = [t.url for key in ("nypost", "bbc", "guardian") for t in rep.truth(key)][:30]
    d = base / "warc"
    first = Crawl(base, rep, urls, d, NEWSARCHIVE_WARC_MAX_SIZE=30_000)
    first.run()
    files1 = warc_files(d)
    time.sleep(1.1)  # second crawl in a later second, so replay can tell the two apart
    second = Crawl(base, rep, urls, d)
    second.run()
    files2 = [p for p in warc_files(d) if p not in files1]
    # without conditional GET the replica answers 200 with the same bytes: digest revisits
    time.sleep(1.1)
    third = Crawl(base, rep, urls[-5:], d, NEWSARCHIVE_CONDITIONAL_ENABLED=False)
    third.run()
    return {
        "urls": urls,
        "dir": d,
        "files1": files1,
        "files2": files2,
        "first": first,
        "second": second,
        "third": third,
    }


def sent_digests(rep, url: str) -> set[str]:
    return {hashlib.sha1(s.body).hexdigest() for s in rep.sent if s.url == url}


# ----------------------------------------------------------------------------- capture


def test_warcio_check_and_own_check_pass(edge, articles):
    paths = warc_files(edge.warc_dir) + warc_files(articles["dir"])
    assert paths
    for p in paths:
        res = subprocess.run(
            [str(VENV_BIN / "warcio"), "check", str(p)], capture_output=True, text=True
        )
        assert res.returncode == 0, res.stdout + res.stderr
        report = check_file(p)
        assert report.ok, report.errors


def test_every_payload_is_what_the_replica_sent(rep, edge):
    paths = warc_files(edge.warc_dir)
    responses = {}
    for _, _, rec in all_records(paths):
        if rec.type == "response":
            responses.setdefault(rec.url, []).append(rec)
            sent = sent_digests(rep, rec.url)
            assert hashlib.sha1(rec.payload).hexdigest() in sent, rec.url
    for key in EDGE_KEYS:
        url = rep.edge_cases[key]
        assert url in responses, f"{key}: {url} not captured"
    # robots.txt of every host is captured too (RobotsTxtMiddleware downloads it)
    assert any(u.endswith("/robots.txt") for u in responses)
    for recs in responses.values():
        assert all(r.header("WARC-IP-Address") == "127.0.0.1" for r in recs)  # the proxy's


def test_warcinfo_starts_each_file(edge):
    for p in warc_files(edge.warc_dir):
        info = next(iter_members(p)).records[0]
        assert info.type == "warcinfo" and info.header("WARC-Filename") == p.name
        fields = dict(line.split(": ", 1) for line in info.block.decode().splitlines())
        assert fields["isPartOf"] == "run-42" and fields["robots"] == "obey"
        assert fields["outlet"] == "warctest" and fields["hostname"]
        assert "scrapy/2.19.0" in fields["software"] and "warcio/" in fields["software"]
        assert fields["format"] == "WARC File Format 1.1"


def test_edge_case_records_keep_http_as_received(rep, edge):
    by_url = {}
    for _, _, rec in all_records(warc_files(edge.warc_dir)):
        by_url.setdefault((rec.type, rec.url), rec)
    ec = rep.edge_cases

    gz = by_url[("response", ec["gzip"])]
    assert gz.http_header("Content-Encoding") == "gzip"
    assert gz.payload[:2] == b"\x1f\x8b" and b"<html" in gz.decoded_payload().lower()

    ch = by_url[("response", ec["chunked"])]
    assert not ch.http_header_list("Transfer-Encoding")
    assert ch.http_header("Content-Length") == str(len(ch.payload))
    assert any(
        s.url == ec["chunked"]
        and s.headers
        and any(k.lower() == "transfer-encoding" for k, _ in s.headers)
        for s in rep.sent
    )

    red = by_url[("response", ec["redirect"])]
    assert red.status in (301, 302, 307, 308)
    assert red.http_status_line.startswith(f"HTTP/1.1 {red.status} ")
    assert red.http_status_line.split(" ", 2)[2] in (
        "Moved Permanently",
        "Found",
        "Temporary Redirect",
        "Permanent Redirect",
    )
    assert red.http_header("Location")

    ck = by_url[("response", ec["set_cookie_twice"])]
    sent_cookies = [
        v
        for s in rep.sent
        if s.url == ec["set_cookie_twice"]
        for k, v in s.headers
        if k.lower() == "set-cookie"
    ]
    assert len(ck.http_header_list("Set-Cookie")) == 2
    # the replica is shared by both crawls of the module: each sent the same two cookies
    assert set(ck.http_header_list("Set-Cookie")) == set(sent_cookies)

    qs = by_url[("request", ec["query_string"])]
    path_qs = ec["query_string"].split("/", 3)[3]
    assert qs.http_status_line == f"GET /{path_qs} HTTP/1.1"
    assert qs.http_header("Host") == "www.reuters.com"
    assert qs.http_header("User-Agent", "").startswith("newsarchive/")
    assert "gzip" in qs.http_header("Accept-Encoding", "")
    assert qs.header("WARC-Concurrent-To") == by_url[("response", ec["query_string"])].id

    nf = by_url[("response", ec["not_found"])]
    assert nf.status == 404 and nf.http_status_line.endswith("404 Not Found")
    assert by_url[("response", ec["binary"])].http_header("Content-Type").startswith("image/")


def test_metadata_records_hold_discovery(rep, edge):
    metas = [rec for _, _, rec in all_records(warc_files(edge.warc_dir)) if rec.type == "metadata"]
    ids = {
        rec.id
        for _, _, rec in all_records(warc_files(edge.warc_dir))
        if rec.type in ("response", "revisit")
    }
    assert len(metas) == len(ids)
    got = {m.url: read_discovery(m) for m in metas}
    d = got[rep.edge_cases["gzip"]]
    assert d["source"] == "sitemap" and d["source_url"] == "https://example.org/sitemap.xml"
    assert d["lastmod"] == "2026-01-02T03:04:05+00:00" and d["published"] is None
    assert d["keywords"] == ["k1", "k 2"] and d["outlet"] == "nypost"
    assert all(m.header("WARC-Concurrent-To") in ids for m in metas)


def test_capture_signal_pointers_read_back(rep, edge):
    caps = edge.captures()
    assert len(caps) >= len(EDGE_KEYS)
    for cap in caps:
        assert set(cap) >= {
            "id",
            "url",
            "canonical_url",
            "outlet",
            "fetched_at",
            "status",
            "mime",
            "payload_digest",
            "record_type",
            "refers_to",
            "warc_filename",
            "warc_offset",
            "warc_length",
            "discovered_via",
        }
        assert not cap["warc_filename"].endswith(OPEN_SUFFIX)
        rec = read_record(
            edge.warc_dir / cap["warc_filename"], cap["warc_offset"], cap["warc_length"]
        )
        assert rec.id == cap["id"] and rec.url == cap["url"]
        assert rec.header("WARC-Payload-Digest") == cap["payload_digest"]
        if rec.header("WARC-Profile", "").endswith("/server-not-modified"):
            assert cap["status"] == 304 and rec.payload == b""  # the 304 has no record of its own
        else:
            assert rec.status == cap["status"]


# ------------------------------------------------------------------ revisits, rotation


def test_second_crawl_of_replica_writes_revisits(articles, capsys):
    size1 = sum(p.stat().st_size for p in articles["files1"])
    size2 = sum(p.stat().st_size for p in articles["files2"])
    with capsys.disabled():
        print(
            f"\nreplica WARC bytes: first crawl {size1}, second crawl {size2} "
            f"({100 * size2 / size1:.1f}%)"
        )
    assert size2 < 0.10 * size1
    caps = articles["second"].captures()
    arts = [c for c in caps if c["url"] in articles["urls"]]
    assert len(arts) == len(articles["urls"])
    assert all(c["record_type"] == "revisit" and c["refers_to"] for c in arts)
    firsts = {c["id"]: c for c in articles["first"].captures()}
    # the second crawl asked with each page's validators and got 304s
    for c in arts:
        orig = firsts[c["refers_to"]]
        assert orig["url"] == c["url"] and c["status"] == 304 and c["payload_digest"] is None
        rec = read_record(articles["dir"] / c["warc_filename"], c["warc_offset"], c["warc_length"])
        assert rec.type == "revisit" and rec.block == b""
        assert rec.header("WARC-Profile").endswith("/warc/1.1/revisit/server-not-modified")
        assert rec.header("WARC-Payload-Digest") is None
        assert rec.header("WARC-Refers-To-Target-URI") == c["url"]
        assert rec.header("WARC-Refers-To-Date") and rec.header("WARC-Refers-To") == orig["id"]
    # the third, unconditional, got the same bytes again: identical-payload-digest revisits
    thirds = [c for c in articles["third"].captures() if c["url"] in articles["urls"]]
    assert len(thirds) == 5
    for c in thirds:
        orig = firsts[c["refers_to"]]
        assert orig["url"] == c["url"] and orig["payload_digest"] == c["payload_digest"]
        assert c["status"] == 200
        rec = read_record(articles["dir"] / c["warc_filename"], c["warc_offset"], c["warc_length"])
        assert rec.type == "revisit" and rec.payload == b"" and rec.http_status_line
        assert rec.header("WARC-Profile").endswith("/warc/1.1/revisit/identical-payload-digest")
        assert rec.header("WARC-Payload-Digest") == orig["payload_digest"]


class _CorpusHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pages: list[bytes] = []

    def do_GET(self):  # noqa: N802 - http.server API
        if self.path == "/robots.txt":
            body, ctype, enc = b"User-agent: *\nAllow: /\n", "text/plain", None
        elif (
            self.path.startswith("/news/")
            and self.path[6:].isdigit()
            and int(self.path[6:]) < len(self.pages)
        ):
            body, ctype, enc = self.pages[int(self.path[6:])], "text/html; charset=utf-8", "gzip"
        else:
            body, ctype, enc = b"not found", "text/plain", None
        status = 404 if body == b"not found" else 200
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if enc:
            self.send_header("Content-Encoding", enc)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_second_crawl_of_real_size_pages_is_under_ten_percent(corpus_dir, tmp_path, capsys):
    """Real outlet pages (from ../shared/corpus), served gzip-encoded on loopback, crawled
    twice: the second crawl stores revisits and weighs under 10% of the first."""
    files = sorted(corpus_dir.rglob("*.html"))[:30]
    _CorpusHandler.pages = [gzip.compress(p.read_bytes()) for p in files]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CorpusHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        urls = [f"http://127.0.0.1:{port}/news/{i}" for i in range(len(files))]

        class NoProxy:
            @staticmethod
            def env():
                return {"http_proxy": "", "https_proxy": "", "no_proxy": "*"}

        d = tmp_path / "warc"
        Crawl(tmp_path, NoProxy, urls, d).run()
        files1 = warc_files(d)
        second = Crawl(tmp_path, NoProxy, urls, d)
        second.run()
        files2 = [p for p in warc_files(d) if p not in files1]
    finally:
        server.shutdown()
        server.server_close()
    size1 = sum(p.stat().st_size for p in files1)
    size2 = sum(p.stat().st_size for p in files2)
    with capsys.disabled():
        print(
            f"\nreal-size pages ({len(urls)}): first crawl {size1} bytes, second crawl "
            f"{size2} bytes ({100 * size2 / size1:.1f}%)"
        )
    assert size2 < 0.10 * size1
    caps = [c for c in second.captures() if "/news/" in c["url"]]
    assert len(caps) == len(urls) and all(c["record_type"] == "revisit" for c in caps)


def test_rotation_at_small_max_size(articles):
    files = articles["files1"]
    assert len(files) >= 3
    for p in files:
        assert NAME_RE.match(p.name), p.name
        first = next(iter_members(p))
        assert first.records[0].type == "warcinfo"
        assert (p.parent / (p.name + ".cdxj")).exists()
    assert not list(articles["dir"].glob("*" + OPEN_SUFFIX))
    serials = [NAME_RE.match(p.name)["serial"] for p in files]
    assert serials == [f"{i:05d}" for i in range(len(files))]


def test_show_reads_captures_and_resolves_revisits(rep, articles):
    url = articles["urls"][0]
    cli = [
        str(VENV_BIN / "python"),
        "-m",
        "newsarchive",
        "show",
        url,
        "--warc-dir",
        str(articles["dir"]),
    ]
    res = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "revisit" in res.stdout  # latest capture is the second crawl's revisit
    raw = subprocess.run(cli + ["--raw"], capture_output=True, cwd=ROOT).stdout
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and hashlib.sha1(body).hexdigest() in sent_digests(
        rep, url
    )
    truth = next(t for t in rep.truth("nypost") if t.url == url)
    html = subprocess.run(cli + ["--html"], capture_output=True, text=True, cwd=ROOT).stdout
    assert truth.title in html or truth.title.replace("'", "&#x27;") in html
    text = subprocess.run(
        cli + ["--text", "--at", "20000101"], capture_output=True, text=True, cwd=ROOT
    )
    assert text.returncode == 0, text.stderr
    assert truth.paragraphs[0][:60] in text.stdout


# --------------------------------------------------------------------------- crash


def test_sigkill_then_repair(rep, tmp_path):
    urls = [t.url for key in ("nypost", "bbc", "guardian", "reuters") for t in rep.truth(key)]
    d = tmp_path / "warc"
    crawl = Crawl(
        tmp_path,
        rep,
        urls * 6,
        d,
        CONCURRENT_REQUESTS=1,
        DOWNLOAD_DELAY=0.05,
        NEWSARCHIVE_WARC_REVISITS=False,
    )
    proc = crawl.popen()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            opened = list(d.glob("*" + OPEN_SUFFIX)) if d.exists() else []
            if opened and opened[0].stat().st_size > 100_000:
                break
            time.sleep(0.05)
        else:
            pytest.fail("crawl never wrote 100 kB")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    (left,) = list(d.glob("*" + OPEN_SUFFIX))
    complete = sum(1 for m in iter_members(left) if m.ok and m.records)
    # Also tear the tail deterministically, as a crash in mid-write would.
    with open(left, "ab") as fh:
        fh.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff half a member")
    res = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "newsarchive", "warc", "repair", str(d)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    (final,) = warc_files(d)
    assert final.name == left.name[: -len(OPEN_SUFFIX)]
    assert not list(d.glob("*" + OPEN_SUFFIX))
    members = list(iter_members(final))
    assert all(m.ok for m in members) and len(members) == complete
    chk = subprocess.run(
        [str(VENV_BIN / "warcio"), "check", str(final)], capture_output=True, text=True
    )
    assert chk.returncode == 0, chk.stdout
    entries = all_entries(d)
    assert entries and all(e.filename == final.name for e in entries)


# ---------------------------------------------------------------------------- replay


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pywb(edge, articles, tmp_path_factory):
    require((PYWB_BIN / "wayback").exists(), "pywb", "make pywb")
    base = tmp_path_factory.mktemp("pywb")
    wbm = str(PYWB_BIN / "wb-manager")
    subprocess.run([wbm, "init", "coll"], cwd=base, check=True, capture_output=True)
    files = warc_files(edge.warc_dir) + warc_files(articles["dir"])
    subprocess.run(
        [wbm, "add", "coll", *map(str, files)], cwd=base, check=True, capture_output=True
    )
    port = _free_port()
    proc = subprocess.Popen(
        [str(PYWB_BIN / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("pywb did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _get(port: int, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Accept-Encoding": "identity"})
    resp = conn.getresponse()
    body = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return resp.status, headers, body


def _replay_path(mode: str, ts: str, url: str) -> str:
    return f"/coll/{ts}{mode}/{quote(url, safe=':/?&=%')}"


def test_pywb_replays_every_capture(rep, edge, pywb):
    recs = {
        rec.url: rec
        for _, _, rec in all_records(warc_files(edge.warc_dir))
        if rec.type == "response"
    }
    for key in EDGE_KEYS:
        url = rep.edge_cases[key]
        rec = recs[url]
        ts = rec.date.strftime("%Y%m%d%H%M%S")
        status, headers, body = _get(pywb, _replay_path("id_", ts, url))
        assert status == rec.status, (key, status)
        # pywb undoes Content-Encoding in id_ mode and keeps the original as X-Archive-Orig-*.
        assert body == rec.decoded_payload(), key
        if rec.http_header("Content-Encoding"):
            assert "content-encoding" not in headers
            assert headers.get("x-archive-orig-content-encoding") == "gzip"
        if key == "set_cookie_twice":
            assert "set-cookie" in headers  # pywb passes cookies through in id_ mode
        status, headers, body = _get(pywb, _replay_path("mp_", ts, url))
        assert status == rec.status, (key, "mp_", status)
        if key == "binary":
            assert body == rec.decoded_payload()
        elif rec.status == 200 and "html" in (rec.http_header("Content-Type") or ""):
            assert len(body) >= len(rec.decoded_payload()) * 0.9, key  # full body, rewritten
            assert b"</html>" in body.lower(), key


@pytest.mark.parametrize("run", ["second", "third"])  # server-not-modified, identical digest
def test_pywb_replays_a_revisit_as_its_original(articles, pywb, run):
    cap = next(
        c
        for c in articles[run].captures()
        if c["record_type"] == "revisit" and c["url"] in articles["urls"]
    )
    orig = next(c for c in articles["first"].captures() if c["id"] == cap["refers_to"])
    d = articles["dir"]
    original = read_record(d / orig["warc_filename"], orig["warc_offset"], orig["warc_length"])
    revisit = read_record(d / cap["warc_filename"], cap["warc_offset"], cap["warc_length"])
    ts = revisit.date.strftime("%Y%m%d%H%M%S")
    assert ts != original.date.strftime("%Y%m%d%H%M%S")
    status, headers, body = _get(pywb, _replay_path("id_", ts, cap["url"]))
    assert status == 200
    assert body == original.decoded_payload()
    assert headers.get("memento-datetime") == revisit.date.strftime("%a, %d %b %Y %H:%M:%S GMT")
    status, _, body = _get(pywb, _replay_path("mp_", ts, cap["url"]))
    assert status == 200 and len(body) >= len(original.decoded_payload()) * 0.9


def test_pywb_accepts_our_own_cdxj(edge, tmp_path):
    """Our CDXJ (with its extra record_id field) serves as pywb's index unchanged."""
    require((PYWB_BIN / "wayback").exists(), "pywb", "make pywb")
    wbm = str(PYWB_BIN / "wb-manager")
    subprocess.run([wbm, "init", "own"], cwd=tmp_path, check=True, capture_output=True)
    coll = tmp_path / "collections" / "own"
    for p in warc_files(edge.warc_dir):
        shutil.copy(p, coll / "archive" / p.name)
        shutil.copy(p.parent / (p.name + ".cdxj"), coll / "indexes" / (p.name + ".cdxj"))
    port = _free_port()
    proc = subprocess.Popen(
        [str(PYWB_BIN / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(150):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        entries = all_entries(edge.warc_dir)
        e = next(x for x in entries if x.mime == "text/html" and x.status == 200)
        rec = read_record(edge.warc_dir / e.filename, e.offset, e.length)
        status, _, body = _get(port, f"/own/{e.timestamp}id_/{e.url}")
        assert status == 200 and body == rec.decoded_payload()
    finally:
        proc.terminate()
        proc.wait(10)


def test_cdxj_command_regenerates_identical_index(edge, tmp_path):
    for p in warc_files(edge.warc_dir):
        shutil.copy(p, tmp_path / p.name)
    res = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "newsarchive", "cdxj", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    for p in warc_files(edge.warc_dir):
        mine = (p.parent / (p.name + ".cdxj")).read_text()
        assert (tmp_path / (p.name + ".cdxj")).read_text() == mine
