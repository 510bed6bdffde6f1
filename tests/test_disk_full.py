"""A full disk is a plain error (issue 17 point 7): the WARC directory or the archive's
directory on a small real tmpfs, filled up during a crawl run through the CLI.

Each test shows: one clear error line and no traceback, a non-zero exit, the run recorded
as ``failed``, every ``.cdxj`` present after the next start, and nothing lost once space is
freed (the next run indexes every article the replica serves, each once).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest
from crawling import run_crawl

from newsarchive.index.spool import spool_rows
from newsarchive.replica import Replica

OUTLETS = ["nypost", "mirror"]


@pytest.fixture
def tmpfs(tmp_path):
    """Mount small tmpfs file systems under tmp_path; unmounted at teardown."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        d = tmp_path / name
        d.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(d)
        return d

    yield mount
    for d in reversed(mounted):
        if subprocess.run(["umount", str(d)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(d)], capture_output=True)


@pytest.fixture
def rep():
    r = Replica(seed=0, articles_per_outlet=3)
    r.start()
    try:
        yield r
    finally:
        r.stop()


def fill(directory: Path, leave: int) -> Path:
    """Take all free space of ``directory``'s file system but ``leave`` bytes."""
    st = os.statvfs(directory)
    filler = directory / "filler"
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return filler


def runs(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT id, status, stats->>'reason' FROM crawl_runs ORDER BY started"
        ).fetchall()
    finally:
        con.close()


def articles(db: Path) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT canonical_url FROM articles WHERE is_article").fetchall()
    finally:
        con.close()
    return sorted(r[0] for r in rows)


def served(replica: Replica) -> list[str]:
    return sorted(
        t.url for k in OUTLETS for t in replica.truth(k) if t.kind == "article" and t.in_window
    )


def assert_plain_failure(stats: dict, what: str) -> str:
    assert stats["_returncode"] == 1, stats["_stdout"] + stats["_stderr"][-2000:]
    out = stats["_stdout"].strip().splitlines()
    assert len(out) == 1 and out[0].startswith("crawl FAILED:"), out
    assert what in out[0] and "No space left on device" in out[0], out[0]
    assert "Traceback" not in stats["_stderr"] + stats["_stdout"]
    return out[0]


def assert_every_warc_indexed(warc_dir: Path) -> None:
    warcs = sorted(warc_dir.glob("*.warc.gz"))
    assert warcs
    assert [p.name for p in sorted(warc_dir.glob("*.cdxj"))] == [p.name + ".cdxj" for p in warcs]
    assert not list(warc_dir.glob("*.tmp")) and not list(warc_dir.glob("*.open"))


def test_warc_directory_full(tmp_path, tmpfs, rep):
    warc_dir = tmpfs("warc", "1m")
    filler = fill(warc_dir, 48 * 1024)  # room for a few pages, not for the crawl
    db = tmp_path / "archive.duckdb"
    first = run_crawl(tmp_path, rep, OUTLETS, check=False, warc_dir=warc_dir, db=db)
    line = assert_plain_failure(first, "WARC write failed")
    (run_id, status, reason), *_ = runs(db)
    assert status == "failed" and "No space left on device" in reason, reason
    assert first["run_id"] == run_id and run_id in line

    filler.unlink()  # space is back
    second = run_crawl(tmp_path, rep, OUTLETS, warc_dir=warc_dir, db=db)
    assert second["ok"]
    assert_every_warc_indexed(warc_dir)
    assert articles(db) == served(rep)  # every article, each once
    assert [r[1] for r in runs(db)] == ["failed", "finished"]


def test_archive_directory_full(tmp_path, tmpfs, rep):
    db_dir = tmpfs("db", "16m")
    db = db_dir / "archive.duckdb"
    warc_dir = tmp_path / "warc"
    # an archive that exists (schema, a first run), then a disk with little room left
    assert run_crawl(tmp_path, rep, ["cbc"], warc_dir=warc_dir, db=db)["ok"]
    filler = fill(db_dir, 160 * 1024)  # room for the run's start, not its rows
    first = run_crawl(tmp_path, rep, OUTLETS, check=False, warc_dir=warc_dir, db=db)
    assert_plain_failure(first, "archive (")
    # The failed run's end is recorded at once (the space reserved at its start makes room
    # for it): in crawl_runs when the merge still fits, else in the spool, from which it
    # reaches crawl_runs at the next writer open once space is back.
    ends = [r[1] for r in runs(db) if r[0] == first["run_id"]]
    ends += [r["status"] for r in spool_rows(db, "crawl_runs") if r.get("id") == first["run_id"]]
    assert ends and ends[-1] == "failed", ends

    filler.unlink()
    second = run_crawl(tmp_path, rep, OUTLETS, warc_dir=warc_dir, db=db)
    assert second["ok"], second["_stdout"]
    by_id = {r[0]: r for r in runs(db)}
    assert by_id[first["run_id"]][1] == "failed"
    assert "No space left on device" in by_id[first["run_id"]][2]
    assert by_id[second["run_id"]][1] == "finished"
    assert_every_warc_indexed(warc_dir)
    assert articles(db) == sorted(
        served(rep) + [t.url for t in rep.truth("cbc") if t.kind == "article" and t.in_window]
    )


def test_a_merge_that_runs_out_of_space_keeps_every_segment(tmpfs):
    """DuckDB failing mid-merge (its WAL does not fit) is the archive's failure, not the
    segments': none is set aside as ``.bad``; all are merged once space is back."""
    from newsarchive.index.db import connect
    from newsarchive.index.spool import Spool, sealed_files

    d = tmpfs("db", "16m")
    db = d / "archive.duckdb"
    connect(db, read_only=False).close()  # the schema
    spool = Spool(db)
    n = 0
    for _batch in range(4):
        for _ in range(300):
            n += 1
            # incompressible values, so the merge needs real room
            spool.append("captures", {"id": f"c{n}", "url": os.urandom(600).hex()})
        spool.seal()
    segments = sorted(p.name for p in sealed_files(spool.dir))
    assert len(segments) == 4
    filler = fill(d, 64 * 1024)
    with pytest.raises(duckdb.Error, match="No space left on device"):
        connect(db, read_only=False, timeout=2).close()
    assert sorted(p.name for p in sealed_files(spool.dir)) == segments
    assert not list(spool.dir.glob("*.bad"))

    filler.unlink()
    con = connect(db, read_only=False, timeout=2)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM captures").fetchone() == (n, n)
    finally:
        con.close()
    assert not sealed_files(spool.dir)
