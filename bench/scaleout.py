"""Scale-out of the fleet: articles/s with 1, 4 and 8 workers, and Redis memory per URL.

The replica runs in its own process and delays every response by ``--latency`` (200 ms:
I/O-bound, as real outlets are). Each round seeds the same outlets into a fresh Redis key
prefix and starts N ``newsarchive worker`` processes; the rate is articles extracted and
indexed (after ``ingest``) divided by the span between the first and the last capture
(worker start-up excluded). Targets: 4 workers >= 3.5x one worker, 8 workers >= 6x.

What is scaled: each worker runs one crawler per outlet with ``--concurrency`` requests in
flight (default 1), a fixed unit of fetching capacity, and extracts inline. The fleet's
per-host limit is raised so that it does not cap the fleet (real outlets are many hosts; the
replica here serves two). On this 2-core machine the workers' CPU must stay well below the
cores for the ratio to show the frontier and not the CPU, which is why the unit is small.

Then the memory of 10^5 queued requests and 10^5 seen fingerprints is measured in a real
redis-server and scaled to 10^6 each.

    .venv/bin/python bench/scaleout.py [--rounds 3] [--scale 600] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
OUTLETS = ["bbc", "nypost"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server")
    if not binary:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    import redis

    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            time.sleep(0.05)
    sys.exit("redis-server did not start")


def one_round(redis_url: str, proxy: str, n: int, tag: str, work: Path, args) -> dict:
    from newsarchive.fleet import seed_outlets
    from newsarchive.fleet.ingest import ingest

    prefix = f"b{tag}"
    seed_outlets(redis_url, OUTLETS, prefix=prefix)
    out = work / tag
    procs = []
    for i in range(n):
        cmd = [
            sys.executable, "-m", "newsarchive", "worker",
            "--redis", redis_url, "--prefix", prefix,
            "--outlets", ",".join(OUTLETS),
            "--proxy", proxy, "--fast",
            "--warc-dir", str(out / "warc"), "--spool-dir", str(out / "spool"),
            "--worker-id", f"w{i}", "--until-idle", "2",
            "-s", f"CONCURRENT_REQUESTS={args.concurrency}",
            # Extraction inline in each worker process (no pool per worker on 2 cores);
            # --no-extract measures the frontier alone.
            "-s", f"NEWSARCHIVE_EXTRACT_ENABLED={not args.no_extract}",
            "-s", "NEWSARCHIVE_EXTRACT_WORKERS=0",
            # The replica allows any number in flight; the 200 ms latency is the bound.
            "-s", "NEWSARCHIVE_FLEET_HOST_CONCURRENCY=64",
            "-s", f"NEWSARCHIVE_MAX_AGE_DAYS={args.max_age_days}",
            "-s", "LOG_LEVEL=ERROR",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL))
    for p in procs:
        p.wait()
    ingest(out / "spool", out / "archive.duckdb", final=True, fts=False)
    con = duckdb.connect(str(out / "archive.duckdb"), read_only=True)
    pages, first, last = con.execute(
        # Article pages are the HTML 200s: sources are robots, XML and feeds (no sections here).
        "SELECT count(*) FILTER (WHERE status = 200 AND mime = 'text/html'), "
        "epoch(min(fetched_at)), epoch(max(fetched_at)) FROM captures"
    ).fetchone()
    extracted = con.execute("SELECT count(*) FROM articles WHERE is_article").fetchone()[0]
    con.close()
    n_articles = pages if args.no_extract else extracted
    span = max(1e-6, last - first)
    return {"workers": n, "articles": n_articles, "span": span, "rate": n_articles / span}


def redis_memory(redis_url: str, n: int) -> tuple[float, float]:
    """Bytes per queued request and per seen fingerprint, measured on ``n`` of each."""
    import scrapy
    from scrapy.spiderloader import SpiderLoader

    from newsarchive.crawl import crawl_settings
    from newsarchive.fleet.keys import connect
    from newsarchive.fleet.queue import LeasedQueue
    from newsarchive.fleet.scheduler import FleetDupeFilter

    server = connect(redis_url)
    server.flushdb()
    spider = SpiderLoader.from_settings(crawl_settings()).load("nypost")()
    queue = LeasedQueue(server, spider, "mem:q:nypost")
    base = int(server.info("memory")["used_memory"])
    for i in range(n):
        url = f"https://nypost.com/2026/12/01/some-news-story-headline-number-{i}/"
        queue.push(
            scrapy.Request(
                url,
                callback=spider.parse_article,
                errback=spider.on_error,
                meta={
                    "discovery": {
                        "source": "news_sitemap",
                        "source_url": "https://nypost.com/news-sitemap.xml",
                        "lastmod": "2026-12-01T10:00:00+00:00",
                        "published": "2026-12-01T09:58:00+00:00",
                        "title": f"Some news story headline number {i}",
                        "keywords": None,
                    },
                    "update": False,
                },
            )
        )
    queued = int(server.info("memory")["used_memory"]) - base
    df = FleetDupeFilter(server, "mem:df:nypost")
    base = int(server.info("memory")["used_memory"])
    pipe = server.pipeline(transaction=False)
    for i in range(n):
        pipe.sadd(df.key, f"{i:040x}")
        if i % 10_000 == 0:
            pipe.execute()
    pipe.execute()
    seen = int(server.info("memory")["used_memory"]) - base
    server.flushdb()
    return queued / n, seen / n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=int, default=900, help="articles per replica outlet")
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=1, help="requests in flight per crawler")
    ap.add_argument("--max-age-days", type=float, default=1.0)
    ap.add_argument("--workers", default="1,4,8")
    ap.add_argument("--memory-urls", type=int, default=100_000)
    ap.add_argument(
        "--no-extract", action="store_true", help="count article pages fetched, not extracted"
    )
    args = ap.parse_args()
    from newsarchive.replica.process import spawn_replica

    print(f"load average before: {os.getloadavg()}; cpus: {os.cpu_count()}")
    work = Path(tempfile.mkdtemp(prefix="scaleout-"))
    redis_proc, redis_url = start_redis(work)
    replica, proxy = spawn_replica(args.scale, latency=args.latency)
    counts = [int(x) for x in args.workers.split(",")]
    rates: dict[int, list[float]] = {n: [] for n in counts}
    try:
        for r in range(args.rounds):
            for n in counts:
                res = one_round(redis_url, proxy, n, f"{r}x{n}", work, args)
                rates[n].append(res["rate"])
                print(
                    f"round {r} workers {n}: {res['articles']} articles in {res['span']:.1f} s "
                    f"= {res['rate']:.1f} articles/s (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        per_queued, per_seen = redis_memory(redis_url, args.memory_urls)
    finally:
        replica.terminate()
        replica.wait(10)
        redis_proc.terminate()
        redis_proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(rates[counts[0]])
    print(f"\nlatency {args.latency * 1000:.0f} ms per response, outlets {OUTLETS}")
    for n in counts:
        med = statistics.median(rates[n])
        print(f"{n} worker(s): median {med:.1f} articles/s, {med / base:.2f}x one worker")
    print(
        f"Redis memory: {per_queued:.0f} B per queued request, {per_seen:.0f} B per seen URL; "
        f"10^6 queued + 10^6 seen = {(per_queued + per_seen) * 1e6 / 2**20:.0f} MiB "
        f"(measured on {args.memory_urls} of each)"
    )
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
