"""Issue 10, part A: verbs that cannot lose or overwrite data, and say every failure in one line.

Every test goes through the installed ``newsarchive`` entry point, on WARC files written by
warcio itself (uncompressed, gzip per record, gzip as one stream) and a real DuckDB archive
built by ``reindex``. Each one failed on main 576a995.
"""

from __future__ import annotations

import hashlib
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from warcfixtures import warc_bytes, write_per_record_gzip, write_plain, write_whole_gzip  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
NEWSARCHIVE = BIN / "newsarchive"


def run(*args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSARCHIVE_")}
    return subprocess.run(
        [str(NEWSARCHIVE), *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def one_clear_line(r: subprocess.CompletedProcess) -> str:
    """The failure was said in one line on stderr, without a traceback."""
    assert r.returncode != 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def warcio_records(p: Path) -> int:
    r = subprocess.run([str(BIN / "warcio"), "index", str(p)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return len(r.stdout.splitlines())


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A real archive built by ``reindex`` from a warcio-written WARC (gzip per record)."""
    d = tmp_path_factory.mktemp("archive")
    (d / "warc").mkdir()
    write_per_record_gzip(d / "warc" / "a.warc.gz")
    r = run("reindex", str(d / "warc"), "--db", str(d / "a.duckdb"), "--workers", "1", "-q")
    assert r.returncode == 0 and "35 articles" in r.stderr, r.stderr
    return d


@pytest.fixture
def scratch(archive: Path, tmp_path: Path) -> Path:
    """A copy of the archive for tests that try to damage it (on main they did)."""
    d = tmp_path / "copy"
    shutil.copytree(archive, d)
    return d


def test_reindex_of_a_directory_reads_uncompressed_warc(tmp_path: Path) -> None:
    write_plain(tmp_path / "a.warc", n=4)
    r = run("reindex", str(tmp_path), "--db", str(tmp_path / "x.duckdb"), "--workers", "1", "-q")
    # main skipped the .warc silently ("0 files", exit 0)
    assert r.returncode == 0 and "1 WARC file(s)" in r.stderr and "4 articles" in r.stderr, r.stderr


# ------------------------------------------------------------------------- warc repair


def test_repair_leaves_valid_files_alone(tmp_path: Path) -> None:
    plain = write_plain(tmp_path / "plain.warc")
    whole = write_whole_gzip(tmp_path / "whole.warc.gz")
    before = {p: sha(p) for p in (plain, whole)}
    assert warcio_records(plain) == 71
    r = run("warc", "repair", str(plain), str(whole))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("nothing to cut") == 2, r.stdout
    assert {p: sha(p) for p in (plain, whole)} == before
    assert not list(tmp_path.glob("*.bak"))
    assert "--recompress" in r.stdout  # the one-stream gzip is said to be not replayable
    # check and cdxj read the uncompressed file like warcio does
    r = run("warc", "check", str(tmp_path))
    assert r.returncode == 0 and "plain.warc (71 records)" in r.stdout, r.stdout
    r = run("cdxj", str(plain))
    assert r.returncode == 0 and "(35 entries)" in r.stdout, r.stdout


def test_repair_refuses_what_is_not_a_warc(tmp_path: Path) -> None:
    noise = tmp_path / "noise.warc.gz"
    noise.write_bytes(os.urandom(4096))
    text = tmp_path / "notes.warc.gz"
    text.write_text("these are my notes, not a WARC\n" * 50)
    before = {p: sha(p) for p in (noise, text)}
    r = run("warc", "repair", str(noise), str(text))
    assert r.returncode == 1
    assert r.stdout.count("REFUSED") == 2 and "not a WARC" in r.stdout, r.stdout
    assert {p: sha(p) for p in (noise, text)} == before
    # cdxj on random bytes: a clear error, non-zero, and no empty .cdxj left behind
    r = run("cdxj", str(noise))
    assert r.returncode == 1 and "not a WARC file" in r.stderr and "Traceback" not in r.stderr
    assert not list(tmp_path.glob("*.cdxj"))


def test_repair_cuts_a_torn_plain_warc_keeping_a_backup(tmp_path: Path) -> None:
    data = warc_bytes(10)
    torn = tmp_path / "torn.warc"
    torn.write_bytes(data[:-300])
    r = run("warc", "repair", "--dry-run", str(torn))
    assert r.returncode == 0 and "would keep 20 records and cut" in r.stdout, r.stdout
    assert torn.read_bytes() == data[:-300]
    r = run("warc", "repair", str(torn))
    assert r.returncode == 0 and "REPAIRED" in r.stdout, r.stdout
    assert (tmp_path / "torn.warc.bak").read_bytes() == data[:-300]
    assert warcio_records(torn) == 20
    assert run("warc", "check", str(torn)).returncode == 0
    # a second repair finds nothing to do; --no-backup leaves no second .bak
    r = run("warc", "repair", "--no-backup", str(torn))
    assert "nothing to cut" in r.stdout and not (tmp_path / "torn.warc.bak.1").exists()


def test_repair_salvages_records_of_a_torn_one_stream_gzip(tmp_path: Path) -> None:
    whole = write_whole_gzip(tmp_path / "w.warc.gz", n=30)
    original = whole.read_bytes()
    whole.write_bytes(original[: len(original) * 3 // 4])
    r = run("warc", "repair", str(whole))
    assert r.returncode == 0, r.stdout
    kept = int(r.stdout.split("kept ")[1].split()[0])
    assert kept >= 30, r.stdout  # main kept 0 of them and cut the file to nothing
    assert warcio_records(whole) == kept  # now one gzip member per record: warcio can seek
    assert (tmp_path / "w.warc.gz.bak").stat().st_size == len(original) * 3 // 4
    # the valid one-stream file becomes replayable only on request, with a backup
    ok = write_whole_gzip(tmp_path / "ok.warc.gz", n=5)
    r = run("cdxj", str(ok))
    assert r.returncode == 1 and "one stream" in r.stderr
    assert not (tmp_path / "ok.warc.gz.cdxj").exists()
    r = run("warc", "repair", "--recompress", str(ok))
    assert r.returncode == 0 and "recompressed" in r.stdout, r.stdout
    assert warcio_records(ok) == 11 and (tmp_path / "ok.warc.gz.bak").exists()
    assert (tmp_path / "ok.warc.gz.cdxj").read_text().count("\n") == 5


# ------------------------------------------------------------------------- sql is read-only


@pytest.mark.parametrize(
    "query",
    [
        "COPY (SELECT 1) TO '{db}'",
        "COPY (SELECT 1) TO '{warc}' (FORMAT csv)",
        "EXPORT DATABASE '{dir}/export'",
        "ATTACH '{dir}/other.duckdb' AS other (READ_WRITE)",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SELECT * FROM read_text('{warc}')",
    ],
)
def test_sql_cannot_touch_files(scratch: Path, query: str) -> None:
    archive = scratch
    db, warc = archive / "a.duckdb", archive / "warc" / "a.warc.gz"
    before = {p: sha(p) for p in (db, warc)}
    listing = sorted(os.listdir(archive))
    q = query.format(db=db, warc=warc, dir=archive)
    line = one_clear_line(run("sql", q, "--db", str(db)))
    assert line.startswith("error:") and ("read-only" in line or "cannot change" in line), line
    assert {p: sha(p) for p in (db, warc)} == before
    assert sorted(os.listdir(archive)) == listing


def test_sql_output_never_overwrites_the_archive_or_a_warc(scratch: Path, tmp_path: Path) -> None:
    archive = scratch
    db, warc = archive / "a.duckdb", archive / "warc" / "a.warc.gz"
    before = {p: sha(p) for p in (db, warc)}
    link = tmp_path / "innocent.parquet"
    link.symlink_to(db)
    q = "SELECT url FROM captures"
    for fmt, out in [
        ("parquet", db),
        ("parquet", link),
        ("csv", archive / "warc" / ".." / "a.duckdb"),
        ("csv", warc),
    ]:
        line = one_clear_line(run("sql", q, "--db", str(db), "--format", fmt, "-o", str(out)))
        assert "refusing" in line, line
    assert {p: sha(p) for p in (db, warc)} == before
    mine = tmp_path / "mine.csv"
    mine.write_text("keep me\n")
    assert "--force" in one_clear_line(
        run("sql", q, "--db", str(db), "--format", "csv", "-o", str(mine))
    )
    assert mine.read_text() == "keep me\n"
    r = run("sql", q, "--db", str(db), "--format", "csv", "-o", str(mine), "--force")
    assert r.returncode == 0 and len(mine.read_text().splitlines()) == 36
    out = tmp_path / "x.parquet"
    r = run("sql", q, "--db", str(db), "--format", "parquet", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert duckdb.sql(f"SELECT count(*) FROM '{out}'").fetchone()[0] == 35
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_sql_bm25_still_works_after_the_lock(archive: Path) -> None:
    run("search", "--rebuild", "--db", str(archive / "a.duckdb"))
    q = (  # the extension's own BM25 macro, over the attached full-text side file
        "USE fts; SELECT count(*) FROM (SELECT fts_main_article_search.match_bm25(name, 'ferry')"
        " AS s FROM fts_main_article_search.docs) WHERE s IS NOT NULL"
    )
    r = run("sql", q, "--db", str(archive / "a.duckdb"), "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.splitlines()[1]) == 35


# ------------------------------------------------------------------------- one clear line


@pytest.mark.parametrize(
    "query,says",
    [
        ("", "no SQL statement"),
        (";", "no SQL statement"),
        ("-- x", "no SQL"),
        ("SELEC 1", "syntax"),
    ],
)
def test_sql_bad_queries_are_one_line(archive: Path, query: str, says: str) -> None:
    line = one_clear_line(run("sql", query, "--db", str(archive / "a.duckdb")))
    assert line.startswith("error:") and says in line, line


def test_sql_csv_into_a_missing_directory(archive: Path) -> None:
    r = run(
        "sql",
        "SELECT 1",
        "--db",
        str(archive / "a.duckdb"),
        "--format",
        "csv",
        "-o",
        "/missing/x.csv",
    )
    assert "does not exist" in one_clear_line(r)


@pytest.mark.parametrize(
    "verb",
    [
        ["sql", "SELECT * FROM range(300000)", "--format", "csv"],
        ["search", "ferry", "--limit", "35"],
        ["show", "https://nypost.com/2024/05/01/story-number-0/", "--html"],
        ["warc", "check", "FILES"],
    ],
)
def test_output_piped_into_head_is_quiet(archive: Path, tmp_path: Path, verb: list[str]) -> None:
    if verb[-1] == "FILES":  # many files, so the output outlives head
        for i in range(400):
            shutil.copy(archive / "warc" / "a.warc.gz", tmp_path / f"c{i}.warc.gz")
        verb = [*verb[:-1], str(tmp_path)]
    elif verb[0] == "show":
        verb = [*verb, "--warc-dir", str(tmp_path)]
        big = tmp_path / "big.warc"  # a capture larger than a pipe buffer
        big.write_bytes(warc_bytes(1, pad=200_000))
    else:
        verb = [*verb, "--db", str(archive / "a.duckdb")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSARCHIVE_")}
    cmd = " ".join(f"'{a}'" for a in [str(NEWSARCHIVE), *verb])
    r = subprocess.run(
        ["bash", "-c", f"{cmd} | head -n 0; echo ${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
    assert r.stdout.strip() in ("0", "141"), r.stdout


def test_show_canonicalises_the_url(archive: Path) -> None:
    url = "https://nypost.com/2024/05/02/story-number-1/?utm_source=x&fbclid=y"
    r = run("show", url, "--warc-dir", str(archive / "warc"))
    assert r.returncode == 0, r.stderr
    assert "url:       https://nypost.com/2024/05/02/story-number-1/" in r.stdout


def test_show_raw_refuses_gzip_bytes_on_a_terminal(tmp_path: Path) -> None:
    import gzip as gz

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    body = gz.compress(b"<html>" + b"compressed page " * 100 + b"</html>")
    with open(tmp_path / "z.warc.gz", "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        http = StatusAndHeaders(
            "200 OK",
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
            protocol="HTTP/1.1",
        )
        import io

        w.write_record(
            w.create_warc_record(
                "https://example.com/z", "response", payload=io.BytesIO(body), http_headers=http
            )
        )
    args = [str(NEWSARCHIVE), "show", "https://example.com/z", "--raw", "--warc-dir", str(tmp_path)]
    main, child = pty.openpty()
    try:
        r = subprocess.run(args, stdout=child, stderr=subprocess.PIPE, text=True, timeout=60)
        os.set_blocking(main, False)
        try:
            shown = os.read(main, 65536)
        except BlockingIOError:
            shown = b""
    finally:
        os.close(main)
        os.close(child)
    assert r.returncode == 2 and "--output" in r.stderr, r.stderr
    assert b"\x1f\x8b" not in shown
    # through a pipe or into a file the bytes are given as stored
    assert body in subprocess.run(args, capture_output=True, timeout=60).stdout
    out = tmp_path / "z.http"
    r = run(*args[1:], "-o", str(out))
    assert r.returncode == 0 and out.read_bytes().endswith(body)


def test_search_unknown_outlet_suggests(archive: Path) -> None:
    r = run("search", "ferry", "--outlet", "nypots", "--db", str(archive / "a.duckdb"))
    line = one_clear_line(r)
    assert "unknown outlet 'nypots'" in line and "nypost" in line, line


def test_scrapyd_leftovers_are_ignored() -> None:
    r = subprocess.run(
        ["git", "check-ignore", "dbs/default.db", "eggs/x/1.egg", "twistd.pid"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3, r.stdout + r.stderr


def test_registry_problems_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[outlets.x]\nname = "X"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSARCHIVE_")}
    missing = {**env, "NEWSARCHIVE_REGISTRY": str(tmp_path / "missing.toml")}
    r = subprocess.run(
        [str(NEWSARCHIVE), "crawl", "--outlets", "nypost", "--db", str(tmp_path / "a.duckdb")],
        cwd=tmp_path,
        env=missing,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "missing.toml: No such file" in one_clear_line(r)
    r = subprocess.run(
        [str(BIN / "scrapy"), "list"],
        cwd=ROOT,
        env={**env, "NEWSARCHIVE_REGISTRY": str(bad)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "outlet 'x', field 'domains'" in one_clear_line(r)
