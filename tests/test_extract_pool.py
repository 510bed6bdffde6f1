"""Worker pool and Scrapy pipeline: timeouts, crashes, recycling, and a real crawl."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from concurrent.futures import Future
from pathlib import Path

import pytest

from newsarchive.extract.pool import (
    CRASH_MARKER,
    HANG_MARKER,
    PID_MARKER,
    RAISE_MARKER,
    ExtractionError,
    ExtractionPool,
)

ROOT = Path(__file__).resolve().parent.parent
PAGE = (
    "<html><head><title>Harbour road closed</title></head><body><article>"
    "<h1>Harbour road closed</h1>"
    + "".join(
        f"<p>Paragraph {i}: the harbour road stayed closed overnight while engineers checked "
        f"the sea wall, and buses followed the hill road into the town centre instead.</p>"
        for i in range(6)
    )
    + "</article></body></html>"
).encode()


def failure(fut: Future) -> ExtractionError:
    with pytest.raises(ExtractionError) as info:
        fut.result(timeout=60)
    return info.value


@pytest.fixture(scope="module")
def pool():
    p = ExtractionPool(workers=2, max_tasks=3, timeout=2.0, test_hooks=True)
    yield p
    p.close(wait=False)


def test_pool_extracts_pages(pool):
    art = pool.submit(PAGE, "https://example.org/a", None, "utf-8").result(timeout=60)
    assert art["title"] == "Harbour road closed"
    assert art["text"].count("\n") == 5 and art["is_article"]
    assert pool.submit(b"", "https://example.org/a", None, None).result(timeout=60) is None


def test_hang_is_a_timeout_and_pool_keeps_working(pool):
    hung = pool.submit(HANG_MARKER + PAGE, "https://example.org/h", None, None)
    ok = [pool.submit(PAGE, f"https://example.org/{i}", None, "utf-8") for i in range(4)]
    err = failure(hung)
    assert err.kind == "timeout"
    assert all(f.result(timeout=60)["title"] == "Harbour road closed" for f in ok)


def test_crash_is_recorded_and_pool_keeps_working(pool):
    err = failure(pool.submit(CRASH_MARKER, "https://example.org/c", None, None))
    assert err.kind == "crash" and "13" in err.detail
    assert pool.submit(PAGE, "https://example.org/a", None, None).result(timeout=60)["is_article"]


def test_exception_in_worker_is_an_error(pool):
    err = failure(pool.submit(RAISE_MARKER, "https://example.org/e", None, None))
    assert err.kind == "error" and "RuntimeError" in err.detail
    assert err.as_dict()["kind"] == "error"


def test_markers_are_ignored_without_test_hooks():
    with ExtractionPool(workers=1, timeout=10.0) as p:
        res = p.submit(CRASH_MARKER + PAGE, "https://example.org/a", None, None).result(timeout=60)
    assert res["title"] == "Harbour road closed"


def test_workers_recycle_after_max_tasks():
    with ExtractionPool(workers=1, max_tasks=3, timeout=10.0, test_hooks=True) as p:
        pids = [p.submit(PID_MARKER, "u", None, None).result(timeout=60)["pid"] for _ in range(7)]
    assert pids[0] == pids[1] == pids[2]
    assert pids[3] == pids[4] == pids[5] != pids[0]
    assert pids[6] not in (pids[0], pids[3])


def test_closed_pool_refuses_work():
    p = ExtractionPool(workers=1)
    p.close()
    assert failure(p.submit(PAGE, "u", None, None)).kind == "error"


CRAWL = textwrap.dedent(
    """
    import json, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from newsarchive import settings as project

    PAGE = open(sys.argv[1], "rb").read() if len(sys.argv) > 1 else b""
    BODIES = {"/a1": PAGE, "/a2": PAGE, "/hang": b"<!--newsarchive-test:hang-->" + PAGE,
              "/crash": b"<!--newsarchive-test:crash-->", "/empty": b""}

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            body = BODIES.get(self.path, b"")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass

    base = None

    class S(scrapy.Spider):
        name = "extract_test"
        async def start(self):
            for p in BODIES:
                yield scrapy.Request(base + p)
        def parse(self, response):
            yield {"kind": "page", "url": response.url, "outlet": None, "body": response.body,
                   "encoding": response.encoding, "canonical_url": response.url}
            yield {"kind": "other", "url": response.url}

    def main():
        global base
        srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        out = sys.argv[2]
        proc = CrawlerProcess({
            "TWISTED_REACTOR": project.TWISTED_REACTOR, "ROBOTSTXT_OBEY": False, "LOG_LEVEL": "WARNING",
            "ITEM_PIPELINES": {"newsarchive.extract.pipeline.ExtractionPipeline": 300},
            "NEWSARCHIVE_EXTRACT_WORKERS": int(sys.argv[3]), "NEWSARCHIVE_EXTRACT_TIMEOUT": 3.0,
            "NEWSARCHIVE_EXTRACT_TEST_HOOKS": sys.argv[3] != "0",
            "FEEDS": {out: {"format": "jsonlines"}}, "TELNETCONSOLE_ENABLED": False,
        })
        crawler = proc.create_crawler(S)
        proc.crawl(crawler)
        proc.start()
        stats = {k: v for k, v in crawler.stats.get_stats().items() if k.startswith("newsarchive/")}
        json.dump(stats, open(out + ".stats", "w"))

    if __name__ == "__main__":  # worker processes re-import this module
        main()
    """
)


@pytest.mark.parametrize("workers", [2, 0])
def test_pipeline_in_a_real_crawl(tmp_path, workers):
    script = tmp_path / "crawl.py"
    script.write_text(CRAWL)
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    out = tmp_path / "items.jsonl"
    proc = subprocess.run(
        [sys.executable, str(script), str(page), str(out), str(workers)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    items = [json.loads(line) for line in out.read_text().splitlines()]
    pages = {i["url"].rsplit("/", 1)[1]: i for i in items if i["kind"] == "page"}
    others = [i for i in items if i["kind"] == "other"]
    assert len(others) == 5 and all(set(o) == {"kind", "url"} for o in others)
    assert all("body" not in p for p in pages.values())
    assert pages["a1"]["article"]["title"] == "Harbour road closed"
    assert pages["a2"]["article"]["is_article"]
    assert pages["empty"]["article"] is None and "extract_error" not in pages["empty"]
    stats = json.loads(Path(str(out) + ".stats").read_text())
    if workers:
        assert pages["hang"]["extract_error"]["kind"] == "timeout"
        assert pages["crash"]["extract_error"]["kind"] == "crash"
        assert pages["hang"]["article"] is None
        assert stats["newsarchive/extract/timeout"] == 1
        assert stats["newsarchive/extract/crash"] == 1
        assert stats["newsarchive/extract/ok"] == 2
    else:  # inline: markers are plain bytes, nothing hangs
        assert pages["hang"]["article"]["title"] == "Harbour road closed"
        assert stats["newsarchive/extract/ok"] == 3
    assert stats["newsarchive/extract/none"] == (1 if workers else 2)
    assert stats["newsarchive/extract/ms_total"] > 0
