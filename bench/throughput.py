"""Crawl throughput against the extraction bound, and inline against the pool, on the replica.

Starts the replica in its own process, serving real-size article pages (the shared corpus's
saved pages, read at run time, when present), then per round:

- crawls the outlets with the pool (``NEWSARCHIVE_EXTRACT_WORKERS=N``, WARC and index on);
- extracts the very pages that crawl extracted (read back from its WARC files) with an
  extraction pool of the same N processes and nothing else running: the *bound*;
- crawls again with extraction inline in the reactor thread (``=0``).

Prints per round articles/s of each, and the medians of crawl/bound and pool/inline. All
figures of one round come from one run on the same machine, so load from other processes
affects them alike; the ratios are what to compare across machines.

``--all`` instead crawls every outlet of the registry in one process and samples its
process tree in /proc: extraction worker processes (must equal the configured workers,
not workers x outlets) and the peak summed RSS of the tree.

usage: python bench/throughput.py [--scale 400] [--outlets nypost,mirror,...] [--repeat 3]
       python bench/throughput.py --all [--scale 60]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from newsarchive.extract.proctree import descendants, extraction_workers, tree_rss  # noqa: E402
from newsarchive.replica.process import spawn_replica  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "fundus"


class TreeSampler(threading.Thread):
    """Samples a process tree every 0.1 s: peak RSS, peak and distinct extraction workers."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_rss = 0
        self.peak_workers = 0
        self.peak_procs = 0
        self.workers: set[int] = set()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_rss = max(self.peak_rss, tree_rss(self.pid))
            w = extraction_workers(self.pid)
            self.workers.update(w)
            self.peak_workers = max(self.peak_workers, len(w))
            self.peak_procs = max(self.peak_procs, 1 + len(descendants(self.pid)))
            self._halt.wait(0.1)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def crawl(
    proxy: str, outlets: list[str] | None, workers: int, tmp: str, scale_extra: tuple = ()
) -> tuple[dict, TreeSampler]:
    stats_path = Path(tmp) / "stats.json"
    which = ["--all"] if outlets is None else ["--outlets", ",".join(outlets)]
    cmd = [
        sys.executable,
        "-m",
        "newsarchive",
        "crawl",
        *which,
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
        # the full-text rebuild after the crawl is the same work in every mode
        "-s",
        "NEWSARCHIVE_INDEX_FTS=false",
        "-s",
        "LOG_LEVEL=WARNING",
        *scale_extra,
    ]
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    sampler.stop()
    if proc.returncode not in (0, 1) or not stats_path.exists():
        raise SystemExit(f"crawl failed ({proc.returncode}): {err.decode()[-2000:]}")
    return json.loads(stats_path.read_text()), sampler


def crawled_pages(tmp: str) -> list[tuple[bytes, str, str | None]]:
    """The bodies the crawl extracted (every articles row), read back from its WARC files."""
    import duckdb
    from warcio.archiveiterator import ArchiveIterator

    con = duckdb.connect(f"{tmp}/a.duckdb", read_only=True)
    rows = con.execute(
        "SELECT c.url, a.outlet, c.warc_filename, c.warc_offset FROM articles a "
        "JOIN captures c ON c.id = a.capture_id"
    ).fetchall()
    con.close()
    pages = []
    for url, outlet, name, offset in rows:
        with open(Path(tmp) / "warc" / name, "rb") as f:
            f.seek(offset)
            record = next(iter(ArchiveIterator(f)))
            pages.append((record.content_stream().read(), url, outlet))
    return pages


def reindex_rate(tmp: str, workers: int) -> tuple[int, float]:
    """Pages/s of ``reindex`` over the crawl's WARC files into a fresh archive."""
    from newsarchive.index.reindex import reindex

    t0 = time.perf_counter()
    res = reindex([f"{tmp}/warc"], f"{tmp}/re.duckdb", workers=workers, progress=False)
    return res.articles, time.perf_counter() - t0


