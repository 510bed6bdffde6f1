"""Web app latency: p50/p95 of the search page and the article page at 10^5 articles.

Builds a synthetic archive with bench/index.py's generator (through the spool, like a crawl,
so the query index is maintained), starts ``newsarchive serve`` on a free loopback port and
times full page requests (connect, render, transfer) against the 200 ms target.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 200.0


def _bench_index():
    spec = importlib.util.spec_from_file_location("bench_index", ROOT / "bench" / "index.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build(db: Path, n: int, batch: int, words: int):
    from newsarchive.index.spool import Spool

    gen = _bench_index().Generator(words=words)
    spool = Spool(db)
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        for i in range(start, min(n, start + batch)):
            cap, art = gen.article(i)
            spool.append("captures", cap)
            spool.append("articles", art)
        spool.seal()
        assert spool.try_merge(timeout=60)
    from newsarchive.index.db import connect
    from newsarchive.query.index import has_index, rebuild_index

    con = connect(db, read_only=True)
    try:
        present = has_index(con)
    finally:
        con.close()
    if not present:
        rebuild_index(db)
    return gen, time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(port: int, target: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", target)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status, (time.perf_counter() - t0) * 1000


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="articles")
    ap.add_argument("--words", type=int, default=250)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=40, help="requests per page kind")
    ap.add_argument("--db", help="reuse this archive (built when missing)")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-serve-")
    db = Path(args.db) if args.db else Path(tmp.name) / "bench.duckdb"
    if db.exists():
        gen = _bench_index().Generator(words=args.words)
        print(f"archive:  reusing {db}")
    else:
        gen, secs = build(db, args.n, args.batch, args.words)
        print(f"archive:  {args.n} synthetic articles built in {secs:.0f} s ({db})")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsarchive", "serve", "--port", str(port), "--db", str(db),
         "--warc-dir", tmp.name, "--no-replay"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if fetch(port, "/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                print("serve did not start", file=sys.stderr)
                return 1
            time.sleep(0.3)
        rng = random.Random(14)
        words = gen.vocab[50:3000]
        ids = [f"<urn:uuid:bench-{rng.randrange(args.n):09d}>" for _ in range(args.requests)]
        fetch(port, "/?q=" + urllib.parse.quote(words[0]))  # warm-up
        results = {}
        for kind, targets in (
            ("search", ["/?q=" + urllib.parse.quote(rng.choice(words)) for _ in ids]),
            ("article", ["/article?id=" + urllib.parse.quote(i) for i in ids]),
        ):
            times = []
            for t in targets:
                status, ms = fetch(port, t)
                assert status == 200, (t, status)
                times.append(ms)
            results[kind] = times
        load = os.getloadavg()
        print(f"machine:  {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f}")
        for kind, times in results.items():
            p50 = pct(times, 50)
            print(
                f"{kind:8s}  p50 {p50:7.1f} ms  p95 {pct(times, 95):7.1f} ms  "
                f"({len(times)} requests; p50 / target {p50 / TARGET_MS:.2f}, target {TARGET_MS:.0f} ms)"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
