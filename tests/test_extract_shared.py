"""One extraction pool per crawl process, shared by its spiders, with back-pressure.

Two spiders run in one real CrawlerProcess against a loopback server whose pages each take
0.25 s to "extract" (a test hook in the worker), so extraction is the bottleneck. A thread
samples the process tree from /proc while the crawl runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CRAWL = textwrap.dedent(
    """
    import json, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from newsarchive import settings as project
    from newsarchive.extract import shared
    from newsarchive.extract.pool import SLOW_MARKER
    from newsarchive.extract.proctree import extraction_workers

    PAGE = SLOW_MARKER + b"<html><head><title>Quay</title></head><body><article><h1>Quay</h1>" + (
        b"<p>The quay reopened after repairs to the sea wall and the ferry ran again.</p>" * 8
    ) + b"</article></body></html>"
    N = int(sys.argv[3])

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
        def log_message(self, *a):
            pass

    base = None

    def spider(name):
        class S(scrapy.Spider):
            async def start(self):
                for i in range(N):
                    yield scrapy.Request(f"{base}/{self.name}/{i}")
            def parse(self, response):
                yield {"kind": "page", "url": response.url, "outlet": None,
                       "body": response.body, "encoding": "utf-8"}
        S.name = name
        return S

    def main():
        global base
        srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        seen = {"workers": set(), "peak_workers": 0, "peak_pools": 0}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                w = extraction_workers()
                seen["workers"].update(w)
                seen["peak_workers"] = max(seen["peak_workers"], len(w))
                seen["peak_pools"] = max(seen["peak_pools"], shared.live_pools())
                time.sleep(0.05)

        threading.Thread(target=sample, daemon=True).start()
        proc = CrawlerProcess({
            "TWISTED_REACTOR": project.TWISTED_REACTOR, "ROBOTSTXT_OBEY": False,
            "LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False,
            "CONCURRENT_REQUESTS": 8, "CONCURRENT_REQUESTS_PER_DOMAIN": 8, "DOWNLOAD_DELAY": 0,
            "ITEM_PIPELINES": {"newsarchive.extract.pipeline.ExtractionPipeline": 300},
            "DOWNLOADER_MIDDLEWARES": {
                "newsarchive.extract.shared.ExtractionBackpressureMiddleware": 120},
            "NEWSARCHIVE_EXTRACT_WORKERS": 2, "NEWSARCHIVE_EXTRACT_TEST_HOOKS": True,
            "NEWSARCHIVE_EXTRACT_MAX_INFLIGHT": 2, "NEWSARCHIVE_EXTRACT_QUEUE": 2,
            "NEWSARCHIVE_EXTRACT_BACKPRESSURE": sys.argv[2] == "on",
        })
        crawlers = [proc.create_crawler(spider(n)) for n in ("alpha", "beta")]
        for c in crawlers:
            proc.crawl(c)
        proc.start()
        stop.set()
        out = {
            "stats": [{k: v for k, v in c.stats.get_stats().items()
                       if k.startswith("newsarchive/") or k == "item_scraped_count"}
                      for c in crawlers],
            "peak_workers": seen["peak_workers"], "distinct_workers": len(seen["workers"]),
            "peak_pools": seen["peak_pools"], "pools_after": shared.live_pools(),
        }
        json.dump(out, open(sys.argv[1], "w"))

    if __name__ == "__main__":
        main()
    """
)


def crawl(tmp_path: Path, backpressure: str, pages: int = 24) -> dict:
    script = tmp_path / "crawl_shared.py"
    script.write_text(CRAWL)
    out = tmp_path / f"out-{backpressure}.json"
    proc = subprocess.run(
        [sys.executable, str(script), str(out), backpressure, str(pages)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_two_spiders_share_one_pool_and_backpressure_bounds_pages(tmp_path):
    res = crawl(tmp_path, "on")
    a, b = res["stats"]
    assert a["newsarchive/extract/ok"] == b["newsarchive/extract/ok"] == 24
    # One pool for both spiders: two workers in the process, never four.
    assert res["peak_pools"] == 1 and res["pools_after"] == 0
    assert res["peak_workers"] == 2 and res["distinct_workers"] == 2
    # At most MAX_INFLIGHT pages in the pool at once, across both spiders.
    assert max(a["newsarchive/extract/peak_inflight"], b["newsarchive/extract/peak_inflight"]) == 2
    # Downloads were held while pages queued; bodies held stay near inflight + queue +
    # the requests already on the wire when the gate closed (8 per spider), whatever the
    # number of pages (without the gate all 48 pile up, see below).
    assert (
        a.get("newsarchive/extract/backpressure_waits", 0)
        + b.get("newsarchive/extract/backpressure_waits", 0)
        > 0
    )
    held = max(a["newsarchive/extract/peak_held"], b["newsarchive/extract/peak_held"])
    assert held <= 2 + 2 + 16


def test_without_backpressure_pages_pile_up(tmp_path):
    # The same crawl with the middleware off: every downloaded page waits in memory.
    res = crawl(tmp_path, "off", pages=24)
    a, b = res["stats"]
    assert a["newsarchive/extract/ok"] == b["newsarchive/extract/ok"] == 24
    assert "newsarchive/extract/backpressure_waits" not in a
    assert max(a["newsarchive/extract/peak_held"], b["newsarchive/extract/peak_held"]) > 30