def extraction_bound(pages: list[tuple[bytes, str, str | None]], workers: int) -> float:
    """Seconds for ``workers`` pool processes alone to extract ``pages`` (pool warmed first)."""
    from newsarchive.extract.pool import ExtractionPool

    with ExtractionPool(workers) as pool:
        warm = [pool.submit(b, u, o, None) for b, u, o in pages[: workers * 2]]
        for f in warm:
            f.result()
        t0 = time.perf_counter()
        futures = [pool.submit(b, u, o, None) for b, u, o in pages]
        for f in futures:
            try:
                f.result()
            except Exception:  # noqa: BLE001 - a failed page still took its time
                pass
        return time.perf_counter() - t0


def run_rounds(args: argparse.Namespace, proxy: str) -> None:
    outlets = [o for o in args.outlets.split(",") if o]
    ratios, inline_rates, pool_rates, bound_rates = [], [], [], []
    reindex_ratios: list[float] = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            stats, _ = crawl(proxy, outlets, args.workers, tmp)
            n, secs = stats["articles"], stats["duration_s"]
            pages = crawled_pages(tmp)
            re_pages, re_secs = reindex_rate(tmp, args.workers) if args.reindex else (0, 0.0)
        bound_secs = extraction_bound(pages, args.workers)
        with tempfile.TemporaryDirectory() as tmp:
            istats, _ = crawl(proxy, outlets, 0, tmp)
        rate, bound = n / secs, n / bound_secs
        irate = istats["articles"] / istats["duration_s"]
        pool_rates.append(rate)
        bound_rates.append(bound)
        inline_rates.append(irate)
        ratios.append(rate / bound)
        print(
            f"round {i + 1}: crawl {n} articles in {secs:.2f}s = {rate:.1f}/s | "
            f"bound: {len(pages)} pages extracted in {bound_secs:.2f}s = {bound:.1f} articles/s "
            f"| crawl/bound {rate / bound:.2f} | inline crawl {irate:.1f}/s "
            f"| pool/inline {rate / irate:.2f}x",
            flush=True,
        )
    print(
        f"\nmachine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
        f"{args.workers} extraction workers"
    )
    med = statistics.median
    print(
        f"median articles/s  crawl {med(pool_rates):.1f}   extraction bound {med(bound_rates):.1f}"
        f"   crawl/bound {med(ratios):.2f}"
    )
    print(
        f"median articles/s  inline {med(inline_rates):.1f}   pool {med(pool_rates):.1f}"
        f"   pool/inline {med(p / q for p, q in zip(pool_rates, inline_rates, strict=True)):.2f}x"
    )
    if reindex_ratios:
        print(f"median reindex/bound (pages/s) {med(reindex_ratios):.2f}")


def run_all(args: argparse.Namespace, proxy: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stats, tree = crawl(proxy, None, args.workers, tmp)
    outlets = len(stats.get("outlets", {}))
    print(
        f"--all: {outlets} outlets, {stats['articles']} articles in {stats['duration_s']:.1f}s "
        f"(load {os.getloadavg()[0]:.1f})"
    )
    print(
        f"extraction processes: peak {tree.peak_workers} alive at once, "
        f"{len(tree.workers)} over the run (recycled every max_tasks pages); "
        f"configured workers {args.workers}"
    )
    print(
        f"process tree: peak {tree.peak_procs} processes, peak RSS {tree.peak_rss / 2**20:.0f} MiB"
    )
    ok = tree.peak_workers == args.workers and tree.peak_rss <= 2**30
    print("PASS" if ok else "FAIL", "(workers == configured, peak RSS <= 1 GiB)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=400, help="articles per outlet in the replica")
    ap.add_argument("--outlets", default="nypost,mirror,dailymail,guardian")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--all", action="store_true", help="every outlet in one process (see above)")
    ap.add_argument(
        "--reindex", action="store_true", help="also time `reindex` of each crawl's WARC files"
    )
    ap.add_argument(
        "--pages",
        default=str(CORPUS) if CORPUS.is_dir() else None,
        help="real-size pages served as articles (default ../shared/corpus when "
        "present; --pages '' for the replica's synthetic pages)",
    )
    args = ap.parse_args(argv)
    replica, proxy = spawn_replica(args.scale, pages=args.pages or None)
    print(f"article pages: {args.pages or 'synthetic (replica markup)'}", flush=True)
    try:
        run_all(args, proxy) if args.all else run_rounds(args, proxy)
    finally:
        replica.terminate()
        replica.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
