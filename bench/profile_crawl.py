"""Where the crawl process's main (reactor) thread spends its time, by component.

Runs ``newsarchive crawl`` on the replica under cProfile (the standard library's
deterministic profiler, which sees the calling thread only: exactly the reactor thread,
since the crawl runs there) and sums each function's own time into buckets by the code
it belongs to: WARC writing, digests and gzip, the index spool, the spider's parsing,
extraction, Scrapy/Twisted machinery, idle (the event loop's select). Run it with
``NEWSARCHIVE_WARC_THREAD=false`` and ``=true`` to see what the writer thread takes off.

usage: python bench/profile_crawl.py [--scale 100] [--outlets mirror,guardian]
       [-s NAME=VALUE ...] [--top 25]
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from newsarchive.replica.process import spawn_replica  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "fundus"

BUCKETS = (  # first match wins: (bucket, substring of "file:function")
    ("idle (select/epoll)", "method 'poll' of 'select.epoll'"),
    ("idle (select/epoll)", "method 'select' of"),
    ("gzip (WARC)", "zlib.Compress"),
    ("gzip (WARC)", "built-in method zlib"),
    ("digests", "_hashlib"),
    ("WARC writer", "newsarchive/warc/"),
    ("WARC writer", "warcio/"),
    ("index spool", "newsarchive/index/"),
    ("index spool", "json/encoder"),
    ("spider (links, canonical)", "newsarchive/spiders/"),
    ("spider (links, canonical)", "newsarchive/discovery"),
    ("spider (links, canonical)", "newsarchive/urls"),
    ("extraction (inline)", "trafilatura/"),
    ("extraction (inline)", "newsarchive/extract/"),
    ("extraction (inline)", "lxml"),
    ("other newsarchive", "newsarchive/"),
    ("file writes", "method 'write' of '_io"),
    ("file writes", "method 'flush' of '_io"),
    ("scrapy", "scrapy/"),
    ("twisted/asyncio", "twisted/"),
    ("twisted/asyncio", "asyncio/"),
    ("pebble/futures", "pebble/"),
    ("pebble/futures", "concurrent/"),
)


def bucket_of(file: str, name: str) -> str:
    key = f"{file}:{name}"
    for bucket, needle in BUCKETS:
        if needle in key:
            return bucket
    return "other"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--outlets", default="mirror,guardian")
    ap.add_argument("-s", dest="settings", action="append", default=[])
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--pages", default=str(CORPUS) if CORPUS.is_dir() else None)
    args = ap.parse_args(argv)
    replica, proxy = spawn_replica(args.scale, pages=args.pages or None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            prof = Path(tmp) / "crawl.prof"
            cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "newsarchive"]
            cmd += ["crawl", "--outlets", args.outlets, "--fast", "--proxy", proxy]
            cmd += ["--db", f"{tmp}/a.duckdb", "--warc-dir", f"{tmp}/warc"]
            for s in [
                "NEWSARCHIVE_MAX_AGE_DAYS=36500",
                "NEWSARCHIVE_SEEN=false",
                "NEWSARCHIVE_INDEX_FTS=false",
                "LOG_LEVEL=WARNING",
                *args.settings,
            ]:
                cmd += ["-s", s]
            out = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            print(out.stdout.strip().splitlines()[0] if out.stdout.strip() else out.stderr[-800:])
            stats = pstats.Stats(str(prof))
    finally:
        replica.terminate()
        replica.wait()
    by_bucket: dict[str, float] = defaultdict(float)
    rows = []
    for (file, _line, name), (_cc, _nc, tt, ct, _callers) in stats.stats.items():
        by_bucket[bucket_of(file, name)] += tt
        rows.append((tt, ct, f"{Path(file).parent.name}/{Path(file).name}:{name}"))
    total = sum(by_bucket.values())
    print(f"\nreactor thread: {total:.2f} s profiled (load {os.getloadavg()[0]:.1f})")
    for bucket, secs in sorted(by_bucket.items(), key=lambda kv: -kv[1]):
        print(f"  {bucket:28s} {secs:7.2f} s  {100 * secs / total:5.1f}%")
    print(f"\ntop {args.top} functions by own time:")
    for tt, ct, label in sorted(rows, reverse=True)[: args.top]:
        print(f"  {tt:7.2f} s own  {ct:7.2f} s cum  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
