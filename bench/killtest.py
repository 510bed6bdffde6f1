"""Kill test: crawls of the replica killed with SIGKILL at a random moment, then resumed.

One reference crawl runs to completion first. Then (default, ``--mode chain``) one crawl is
started and SIGKILLed (its whole process group, extraction workers included) ``--rounds``
times in a row, each a random delay after the run began writing WARC records (start-up is not
counted, so every kill lands in the crawl's work), each
start resuming what the previous one left; a final resume runs to the end. With ``--mode
rounds`` each round instead kills one fresh crawl once and resumes it. Then, against the
reference:

- 0 articles lost (every article URL of the reference is in the resumed archive);
- 0 duplicated (no two ``articles`` rows for one URL and one version);
- every WARC passes ``warcio check`` and ``newsarchive warc check``;
- every capture's pointer (warc_filename, warc_offset, warc_length) reads back its record;
- ``newsarchive reindex`` of the WARCs into a new file equals the crawl's archive row for
  row: ``captures``, ``articles`` and, when present, ``stories`` and ``story_members``, every
  column (ids and values) but the wall-clock ``articles.indexed_at``.

    .venv/bin/python bench/killtest.py [--rounds 20] [--mode chain|rounds] [--seed 1]
                                       [--outlets a,b] [--scale 60] [--workdir DIR]

Prints one line per kill, the row counts and differing rows per table, and a verdict; exits
1 when any check fails.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import re
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
EXTRA_SETTINGS: list[str] = []  # more -s NAME=VALUE for every crawl (--no-resume)


@dataclass
class Round:
    """One work directory's kills and final resume, and the checks on what it left."""

    n: int
    kill_after: list[float] = field(default_factory=list)
    killed: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    warcio_bad: list[str] = field(default_factory=list)
    warc_check_rc: int = 0
    bad_pointers: int = 0
    pointers: int = 0
    reindex_rc: int = 0
    comparison: dict[str, dict] = field(default_factory=dict)
    resume_rc: int = 0
    articles: int = 0
    # what the starts after a kill completed from the WARCs (newsarchive.index.resume)
    resumed: dict[str, int] = field(default_factory=dict)

    @property
    def differing(self) -> int:
        return differing_rows(self.comparison)

    @property
    def ok(self) -> bool:
        return (
            self.resume_rc == 0
            and self.reindex_rc == 0
            and not (self.lost or self.duplicated or self.unexpected or self.bad_pointers)
            and not self.warcio_bad
            and self.warc_check_rc == 0
            and bool(self.comparison)
            and self.differing == 0
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
        *[arg for setting in EXTRA_SETTINGS for arg in ("-s", setting)],
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
    _log_path(work).write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-3000:])
    return proc.returncode


def _log_path(work: Path) -> Path:
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    return logs / f"crawl-{len(list(logs.iterdir())):03d}.log"


RESUMED = re.compile(
    r"completed what a killed run left: (\d+) WARC file\(s\) repaired, (\d+) capture "
    r"row\(s\) and (\d+) article\(s\) added from the WARCs, (\d+) extraction error\(s\), "
    r"(\d+) article row\(s\) without a WARC record removed"
)


def resumed_counts(work: Path) -> dict[str, int]:
    """What the crawls' starts completed from the WARCs (their log lines, killed runs too)."""
    keys = ("repaired", "captures", "articles", "errors", "orphans")
    out = dict.fromkeys(keys, 0)
    for log in sorted((work / "logs").glob("crawl-*.log")):
        for m in RESUMED.finditer(log.read_text(errors="replace")):
            for k, v in zip(keys, m.groups(), strict=True):
                out[k] += int(v)
    return {k: v for k, v in out.items() if v}


