"""Kill test: crawls of the replica killed with SIGKILL at a random moment, then resumed.

One reference crawl runs to completion first. Then each round crawls into a fresh archive,
kills the crawl (its whole process group, extraction workers included) with SIGKILL after a
random delay drawn over the reference crawl's duration, resumes it with the same command and
checks, against the reference:

- 0 articles lost (every article URL of the reference is in the resumed archive);
- 0 duplicated (no two ``articles`` rows for one URL and one version);
- every WARC passes ``warcio check`` and ``newsarchive warc check``;
- every capture's pointer (warc_filename, warc_offset, warc_length) reads back its record;
- ``newsarchive reindex`` of the round's WARCs gives the same captures and the same article
  versions. Pages the killed run captured but had not indexed are fetched again on resume;
  their count is printed as ``refetched`` (reindex then holds two rows for that version).

    .venv/bin/python bench/killtest.py [--rounds 20] [--seed 1] [--outlets a,b] [--scale 12]

Prints one line per round and a verdict; exits 1 when any round fails a check.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLOCK = "2026-06-01T12:00:00Z"
DEFAULT_OUTLETS = "nypost,mirror,cbc,guardian"


@dataclass
class Round:
    n: int
    kill_after: float
    killed: bool = False
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    warcio_bad: list[str] = field(default_factory=list)
    warc_check_rc: int = 0
    bad_pointers: int = 0
    pointers: int = 0
    reindex_diff: dict[str, int] = field(default_factory=dict)
    refetched: int = 0  # captured by the killed run, not indexed, fetched again
    resume_rc: int = 0
    articles: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.resume_rc == 0
            and not (self.lost or self.duplicated or self.unexpected or self.bad_pointers)
            and not self.warcio_bad
            and self.warc_check_rc == 0
            and not any(self.reindex_diff.values())
        )


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsarchive", *args]


def _env(proxy: str) -> dict[str, str]:
    return {
        **os.environ,
        "http_proxy": proxy,
        "https_proxy": proxy,
        "no_proxy": "",
        "NEWSARCHIVE_NOW": CLOCK,
        "PYTHONPATH": str(ROOT),
    }


def crawl_cmd(work: Path, outlets: str) -> list[str]:
    return _cli(
        "crawl",
        "--outlets",
        outlets,
        "--fast",
        "--db",
        str(work / "archive.duckdb"),
        "--warc-dir",
        str(work / "warc"),
        # merges and batches small and often, so a kill lands inside every phase
        "-s",
        "NEWSARCHIVE_INDEX_BATCH_SIZE=20",
        "-s",
        "NEWSARCHIVE_INDEX_MERGE_INTERVAL=0.5",
    )


def crawl(work: Path, outlets: str, proxy: str, timeout: float = 600) -> int:
    proc = subprocess.run(
        crawl_cmd(work, outlets),
        env=_env(proxy),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-3000:])
    return proc.returncode


def crawl_killed(work: Path, outlets: str, proxy: str, after: float) -> bool:
    """Start a crawl and SIGKILL its process group after ``after`` s; True if it was killed."""
    proc = subprocess.Popen(
        crawl_cmd(work, outlets),
        env=_env(proxy),
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=after)
        return False  # finished before the kill
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def _rows(db: Path, sql: str) -> list[tuple]:
    from newsarchive.index.db import connect

    con = connect(db, read_only=True, timeout=60)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


ARTICLE_URLS = "SELECT DISTINCT canonical_url FROM articles WHERE is_article"
DUPLICATES = (
    "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM articles "
    "GROUP BY canonical_url, md5(coalesce(text, '')), modified, published HAVING n > 1)"
)
CAPTURE_KEYS = "SELECT id, url, warc_filename, warc_offset, warc_length FROM captures"
# per version: a page the killed run captured but had not indexed yet is fetched again on
# resume (the seen-set comes from articles), so its WARC holds two captures of one version
ARTICLE_KEYS = "SELECT DISTINCT canonical_url, md5(coalesce(text, '')), is_article FROM articles"
ARTICLE_ROWS = "SELECT count(*) FROM articles"


def read_pointer(warc_dir: Path, filename: str, offset: int, length: int) -> str | None:
    """The WARC-Record-ID of the record at the pointer, or None if it does not read back."""
    from warcio.archiveiterator import ArchiveIterator

    path = warc_dir / filename
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            blob = f.read(length)
        if len(blob) != length:
            return None
        if path.name.endswith(".gz"):
            blob = gzip.decompress(blob)  # one member: exactly one record
        for record in ArchiveIterator(io.BytesIO(blob)):
            record.content_stream().read()
            return record.rec_headers.get_header("WARC-Record-ID")
    except (OSError, EOFError, ValueError, gzip.BadGzipFile):
        return None
    return None


def warcio_check(paths: list[Path]) -> list[str]:
    warcio = Path(sys.executable).with_name("warcio")
    cmd = [str(warcio)] if warcio.exists() else [sys.executable, "-m", "warcio.cli"]
    bad = []
    for p in paths:
        proc = subprocess.run([*cmd, "check", str(p)], capture_output=True, text=True)
        if proc.returncode != 0:
            bad.append(f"{p.name}: {(proc.stdout + proc.stderr).strip()[-300:]}")
    return bad


def check_round(r: Round, work: Path, reference: set[str]) -> None:
    db, warc_dir = work / "archive.duckdb", work / "warc"
    got = {u for (u,) in _rows(db, ARTICLE_URLS)}
    r.articles = len(got)
    r.lost = len(reference - got)
    r.unexpected = len(got - reference)
    r.duplicated = int(_rows(db, DUPLICATES)[0][0])
    warcs = sorted(warc_dir.glob("*.warc.gz"))
    leftovers = sorted(warc_dir.glob("*.open"))
    r.warcio_bad = warcio_check(warcs) + [f"{p.name}: left open" for p in leftovers]
    r.warc_check_rc = subprocess.run(
        _cli("warc", "check", str(warc_dir)), capture_output=True, env=_env("")
    ).returncode
    captures = _rows(db, CAPTURE_KEYS)
    r.pointers = len(captures)
    r.bad_pointers = sum(
        1
        for cid, _url, fn, off, length in captures
        if fn is None or read_pointer(warc_dir, fn, off, length) != cid
    )
    redb = work / "reindexed.duckdb"
    subprocess.run(
        _cli("reindex", str(warc_dir), "--db", str(redb), "--no-fts", "-q", "--workers", "1"),
        capture_output=True,
        env=_env(""),
        check=False,
    )
    for name, sql in (("captures", CAPTURE_KEYS), ("articles", ARTICLE_KEYS)):
        mine = set(_rows(db, sql))
        theirs = set(_rows(redb, sql)) if redb.exists() else set()
        r.reindex_diff[f"{name}_only_in_crawl"] = len(mine - theirs)
        r.reindex_diff[f"{name}_only_in_reindex"] = len(theirs - mine)
    if redb.exists():
        r.refetched = _rows(redb, ARTICLE_ROWS)[0][0] - _rows(db, ARTICLE_ROWS)[0][0]


def run_killtest(
    rounds: int = 20,
    seed: int = 1,
    outlets: str = DEFAULT_OUTLETS,
    scale: int = 12,
    workdir: Path | None = None,
    log=print,
) -> tuple[list[Round], dict]:
    """Run the kill test; returns the rounds and a summary dict."""
    from newsarchive.replica.process import spawn_replica

    rng = random.Random(seed)
    base = Path(workdir or tempfile.mkdtemp(prefix="killtest-"))
    replica, proxy = spawn_replica(scale, seed=seed, clock=CLOCK)
    results: list[Round] = []
    try:
        ref_dir = base / "reference"
        ref_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        rc = crawl(ref_dir, outlets, proxy)
        ref_secs = time.monotonic() - t0
        if rc != 0:
            raise RuntimeError(f"the reference crawl failed (exit {rc})")
        reference = {u for (u,) in _rows(ref_dir / "archive.duckdb", ARTICLE_URLS)}
        log(f"reference crawl: {len(reference)} articles in {ref_secs:.1f}s ({outlets})")
        for i in range(rounds):
            work = base / f"round-{i:02d}"
            work.mkdir()
            # from interpreter start-up to the final FTS rebuild
            r = Round(i + 1, round(rng.uniform(0.3, ref_secs), 2))
            r.killed = crawl_killed(work, outlets, proxy, r.kill_after)
            r.resume_rc = crawl(work, outlets, proxy)
            check_round(r, work, reference)
            results.append(r)
            log(
                f"round {r.n:2d}: kill at {r.kill_after:5.2f}s ({'killed' if r.killed else 'done'})"
                f" -> {r.articles} articles, lost {r.lost}, duplicated {r.duplicated}, "
                f"unexpected {r.unexpected}, bad WARCs {len(r.warcio_bad)}, warc check rc "
                f"{r.warc_check_rc}, bad pointers {r.bad_pointers}/{r.pointers}, reindex diff "
                f"{sum(r.reindex_diff.values())}, refetched {r.refetched}: "
                f"{'ok' if r.ok else 'FAIL'}"
            )
            for line in r.warcio_bad[:3]:
                log(f"    {line}")
            if r.ok and workdir is None:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        replica.terminate()
        replica.wait(timeout=30)
    summary = {
        "rounds": len(results),
        "killed": sum(r.killed for r in results),
        "failed_rounds": sum(not r.ok for r in results),
        "lost": sum(r.lost for r in results),
        "duplicated": sum(r.duplicated for r in results),
        "bad_warcs": sum(len(r.warcio_bad) for r in results),
        "bad_pointers": sum(r.bad_pointers for r in results),
        "reindex_diff": sum(sum(r.reindex_diff.values()) for r in results),
        "refetched_after_kill": sum(r.refetched for r in results),
        "reference_articles": len(reference),
        "workdir": str(base),
    }
    return results, summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--outlets", default=DEFAULT_OUTLETS)
    ap.add_argument("--scale", type=int, default=12, help="articles per outlet in the replica")
    ap.add_argument("--workdir", type=Path, help="keep every round here (default: a temp dir)")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"killtest: {args.rounds} rounds, seed {args.seed}, load average {load:.1f}")
    _, summary = run_killtest(args.rounds, args.seed, args.outlets, args.scale, args.workdir)
    print(json.dumps(summary, indent=2))
    verdict = "PASS" if summary["failed_rounds"] == 0 else "FAIL"
    print(
        f"{verdict}: {summary['rounds']} rounds ({summary['killed']} killed mid-crawl): "
        f"{summary['lost']} articles lost, {summary['duplicated']} duplicated, "
        f"{summary['bad_warcs']} WARCs failing checks, {summary['bad_pointers']} bad pointers, "
        f"reindex differences {summary['reindex_diff']}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
