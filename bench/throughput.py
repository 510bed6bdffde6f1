"""Crawl throughput with the extraction pool against extraction inline, on the replica.

Starts the replica in its own process (so it does not share the crawler's interpreter),
serving real-size article pages (the shared corpus's saved pages, read at run time, when
present: the replica's own synthetic pages extract about 4x faster than real ones),
then crawls the same outlets with ``NEWSARCHIVE_EXTRACT_WORKERS=0`` (inline, in the reactor
thread) and ``=N`` (the pool), alternating, ``--repeat`` times each, in fresh directories.
Prints articles/s per run, the medians and their ratio.

usage: python bench/throughput.py [--scale 400] [--outlets nypost,mirror,...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from newsarchive.replica.process import spawn_replica  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "fundus"


def crawl(proxy: str, outlets: str, workers: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = Path(tmp) / "stats.json"
        cmd = [
            sys.executable,
            "-m",
            "newsarchive",
            "crawl",
            "--outlets",
            outlets,
            "--fast",
            "--proxy",
            proxy,
            "--db",
            f"{tmp}/a.duckdb",
            "--warc-dir",
            f"{tmp}/warc",
            "--stats-json",
            str(stats_path),
            "-s",
            f"NEWSARCHIVE_EXTRACT_WORKERS={workers}",
            "-s",
            "NEWSARCHIVE_MAX_AGE_DAYS=36500",
            "-s",
            "NEWSARCHIVE_SEEN=false",
            # the full-text rebuild after the crawl is the same work in both modes
            "-s",
            "NEWSARCHIVE_INDEX_FTS=false",
            "-s",
            "LOG_LEVEL=WARNING",
        ]
        subprocess.run(cmd, cwd=tmp, check=True, capture_output=True)
        stats = json.loads(stats_path.read_text())
    # The engine's run time (reactor start to stop), not interpreter start-up and imports.
    return stats["articles"], stats["duration_s"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=400, help="articles per outlet in the replica")
    ap.add_argument("--outlets", default="nypost,mirror,dailymail,guardian")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument(
        "--pages",
        default=str(CORPUS) if CORPUS.is_dir() else None,
        help="real-size pages served as articles (default ../shared/corpus when "
        "present; --pages '' for the replica's synthetic pages)",
    )
    args = ap.parse_args(argv)
    replica, proxy = spawn_replica(args.scale, pages=args.pages or None)
    print(f"article pages: {args.pages or 'synthetic (replica markup)'}", flush=True)
    rates: dict[str, list[float]] = {"inline": [], "pool": []}
    try:
        for i in range(args.repeat):
            for mode, workers in (("inline", 0), ("pool", args.workers)):
                n, secs = crawl(proxy, args.outlets, workers)
                rates[mode].append(n / secs)
                print(
                    f"run {i + 1} {mode:6s}: {n} articles in {secs:.2f}s = {n / secs:.1f}/s",
                    flush=True,
                )
    finally:
        replica.terminate()
        replica.wait()
    inline, pool = (statistics.median(rates[m]) for m in ("inline", "pool"))
    print(f"\nmachine: {os.cpu_count()} cores; {args.workers} extraction workers")
    print(f"median articles/s  inline {inline:.1f}   pool {pool:.1f}   ratio {pool / inline:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