def crawl_killed(
    work: Path, outlets: str, proxy: str, after: float | None, from_start: bool = False
) -> tuple[bool, float | None]:
    """Start a crawl and SIGKILL its process group ``after`` s after it began to write WARC
    records (start-up, slow on a loaded machine, is not counted: every kill lands in the
    crawl's work). Returns (killed, seconds from its first WARC record to its end or kill);
    ``after=None`` lets it run to the end. ``from_start``: ``after`` counts from the process
    start instead (a kill in the start-up, where the last run's leftovers are completed)."""
    warc_dir = work / "warc"
    before = set(warc_dir.glob("*.open")) if warc_dir.is_dir() else set()
    with open(_log_path(work), "wb") as log:
        proc = subprocess.Popen(
            crawl_cmd(work, outlets),
            env=_env(proxy),
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        began = time.monotonic() if from_start else None
        deadline = time.monotonic() + 900
        while proc.poll() is None and time.monotonic() < deadline:
            now = time.monotonic()
            if began is None and warc_dir.is_dir() and set(warc_dir.glob("*.open")) - before:
                began = now
            if began is not None and after is not None and now - began >= after:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return True, now - began
            time.sleep(0.02)
        if proc.poll() is None:  # hung: a failure of its own, reported by the resume
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True, None
        return False, (time.monotonic() - began) if began is not None else None


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

# Tables compared row for row between the crawl's archive and a reindex of its WARCs, and
# the columns left out of the comparison (wall-clock times of the indexing itself).
COMPARED = {"captures": (), "articles": ("indexed_at",), "stories": (), "story_members": ()}


def _columns(con, catalog: str, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? "
            "AND table_name = ? ORDER BY ordinal_position",
            [catalog, table],
        ).fetchall()
    ]


