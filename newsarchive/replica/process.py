"""Run the replica in a process of its own, as a real site would be: it then does not
compete with the crawler for the interpreter (used by the demo and the benchmarks)."""

from __future__ import annotations

import subprocess
import sys


def spawn_replica(
    scale: int,
    seed: int = 0,
    pages: str | None = None,
    clock: str | None = None,
    faults: str | None = None,
    latency: float = 0.0,
) -> tuple[subprocess.Popen, str]:
    """Start ``newsarchive replica`` on a free loopback port; returns (process, proxy URL)."""
    cmd = [
        sys.executable,
        "-m",
        "newsarchive",
        "replica",
        "--port",
        "0",
        "--seed",
        str(seed),
        "--scale",
        str(scale),
    ]
    if pages:
        cmd += ["--pages", pages]
    if clock:
        cmd += ["--clock", clock]
    if faults:
        cmd += ["--faults", faults]  # OUTLET:FAULT,... (docs/FAULTS.md)
    if latency:
        cmd += ["--latency", str(latency)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    for _ in range(20):
        line = proc.stdout.readline()
        if line.startswith("proxy: "):
            return proc, line.split()[1]
    proc.kill()
    proc.wait()
    raise RuntimeError("the replica did not start (see its output above)")
