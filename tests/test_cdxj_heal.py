"""CDXJ indexes are regenerated at the next start for every WARC that lacks a current one
(issue 17 point 6): missing, empty, older or short indexes, and leftover temp files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crawling import run_crawl
from warcfixtures import write_per_record_gzip, write_plain

from newsarchive.warc.indexes import ensure_indexes, index_is_current
from newsarchive.warc.scan import index_file


def _expected(warc: Path) -> list[str]:
    return sorted(e.line() + "\n" for e in index_file(warc))


def _lines(cdxj: Path) -> list[str]:
    return sorted(cdxj.read_text(encoding="utf-8").splitlines(keepends=True))


def test_missing_empty_old_and_short_indexes_are_regenerated(tmp_path):
    d = tmp_path / "warc"
    d.mkdir()
    names = ["a-missing", "b-empty", "c-old", "d-short", "e-current", "f-plain"]
    warcs = {n: write_per_record_gzip(d / f"{n}.warc.gz", n=6) for n in names[:-1]}
    warcs["f-plain"] = write_plain(d / "f-plain.warc", n=4)
    cdxj = {n: w.with_name(w.name + ".cdxj") for n, w in warcs.items()}
    full = {n: _expected(w) for n, w in warcs.items()}
    assert all(len(v) >= 4 for v in full.values())

    cdxj["b-empty"].write_text("")  # what a full disk or a power loss leaves
    cdxj["c-old"].write_text("".join(full["c-old"]))
    os.utime(cdxj["c-old"], ns=(1, 1))  # older than its WARC (e.g. the WARC was repaired)
    cdxj["d-short"].write_text("".join(sorted(full["d-short"][:2])))  # newer, but short
    cdxj["e-current"].write_text("".join(full["e-current"]))
    cdxj["f-plain"].write_text("".join(full["f-plain"]))
    before = cdxj["e-current"].stat().st_mtime_ns
    # temp files: the old fixed name (zero bytes), one of a dead process, one of a live one
    legacy = d / "a-missing.warc.gz.cdxj.tmp"
    legacy.write_bytes(b"")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout.strip()
    dead_tmp = d / f"b-empty.warc.gz.cdxj.{dead}.tmp"
    dead_tmp.write_bytes(b"")
    live_tmp = d / f"c-old.warc.gz.cdxj.{os.getppid()}.tmp"
    live_tmp.write_bytes(b"")
    # a WARC still being written is left to its crawl
    open_warc = write_per_record_gzip(d / "g.warc.gz.open", n=2)

    for n in ("a-missing", "b-empty", "c-old", "d-short"):
        assert not index_is_current(warcs[n], cdxj[n])[0], n
    assert index_is_current(warcs["e-current"], cdxj["e-current"]) == (True, "")
    assert index_is_current(warcs["f-plain"], cdxj["f-plain"]) == (True, "")

    done = ensure_indexes(d)
    assert sorted(p.name for p in done.regenerated) == [
        f"{n}.warc.gz.cdxj" for n in ("a-missing", "b-empty", "c-old", "d-short")
    ]
    assert sorted(done.removed_tmp) == sorted([legacy, dead_tmp])
    assert live_tmp.exists() and not legacy.exists() and not dead_tmp.exists()
    assert done.failed == []
    for n in names:
        assert _lines(cdxj[n]) == full[n], n
    assert cdxj["e-current"].stat().st_mtime_ns == before  # a current index is not rewritten
    assert not (d / (open_warc.name + ".cdxj")).exists()
    assert not (d / "g.warc.gz.cdxj").exists()
    # a second start finds nothing to do
    assert not ensure_indexes(d).changed


def test_an_unwritable_index_is_reported_not_raised(tmp_path):
    d = tmp_path / "warc"
    d.mkdir()
    warc = write_per_record_gzip(d / "a.warc.gz", n=3)
    (d / "a.warc.gz.cdxj").mkdir()  # a directory where the index should go: rename fails
    done = ensure_indexes(d)
    assert done.regenerated == [] and len(done.failed) == 1
    assert str(warc) in done.failed[0]
    assert not list(d.glob("*.tmp"))


def test_crawl_start_regenerates_lost_indexes_and_finds_revisits(tmp_path, replica):
    first = run_crawl(tmp_path, replica, ["nypost"])
    assert first["_returncode"] == 0
    warc_dir = tmp_path / "warc"
    warcs = sorted(warc_dir.glob("*.warc.gz"))
    indexes = sorted(warc_dir.glob("*.cdxj"))
    assert warcs and len(indexes) == len(warcs)
    wanted = {p: p.read_text() for p in indexes}
    # what a crawl stopped by a full disk left: no index, or a zero-byte one, and temp files
    indexes[0].unlink()
    (warc_dir / (indexes[0].name + ".tmp")).write_bytes(b"")
    for p in indexes[1:]:
        p.write_bytes(b"")

    second = run_crawl(tmp_path, replica, ["nypost"])
    assert second["_returncode"] == 0
    for p, text in wanted.items():
        assert sorted(p.read_text().splitlines()) == sorted(text.splitlines()), p
    assert not list(warc_dir.glob("*.tmp"))
    assert len(list(warc_dir.glob("*.cdxj"))) == len(list(warc_dir.glob("*.warc.gz")))
    # revisit detection read the regenerated indexes: what came back unchanged (robots.txt
    # at least) was written as a revisit of the first run's capture
    new = [p for p in warc_dir.glob("*.warc.gz") if p not in warcs]
    assert new
    revisits = [e for p in new for e in index_file(p) if e.is_revisit]
    assert revisits, [e.url for p in new for e in index_file(p)]
