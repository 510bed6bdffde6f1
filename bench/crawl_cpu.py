"""CPU per article of a crawl: the crawl process and its extraction workers, separately.

CPU time, unlike wall time, hardly moves with the machine's load, so code trees can be
compared on a shared machine: ``--trees`` runs the same crawl of the replica (corpus pages)
with each tree on ``PYTHONPATH`` in turn, alternating, ``--rounds`` times. Per run:

- crawl process: its own CPU (all its threads: reactor, DuckDB merges, pool feeders), read
  with ``getrusage`` when the crawl returns; ``start-up`` is its CPU until the first request
  reaches the downloader (imports, crawler set-up, the run's first index merge);
- children: the extraction fork server and workers, each sampled in /proc every 50 ms (its
  last reading kept).

usage: python bench/crawl_cpu.py [--scale 100] [--outlets mirror,guardian] [--rounds 3]
       [--trees /path/a,/path/b] [-s NAME=VALUE ...]
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
CORPUS = ROOT.parent / "shared" / "corpus" / "fundus"
TICK = os.sysconf("SC_CLK_TCK")


def _child(out: str, argv: list[str]) -> int:
    """Inside the crawl process: run ``newsarchive`` and write this process's CPU figures."""
    import resource
    import runpy

    import scrapy.core.downloader as downloader

    marks: dict[str, float] = {}
    enqueue = downloader.Downloader._enqueue_request

    def first_request(self, *a, **k):
        marks.setdefault("first_request", time.process_time())
        return enqueue(self, *a, **k)

    downloader.Downloader._enqueue_request = first_request
    sys.argv = ["newsarchive", *argv]
    code = 0
    try:
        runpy.run_module("newsarchive", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    ru = resource.getrusage(resource.RUSAGE_SELF)
    extractor = any(m.split(".")[0] == "trafilatura" for m in sys.modules)
    Path(out).write_text(
        json.dumps(
            {
                "cpu": ru.ru_utime + ru.ru_stime,
                "startup": marks.get("first_request"),
                "extractor_imported": extractor,
            }
        )
    )
    return code


def _cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    out = []
    for t in tasks:
        try:
            out += [int(c) for c in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
        except OSError:
            pass
    return out


def _sample(root: int, stop: threading.Event, seen: dict[int, float]) -> None:
    while not stop.is_set():
        todo = _children(root)
        while todo:
            pid = todo.pop()
            cpu = _cpu(pid)
            if cpu is not None:
                seen[pid] = cpu
            todo += _children(pid)
        stop.wait(0.05)


def run_once(tree: str, proxy: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out, stats_path = Path(tmp) / "cpu.json", Path(tmp) / "stats.json"
        cmd = [sys.executable, __file__, "--child", str(out), "--"]
        cmd += ["crawl", "--outlets", args.outlets, "--fast", "--proxy", proxy]
        cmd += ["--db", f"{tmp}/a.duckdb", "--warc-dir", f"{tmp}/warc"]
        cmd += ["--stats-json", str(stats_path)]
        for s in [
            "NEWSARCHIVE_MAX_AGE_DAYS=36500",
            "NEWSARCHIVE_SEEN=false",
            "NEWSARCHIVE_INDEX_FTS=false",
            "LOG_LEVEL=WARNING",
            *args.settings,
        ]:
            cmd += ["-s", s]
        env = {**os.environ, "PYTHONPATH": tree}
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        seen: dict[int, float] = {}
        stop = threading.Event()
        sampler = threading.Thread(target=_sample, args=(proc.pid, stop, seen), daemon=True)
        sampler.start()
        _, err = proc.communicate()
        stop.set()
        sampler.join()
        if not out.exists() or not stats_path.exists():
            raise SystemExit(f"crawl failed ({proc.returncode}): {err.decode()[-2000:]}")
        mine = json.loads(out.read_text())
        stats = json.loads(stats_path.read_text())
    return {
        "wall": time.monotonic() - t0,
        "articles": stats.get("articles", 0),
        "requests": stats.get("pages", 0),
        "cpu": mine["cpu"],
        "startup": mine["startup"] or 0.0,
        "children": sum(seen.values()),
        "extractor_imported": mine["extractor_imported"],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1], argv[3:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--outlets", default="mirror,guardian")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trees", default=str(ROOT), help="comma-separated code trees to compare")
    ap.add_argument("-s", dest="settings", action="append", default=[])
    ap.add_argument("--pages", default=str(CORPUS) if CORPUS.is_dir() else None)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from newsarchive.replica.process import spawn_replica

    trees = [t for t in args.trees.split(",") if t]
    replica, proxy = spawn_replica(args.scale, pages=args.pages or None)
    results: dict[str, list[dict]] = {t: [] for t in trees}
    print(f"scale {args.scale}, {args.outlets}, pages {args.pages or 'synthetic'}")
    try:
        for _ in range(args.rounds):
            for tree in trees:
                r = run_once(tree, proxy, args)
                results[tree].append(r)
                n = max(r["articles"], 1)
                print(
                    f"{tree}: {r['articles']} articles, {r['requests']} requests, "
                    f"{r['wall']:.1f} s | crawl process {r['cpu']:.2f} s CPU = "
                    f"{1000 * r['cpu'] / n:.1f} ms/article (start-up {r['startup']:.2f} s, then "
                    f"{1000 * (r['cpu'] - r['startup']) / n:.1f} ms/article) | extraction "
                    f"{r['children']:.2f} s = {1000 * r['children'] / n:.1f} ms/article | "
                    f"extractor imported by the crawl process: {r['extractor_imported']} | "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    finally:
        replica.terminate()
        replica.wait()
    print("medians:")
    for tree, runs in results.items():

        def med(key: str, runs: list[dict] = runs) -> float:
            return statistics.median(r[key] / max(r["articles"], 1) * 1000 for r in runs)

        print(
            f"  {tree}: crawl process {med('cpu'):.1f} ms/article, start-up "
            f"{statistics.median(r['startup'] for r in runs):.2f} s, after it "
            f"{statistics.median((r['cpu'] - r['startup']) / max(r['articles'], 1) * 1000 for r in runs):.1f}"
            f" ms/article; extraction {med('children'):.1f} ms/article"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
