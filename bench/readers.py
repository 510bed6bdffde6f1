"""Plain DuckDB readers during a crawl: how often does ``read_only`` open fail?

Crawls ``--outlets`` of the replica (clock pinned) into a fresh archive, while this process
opens the archive with plain ``duckdb.connect(path, read_only=True)`` (no retry) every
``--every`` seconds, runs a count and closes it; a second thread runs ``newsarchive sql``
(which retries on the lock) back to back. Each mode is one value of
``NEWSARCHIVE_INDEX_MERGE_INTERVAL``: 0 is the old behaviour (merge every sealed batch at once),
the default spaces merges out so the file is free between them.

    .venv/bin/python bench/readers.py [--outlets a,b,c] [--scale 40] [--repeat 3]

Prints per run the plain readers' failure rate and the ``newsarchive sql`` failures, then the
medians per mode and their ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from newsarchive.index.schema import ensure_schema  # noqa: E402
from newsarchive.replica.process import spawn_replica  # noqa: E402

CLOCK = "2026-06-01T12:00:00Z"


def one_run(proxy: str, outlets: str, interval: float | None, every: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "archive.duckdb"
        con = duckdb.connect(str(db))  # readers can start at once
        ensure_schema(con)
        con.close()
        env = {
            **os.environ,
            "http_proxy": proxy,
            "https_proxy": proxy,
            "no_proxy": "",
            "NEWSARCHIVE_NOW": CLOCK,
            "PYTHONPATH": str(ROOT),
        }
        cmd = [
            sys.executable,
            "-m",
            "newsarchive",
            "crawl",
            "--outlets",
            outlets,
            "--fast",
            "--db",
            str(db),
            "--warc-dir",
            str(Path(tmp) / "warc"),
        ]
        if interval is not None:
            cmd += ["-s", f"NEWSARCHIVE_INDEX_MERGE_INTERVAL={interval}"]
        t0 = time.monotonic()
        crawl = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        sql = {"ok": 0, "failed": 0}

        def sql_loop() -> None:
            while crawl.poll() is None:
                p = subprocess.run(
                    [sys.executable, "-m", "newsarchive", "sql", "SELECT count(*) FROM captures"]
                    + ["--db", str(db)],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                sql["ok" if p.returncode == 0 else "failed"] += 1

        sql_thread = threading.Thread(target=sql_loop)
        sql_thread.start()
        ok = failed = 0
        while crawl.poll() is None:
            try:
                con = duckdb.connect(str(db), read_only=True)
            except duckdb.Error as exc:
                if "lock" not in str(exc).lower():
                    raise
                failed += 1
            else:
                try:
                    con.execute("SELECT count(*) FROM captures").fetchone()
                finally:
                    con.close()
                ok += 1
            time.sleep(every)
        out, err = crawl.communicate()
        secs = time.monotonic() - t0
        sql_thread.join()
        summary = out.strip().splitlines()[-1] if out.strip() else err[-300:]
        return {
            "ok": ok,
            "failed": failed,
            "rate": failed / max(1, ok + failed),
            "sql": sql,
            "seconds": secs,
            "crawl_rc": crawl.returncode,
            "summary": summary,
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outlets", default="nypost,mirror,cbc,guardian,bbc,metro")
    ap.add_argument("--scale", type=int, default=40, help="articles per outlet in the replica")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--every", type=float, default=0.25, help="seconds between plain readers")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; outlets {args.outlets}; scale {args.scale}")
    replica, proxy = spawn_replica(args.scale, clock=CLOCK)
    modes = {"before (interval 0)": 0.0, "after (default interval)": None}
    rates: dict[str, list[float]] = {m: [] for m in modes}
    try:
        for i in range(args.repeat):
            for mode, interval in modes.items():
                r = one_run(proxy, args.outlets, interval, args.every)
                rates[mode].append(r["rate"])
                print(
                    f"run {i + 1} {mode}: plain read_only readers failed {r['failed']} of "
                    f"{r['ok'] + r['failed']} ({r['rate']:.0%}); newsarchive sql failed "
                    f"{r['sql']['failed']} of {sum(r['sql'].values())}; crawl {r['seconds']:.1f}s "
                    f"rc {r['crawl_rc']}: {r['summary']}",
                    flush=True,
                )
    finally:
        replica.terminate()
        replica.wait(timeout=30)
    med = {m: median(v) for m, v in rates.items()}
    before, after = med["before (interval 0)"], med["after (default interval)"]
    print(f"median failure rate of plain readers: before {before:.1%}, after {after:.1%}")
    if after:
        print(f"ratio before/after: {before / after:.1f}x")
    else:
        print("ratio before/after: after is 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