def compare_archives(crawl_db: Path, reindex_db: Path) -> dict[str, dict]:
    """Row-for-row comparison: per table, the rows of each side, how many rows of one are
    not in the other (every compared column equal), and which columns differ for ids that
    are on both sides."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{crawl_db}' AS crawl (READ_ONLY)")
        con.execute(f"ATTACH '{reindex_db}' AS reindex (READ_ONLY)")
        out: dict[str, dict] = {}
        for table, skip in COMPARED.items():
            mine, theirs = _columns(con, "crawl", table), _columns(con, "reindex", table)
            if not mine and not theirs:
                continue  # no such table on either side (stories switched off)
            cols = [c for c in mine if c in theirs and c not in skip]
            key = "id" if "id" in cols else ("article_id" if "article_id" in cols else cols[0])
            sel = ", ".join(cols)
            a = f"(SELECT {sel} FROM crawl.{table})" if mine else "(SELECT NULL WHERE false)"
            b = f"(SELECT {sel} FROM reindex.{table})" if theirs else "(SELECT NULL WHERE false)"
            res = {
                "crawl": con.execute(f"SELECT count(*) FROM {a}").fetchone()[0],
                "reindex": con.execute(f"SELECT count(*) FROM {b}").fetchone()[0],
                "only_in_crawl": con.execute(
                    f"SELECT count(*) FROM ({a} EXCEPT ALL {b})"
                ).fetchone()[0],
                "only_in_reindex": con.execute(
                    f"SELECT count(*) FROM ({b} EXCEPT ALL {a})"
                ).fetchone()[0],
                "schema_differs": sorted(set(mine) ^ set(theirs)),
            }
            if mine and theirs and (res["only_in_crawl"] or res["only_in_reindex"]):
                diffs = ", ".join(
                    f"count(*) FILTER (WHERE x.{c} IS DISTINCT FROM y.{c})" for c in cols
                )
                counts = con.execute(
                    f"SELECT {diffs} FROM crawl.{table} x JOIN reindex.{table} y USING ({key})"
                ).fetchone()
                res["columns_differing"] = {c: n for c, n in zip(cols, counts, strict=True) if n}
                res["ids_only_in_crawl"] = con.execute(
                    f"SELECT count(*) FROM crawl.{table} WHERE {key} NOT IN "
                    f"(SELECT {key} FROM reindex.{table})"
                ).fetchone()[0]
                res["ids_only_in_reindex"] = con.execute(
                    f"SELECT count(*) FROM reindex.{table} WHERE {key} NOT IN "
                    f"(SELECT {key} FROM crawl.{table})"
                ).fetchone()[0]
            out[table] = res
        return out
    finally:
        con.close()


def differing_rows(comparison: dict[str, dict]) -> int:
    return sum(
        t["only_in_crawl"] + t["only_in_reindex"] + len(t["schema_differs"])
        for t in comparison.values()
    )


def describe_comparison(comparison: dict[str, dict]) -> list[str]:
    lines = []
    for table, t in comparison.items():
        line = (
            f"  {table:14s} crawl {t['crawl']:6d} rows, reindex {t['reindex']:6d} rows, "
            f"differing: {t['only_in_crawl']} only in crawl, {t['only_in_reindex']} only in "
            "reindex"
        )
        if t.get("columns_differing") or t.get("ids_only_in_crawl") or t.get("ids_only_in_reindex"):
            line += (
                f" (ids only in crawl {t.get('ids_only_in_crawl', 0)}, only in reindex "
                f"{t.get('ids_only_in_reindex', 0)}; columns differing on shared ids: "
                f"{t.get('columns_differing') or 'none'})"
            )
        if t["schema_differs"]:
            line += f" (columns on one side only: {t['schema_differs']})"
        lines.append(line)
    return lines


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
    from newsarchive.index.db import connect

    connect(db, read_only=False, timeout=60).close()  # what is left in the spool, as any start
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
    redb = work / "reindexed.duckdb"  # a new file: nothing of the crawl's archive in it
    for p in work.glob("reindexed.duckdb*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    proc = subprocess.run(
        _cli("reindex", str(warc_dir), "--db", str(redb), "--no-fts", "-q", "--workers", "1"),
        capture_output=True,
        text=True,
        env=_env(""),
        check=False,
    )
    r.reindex_rc = proc.returncode
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-3000:])
    if redb.exists():
        r.comparison = compare_archives(db, redb)
    r.resumed = resumed_counts(work)


def run_killtest(
    rounds: int = 20,
    seed: int = 1,
    outlets: str = DEFAULT_OUTLETS,
    scale: int = 60,
    workdir: Path | None = None,
    log=print,
    mode: str = "chain",
    latency: float = 0.0,
) -> tuple[list[Round], dict]:
    """Run the kill test; returns the checked work directories (one in chain mode, one per
    round otherwise) and a summary dict."""
    from newsarchive.replica.process import spawn_replica

    rng = random.Random(seed)
    base = Path(workdir or tempfile.mkdtemp(prefix="killtest-"))
    replica, proxy = spawn_replica(scale, seed=seed, clock=CLOCK, latency=latency)
    results: list[Round] = []
    try:
        ref_dir = base / "reference"
        ref_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        _, work_secs = crawl_killed(ref_dir, outlets, proxy, None)
        ref_secs = time.monotonic() - t0
        if not (ref_dir / "archive.duckdb").exists() or not work_secs:
            raise RuntimeError("the reference crawl failed (see reference/logs)")
        reference = {u for (u,) in _rows(ref_dir / "archive.duckdb", ARTICLE_URLS)}
        log(
            f"reference crawl: {len(reference)} articles in {ref_secs:.1f}s, "
            f"{work_secs:.1f}s of it after the first WARC record ({outlets})"
        )
        # (work directory, kills in it) pairs
        plan = (
            [(base / "chain", rounds)]
            if mode == "chain"
            else [(base / f"round-{i:02d}", 1) for i in range(rounds)]
        )
        for n, (work, kills) in enumerate(plan, 1):
            work.mkdir()
            r = Round(n)
            # a kill lands anywhere from interpreter start-up to the final FTS rebuild; in a
            # chain, each run gets a slice of the work, so the kills spread over all of it
            span = work_secs if kills == 1 else min(work_secs, 1.0 + 2 * work_secs / kills)
            for k in range(kills):
                # one kill in four lands in the start-up (the resume step is run there)
                from_start = kills > 1 and rng.random() < 0.25
                after = round(rng.uniform(0.3, 4.0) if from_start else rng.uniform(0.05, span), 2)
                r.kill_after.append(after)
                killed, _ = crawl_killed(work, outlets, proxy, after, from_start)
                r.killed += killed
                if mode == "chain":
                    log(
                        f"kill {k + 1:2d}: {after:5.2f}s after "
                        f"{'the process start' if from_start else 'its first WARC record'} "
                        f"({'killed' if killed else 'done before'})"
                    )
            t1 = time.monotonic()
            r.resume_rc = crawl(work, outlets, proxy)
            resume_secs = time.monotonic() - t1
            check_round(r, work, reference)
            results.append(r)
            log(
                f"{'chain' if mode == 'chain' else f'round {r.n:2d}'}: {r.killed} of "
                f"{len(r.kill_after)} runs killed, final resume rc {r.resume_rc} in "
                f"{resume_secs:.1f}s -> {r.articles} articles, lost {r.lost}, duplicated "
                f"{r.duplicated}, unexpected {r.unexpected}, bad WARCs {len(r.warcio_bad)}, "
                f"warc check rc {r.warc_check_rc}, bad pointers {r.bad_pointers}/{r.pointers}, "
                f"completed from WARCs at start {r.resumed or 'nothing'}, "
                f"reindex rc {r.reindex_rc}, rows differing from reindex {r.differing}: "
                f"{'ok' if r.ok else 'FAIL'}"
            )
            for line in describe_comparison(r.comparison):
                log(line)
            for line in r.warcio_bad[:3]:
                log(f"    {line}")
            if r.ok and workdir is None:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        replica.terminate()
        replica.wait(timeout=30)
    tables: dict[str, dict[str, int]] = {}
    for r in results:
        for table, t in r.comparison.items():
            acc = tables.setdefault(table, {"crawl": 0, "reindex": 0, "differing": 0})
            acc["crawl"] += t["crawl"]
            acc["reindex"] += t["reindex"]
            acc["differing"] += t["only_in_crawl"] + t["only_in_reindex"]
    summary = {
        "mode": mode,
        "kills_asked": sum(len(r.kill_after) for r in results),
        "killed": sum(r.killed for r in results),
        "checked": len(results),
        "failed": sum(not r.ok for r in results),
        "lost": sum(r.lost for r in results),
        "duplicated": sum(r.duplicated for r in results),
        "bad_warcs": sum(len(r.warcio_bad) for r in results),
        "bad_pointers": sum(r.bad_pointers for r in results),
        "rows_differing_from_reindex": sum(r.differing for r in results),
        "tables": tables,
        "completed_from_warcs_at_start": {
            k: sum(r.resumed.get(k, 0) for r in results)
            for k in sorted({k for r in results for k in r.resumed})
        },
        "reference_articles": len(reference),
        "workdir": str(base),
    }
    return results, summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20, help="SIGKILLs (chain) or rounds")
    ap.add_argument("--mode", choices=("chain", "rounds"), default="chain")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--outlets", default=DEFAULT_OUTLETS)
    ap.add_argument(
        "--scale",
        type=int,
        default=60,
        help="articles per outlet in the replica (enough work for 20 kills to land in)",
    )
    ap.add_argument(
        "--latency",
        type=float,
        default=0.2,
        help="seconds the replica waits before each answer: a crawl long enough for 20 kills",
    )
    ap.add_argument("--workdir", type=Path, help="keep every round here (default: a temp dir)")
    ap.add_argument(
        "--no-resume",
        action="store_true",
        help="control run: crawls do not complete a killed run's captures from the WARCs",
    )
    args = ap.parse_args()
    if args.no_resume:
        EXTRA_SETTINGS.append("NEWSARCHIVE_RESUME_FROM_WARCS=0")
    load = os.getloadavg()[0]
    print(f"killtest: {args.rounds} {args.mode}, seed {args.seed}, load average {load:.1f}")
    _, summary = run_killtest(
        args.rounds,
        args.seed,
        args.outlets,
        args.scale,
        args.workdir,
        mode=args.mode,
        latency=args.latency,
    )
    print(json.dumps(summary, indent=2))
    verdict = "PASS" if summary["failed"] == 0 else "FAIL"
    print(
        f"{verdict}: {summary['kills_asked']} kills asked ({summary['killed']} landed "
        f"mid-crawl): {summary['lost']} articles lost, {summary['duplicated']} duplicated, "
        f"{summary['bad_warcs']} WARCs failing checks, {summary['bad_pointers']} bad pointers, "
        f"{summary['rows_differing_from_reindex']} rows differing between the crawl's archive "
        "and a reindex of its WARCs"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
