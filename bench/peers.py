"""Our crawl against fundus on the same replica pages, per outlet.

fundus is installed in its own virtualenv, ``.venv-peers`` (created here on first use,
``pip install fundus==0.5.7``; never in the project's lock). For each outlet the replica is
started once; fundus crawls it through the replica's proxy, trusting the replica's CA
(``HTTPS_PROXY`` / ``REQUESTS_CA_BUNDLE``, which its requests session honours), and then
``newsarchive crawl`` crawls the same outlet with WARC and index on. Both rates are
articles per second of crawl time; the ratio is ours / fundus.

usage: python bench/peers.py [--outlets dailymail,mirror,guardian] [--scale 60]
       [--max-articles 60]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-peers"
# fundus 0.5.7 imports a helper that newer curl_cffi releases dropped.
FUNDUS = ["fundus==0.5.7", "curl_cffi<0.10"]
CORPUS = ROOT.parent / "shared" / "corpus" / "fundus"

# Runs inside .venv-peers: finds the fundus publisher by domain, crawls, prints JSON.
FUNDUS_RUN = r"""
import json, sys, time
from fundus import Crawler, PublisherCollection
domains, limit = json.loads(sys.argv[1]), int(sys.argv[2])
pubs = [p for p in PublisherCollection
        if any(d in (getattr(p, "domain", "") or "") for d in domains)]
if not pubs:
    print(json.dumps({"error": f"no fundus publisher for {domains}"})); sys.exit(0)
t0 = time.perf_counter()
n = 0
for _article in Crawler(pubs[0]).crawl(max_articles=limit, only_complete=False):
    n += 1
print(json.dumps({"publisher": pubs[0].name, "articles": n,
                  "seconds": time.perf_counter() - t0}))
"""


def ensure_venv() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if subprocess.run([str(py), "-c", "import fundus"], capture_output=True).returncode:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *FUNDUS], check=True)
    return py


def start_replica(scale: int, pages: str | None) -> tuple[subprocess.Popen, str, str]:
    cmd = [sys.executable, "-m", "newsarchive", "replica", "--port", "0", "--scale", str(scale)]
    if pages:
        cmd += ["--pages", pages]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    proxy = ca = None
    for _ in range(30):
        line = proc.stdout.readline()
        if line.startswith("proxy: "):
            proxy = line.split()[1]
        elif line.startswith("CA certificate: "):
            ca = line.split(": ", 1)[1].strip()
        if proxy and ca:
            return proc, proxy, ca
    proc.kill()
    raise SystemExit("the replica did not start")


def ours(outlet: str, proxy: str) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        cmd = [sys.executable, "-m", "newsarchive", "crawl", "--outlets", outlet, "--fast"]
        cmd += ["--proxy", proxy, "--db", f"{tmp}/a.duckdb", "--warc-dir", f"{tmp}/warc"]
        cmd += ["--stats-json", str(stats), "-s", "NEWSARCHIVE_MAX_AGE_DAYS=36500"]
        cmd += ["-s", "NEWSARCHIVE_SEEN=false", "-s", "LOG_LEVEL=WARNING"]
        subprocess.run(cmd, cwd=tmp, capture_output=True)
        s = json.loads(stats.read_text())
    return s["articles"], s["duration_s"]


def theirs(py: Path, domains: list[str], proxy: str, ca: str, limit: int) -> dict:
    env = {**os.environ, "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy}
    env |= {"http_proxy": proxy, "REQUESTS_CA_BUNDLE": ca, "SSL_CERT_FILE": ca}
    out = subprocess.run(
        [str(py), "-c", FUNDUS_RUN, json.dumps(domains), str(limit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": out.stderr.strip()[-300:]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outlets", default="dailymail,mirror,guardian")
    ap.add_argument("--scale", type=int, default=60)
    ap.add_argument("--max-articles", type=int, default=60)
    ap.add_argument("--pages", default=str(CORPUS) if CORPUS.is_dir() else None)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from newsarchive.registry import load_outlets

    registry = load_outlets()
    py = ensure_venv()
    print(f"load {os.getloadavg()[0]:.1f}")
    for key in args.outlets.split(","):
        replica, proxy, ca = start_replica(args.scale, args.pages)
        try:
            f = theirs(py, list(registry[key].domains), proxy, ca, args.max_articles)
            n, secs = ours(key, proxy)
        finally:
            replica.terminate()
            replica.wait()
        if "error" in f or not f.get("articles"):
            print(
                f"{key}: fundus gave no rate ({f.get('error', 'no articles')}); ours {n / secs:.2f}/s"
            )
            continue
        rate_f = f["articles"] / f["seconds"]
        print(
            f"{key}: ours {n} articles in {secs:.1f}s = {n / secs:.2f}/s (WARC+index) | "
            f"fundus {f['publisher']} {f['articles']} in {f['seconds']:.1f}s = {rate_f:.2f}/s "
            f"| ratio {n / secs / rate_f:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
