"""Helpers for tests that run a real crawl in a subprocess against the replica."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_crawl(
    tmp: Path,
    replica,
    outlets: list[str],
    *settings: str,
    timeout: float = 300,
    extra_args: tuple[str, ...] = (),
    check: bool = True,
    entry: tuple[str, ...] = ("-m", "newsarchive"),
    db: Path | None = None,
    warc_dir: Path | None = None,
) -> dict:
    """Run ``newsarchive crawl`` for ``outlets`` through ``replica``; return its JSON stats.
    ``entry`` replaces ``-m newsarchive`` (a script that instruments the crawl process)."""
    stats_path = tmp / f"stats-{len(list(tmp.glob('stats-*.json')))}.json"
    cmd = [
        sys.executable,
        *entry,
        "crawl",
        "--outlets",
        ",".join(outlets),
        "--fast",
        "--db",
        str(db or tmp / "archive.duckdb"),
        "--warc-dir",
        str(warc_dir or tmp / "warc"),
        "--stats-json",
        str(stats_path),
        *extra_args,
    ]
    for s in settings:
        cmd += ["-s", s]
    env = {**os.environ, **replica.env(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"crawl failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"
        )
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    stats["_returncode"] = proc.returncode
    stats["_stdout"] = proc.stdout
    stats["_stderr"] = proc.stderr
    return stats


def load_killtest():
    """bench/killtest.py as a module: its archive comparison is the tests' too."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("killtest", ROOT / "bench" / "killtest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["killtest"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
