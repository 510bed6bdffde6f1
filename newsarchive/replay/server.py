"""pywb as a child process: its virtualenv, its config, its lifetime."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements-pywb.lock"
DEFAULT_VENV = ROOT / ".venv-pywb"
COLLECTION = "news"


class PywbUnavailable(RuntimeError):
    """pywb is not installed and could not be installed; the message says why."""


def replay_url(base: str, url: str, ts14: str, mode: str = "mp_") -> str:
    """The pywb link for ``url`` as captured at ``ts14`` (``mp_`` page, ``id_`` bytes)."""
    # pywb reads the target raw after the timestamp; keep URL syntax, escape only spaces etc.
    target = quote(url, safe=":/?&=%;,+@!$'()*[]~")
    return f"{base.rstrip('/')}/{ts14}{mode}/{target}"


def pywb_venv() -> Path:
    return Path(os.environ.get("NEWSARCHIVE_PYWB_VENV") or DEFAULT_VENV)


def ensure_pywb(venv: Path | None = None, *, quiet: bool = True) -> Path:
    """The ``bin`` directory of pywb's virtualenv, created from the lock on first use."""
    venv = Path(venv or pywb_venv())
    stamp = venv / ".installed"
    wayback = venv / "bin" / "wayback"
    if wayback.exists() and stamp.exists():
        return venv / "bin"
    if not LOCK.exists():
        raise PywbUnavailable(f"{LOCK} is missing: cannot install pywb")
    print(f"installing pywb into {venv} (first use; from {LOCK.name})…", file=sys.stderr)
    py = venv / "bin" / "python"
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(LOCK)]
        if quiet:
            pip.insert(4, "-q")
        subprocess.run(pip, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PywbUnavailable(f"installing pywb into {venv} failed: {exc}") from None
    stamp.touch()
    return venv / "bin"


def free_port(bind: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((bind, 0))
        return s.getsockname()[1]


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


class ReplayServer:
    """pywb serving a WARC directory (``*.warc.gz`` + ``*.cdxj`` beside them) on loopback.

    ``with ReplayServer("warc") as rs: rs.base`` is ``http://127.0.0.1:PORT/news``; the
    TimeMap of a URL is ``rs.timemap(url)``. ``acl`` names a pywb ``.aclj`` rules file
    (default: ``access.aclj`` in the archive directory when present); ``embargo_days``
    hides captures newer than that many days.
    """

    def __init__(
        self,
        archive_dir: str | os.PathLike,
        port: int = 0,
        bind: str = "127.0.0.1",
        *,
        acl: str | os.PathLike | None = None,
        embargo_days: int | None = None,
        venv: Path | None = None,
        collection: str = COLLECTION,
        log: str | os.PathLike | None = None,
        startup_timeout: float = 60.0,
    ):
        self.archive_dir = Path(archive_dir).resolve()
        self.port = port
        self.bind = bind
        self.collection = collection
        self.venv = venv
        self.embargo_days = embargo_days
        default_acl = self.archive_dir / "access.aclj"
        self.acl = Path(acl).resolve() if acl else (default_acl if default_acl.exists() else None)
        self.log = log
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.workdir: Path | None = None

    @property
    def host_url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind
        return f"http://{host}:{self.port}"

    @property
    def base(self) -> str:
        return f"{self.host_url}/{self.collection}"

    def url(self, url: str, ts14: str, mode: str = "mp_") -> str:
        return replay_url(self.base, url, ts14, mode)

    def timemap(self, url: str) -> str:
        return f"{self.base}/timemap/link/{url}"

    def config_text(self) -> str:
        coll = [
            f"    index_paths: {_yaml_str(str(self.archive_dir) + os.sep)}",
            f"    archive_paths: {_yaml_str(str(self.archive_dir) + os.sep)}",
        ]
        if self.acl:
            coll.append(f"    acl_paths: [{_yaml_str(str(self.acl))}]")
        if self.embargo_days:
            coll.append(f"    embargo:\n      newer:\n        days: {int(self.embargo_days)}")
        return (
            "# written by newsarchive replay\n"
            "enable_memento: true\n"
            "framed_replay: false\n"
            "collections:\n"
            f"  {self.collection}:\n" + "\n".join(coll) + "\n"
        )

    def start(self) -> ReplayServer:
        if not self.archive_dir.is_dir():
            raise FileNotFoundError(f"no archive directory {self.archive_dir}")
        bin_dir = ensure_pywb(self.venv)
        if not self.port:
            self.port = free_port(self.bind or "127.0.0.1")
        self.workdir = Path(tempfile.mkdtemp(prefix="newsarchive-pywb-"))
        (self.workdir / "config.yaml").write_text(self.config_text())
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(bin_dir / "wayback"), "-p", str(self.port), "-b", self.bind],
            cwd=self.workdir,
            stdout=out,
            stderr=subprocess.STDOUT if self.log else subprocess.DEVNULL,
        )
        if self.log:
            out.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise PywbUnavailable(f"pywb exited at start (code {self.proc.returncode})")
            try:
                with urllib.request.urlopen(f"{self.base}/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise PywbUnavailable(
            f"pywb did not answer on {self.host_url} within {self.startup_timeout}s"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def wait(self) -> int:
        return self.proc.wait() if self.proc else 0

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


DEFAULT_PORT = 8080


def default_base() -> str:
    """Where ``newsarchive replay`` serves by default (``$NEWSARCHIVE_REPLAY_BASE`` wins)."""
    return os.environ.get("NEWSARCHIVE_REPLAY_BASE") or (
        f"http://127.0.0.1:{DEFAULT_PORT}/{COLLECTION}"
    )
