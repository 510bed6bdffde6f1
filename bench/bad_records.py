"""Peak RSS (process tree, extraction workers included) of the WARC tools on bad records.

Builds the WARC of tests/test_bad_records.py (a broken WARC-Date, a stored 1 GiB gzip bomb,
a 200k-paragraph page between good captures) and prints, per verb, exit code, seconds and
peak RSS. Usage: .venv/bin/python bench/bad_records.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import test_bad_records as t  # noqa: E402


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="badrec-"))
    src = t.build_source(tmp)
    runs = [
        ("warc check", ["warc", "check"]),
        ("cdxj", ["cdxj"]),
        ("show --html bomb", ["show", t.BOMB_URL, "--html", "--warc-dir"]),
        ("show --text endless", ["show", t.HUGE_URL, "--text", "--warc-dir"]),
        ("reindex", ["reindex", "--workers", "1", "--extract-timeout", "3", "--no-fts", "-q"]),
        ("warc repair", ["warc", "repair"]),
    ]
    for name, args in runs:
        work = tmp / name.replace(" ", "_")
        shutil.copytree(src["dir"], work / "warc")
        warc = str(work / "warc")
        argv = [*args, warc] if args[0] != "reindex" else ["reindex", warc, *args[1:]]
        if args[0] == "reindex":
            argv += ["--db", str(work / "a.duckdb")]
        started = time.monotonic()
        try:
            r = t._cli(*argv, cwd=work)
        except BaseException as exc:  # noqa: BLE001 - report and go on
            print(f"{name:22} failed: {exc}")
            continue
        print(
            f"{name:22} rc={r['rc']} {time.monotonic() - started:6.1f} s peak {r['peak_mb']:6.0f} MB"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
