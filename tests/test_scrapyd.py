"""Deploying to a real scrapyd with scrapyd-client, from a clean copy of the project.

One test runs the whole path a user takes: start scrapyd on loopback, ``scrapyd-deploy`` the
project (egg built by the committed setup.py, registry shipped inside it), schedule the
nypost spider through ``schedule.json`` with newsarchive settings, wait for it in
``listjobs.json``, then check the WARC files and the DuckDB index it wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest

from newsarchive.registry import load_outlets
from newsarchive.settings import replica_overrides

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What a clean checkout holds that the build needs (tests, bench and docs are not shipped).
PROJECT_FILES = ("scrapy.cfg", "setup.py", "pyproject.toml", "README.md", "seeds", "newsarchive")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _post(url: str, data: list[tuple[str, str]]) -> dict:
    body = urllib.parse.urlencode(data).encode()
    with urllib.request.urlopen(url, data=body, timeout=30) as r:
        return json.loads(r.read())


def _copy_project(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "_seeds")
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)


@pytest.fixture
def scrapyd(tmp_path, replica):
    """A real scrapyd on a free loopback port; its jobs see the replica proxy in their env."""
    home = tmp_path / "scrapyd"
    home.mkdir()
    port = _free_port()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        "bind_address = 127.0.0.1\n"
        f"http_port = {port}\n"
        f"eggs_dir = {home / 'eggs'}\n"
        f"logs_dir = {home / 'logs'}\n"
        f"dbs_dir = {home / 'dbs'}\n"
        "items_dir =\n"
        "poll_interval = 0.5\n"
        "max_proc = 1\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCRAPY_SETTINGS_MODULE")}
    env.update(replica.env())
    # scrapyd reads ./scrapyd.conf; running it in its own directory also keeps the checkout
    # (and its scrapy.cfg) out of the job's view, so the job must use the deployed egg.
    out = open(home / "scrapyd.out", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "scrapyd")], cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(url + "daemonstatus.json").get("status") == "ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"scrapyd did not start:\n{(home / 'scrapyd.out').read_text()}"
                )
            time.sleep(0.2)
        yield url, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


def test_scrapyd_deploy_schedule_crawl(tmp_path, replica, scrapyd):
    import duckdb

    url, home = scrapyd
    project = tmp_path / "checkout"
    project.mkdir()
    _copy_project(project)
    # A named target in the user-level scrapy.cfg, so the project's own scrapy.cfg is used as is.
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    (xdg / "scrapy.cfg").write_text(f"[deploy:test]\nurl = {url}\nproject = newsarchive\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(xdg)}
    env.pop("PYTHONPATH", None)
    started = time.monotonic()
    deploy = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "test", "--version", "r1"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    answer = json.loads(deploy.stdout)
    assert answer["status"] == "ok", answer

    egg = home / "eggs" / "newsarchive" / "r1.egg"
    with zipfile.ZipFile(egg) as z:
        names = set(z.namelist())
        assert (
            z.read("newsarchive/_seeds/outlets.toml") == (ROOT / "seeds/outlets.toml").read_bytes()
        )
        assert "settings = newsarchive.settings" in z.read("EGG-INFO/entry_points.txt").decode()
    assert not any(n.startswith(("tests/", "seeds/", "bench/")) for n in names)

    # The job runner activates the egg the way this does; from scrapyd's directory the package
    # and its registry must come from the egg, not from the checkout or the editable install.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from scrapyd.runner import activate_egg; import sys; "
            "activate_egg(sys.argv[1]); import newsarchive, newsarchive.registry as r; "
            "print(newsarchive.__file__); print(r.registry_path()); print(len(r.load_outlets()))",
            str(egg),
        ],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    module, registry, count = probe.stdout.split("\n")[:3]
    assert module.startswith(str(egg)), module
    assert not registry.startswith(str(ROOT)), registry
    assert int(count) == len(load_outlets())

    spiders = _get(url + "listspiders.json?project=newsarchive")["spiders"]
    # Every registry outlet is a spider: scrapyd listed them by loading the egg's registry.
    assert sorted(spiders) == sorted(load_outlets())
    assert answer["spiders"] == len(spiders)

    out = tmp_path / "out"
    settings = {
        "NEWSARCHIVE_DB": str(out / "archive.duckdb"),
        "NEWSARCHIVE_WARC_DIR": str(out / "warc"),
        **replica_overrides(),
    }
    job = _post(
        url + "schedule.json",
        [("project", "newsarchive"), ("spider", "nypost")]
        + [("setting", f"{k}={v}") for k, v in settings.items()],
    )
    assert job["status"] == "ok", job
    job_id = job["jobid"]

    deadline = time.monotonic() + 90
    while True:
        jobs = _get(url + "listjobs.json?project=newsarchive")
        done = [j for j in jobs["finished"] if j["id"] == job_id]
        if done:
            break
        assert time.monotonic() < deadline, f"job still not finished: {jobs}"
        time.sleep(0.5)
    log = (home / "logs" / "newsarchive" / "nypost" / f"{job_id}.log").read_text()
    assert "'finish_reason': 'finished'" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    print(f"deploy+crawl under scrapyd: {time.monotonic() - started:.1f}s")

    warcs = sorted((out / "warc").glob("*.warc.gz"))
    assert warcs, f"no WARC written: {list((out / 'warc').iterdir())}"
    expected = len([t for t in replica.truth("nypost") if t.kind == "article" and t.in_window])
    con = duckdb.connect(str(out / "archive.duckdb"), read_only=True)
    try:
        captures = con.execute("SELECT count(*) FROM captures WHERE outlet = 'nypost'").fetchone()[
            0
        ]
        files = {
            r[0] for r in con.execute("SELECT DISTINCT warc_filename FROM captures").fetchall()
        }
        articles = con.execute(
            "SELECT count(*) FROM articles WHERE outlet = 'nypost' AND is_article"
        ).fetchone()[0]
        runs = con.execute("SELECT outlets, status FROM crawl_runs").fetchall()
    finally:
        con.close()
    print(f"captures={captures} articles={articles} expected={expected} warcs={len(warcs)}")
    assert captures > 0
    assert expected > 0
    assert files <= {w.name for w in warcs}
    assert articles == expected
    assert runs == [(["nypost"], "finished")], "a scrapyd job records its crawl_runs row"
