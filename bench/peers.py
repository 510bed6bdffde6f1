"""Our crawl against fundus on the same replica pages, per outlet.

fundus is installed in its own virtualenv, ``.venv-peers`` (created here on first use,
``pip install fundus==0.5.7``; never in the project's lock). For each outlet the replica is
started once; fundus crawls it, then ``newsarchive crawl`` crawls the same outlet with WARC and
index on. Both rates are articles per second of crawl time (interpreter start-up excluded on
both sides); the ratio is ours / fundus.

fundus fetches with curl_cffi, which ignores ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``/
``CURL_CA_BUNDLE``: it sets libcurl's CAINFO to certifi's bundle on every request. libcurl
itself does read ``https_proxy``, so with environment variables alone fundus reaches the
replica and fails there with curl error 60 (unknown issuer) on robots.txt and every sitemap,
and yields nothing. fundus' session factory takes curl_cffi session options
(``fundus.scraping.session.session_handler.context(**kwargs)``): the run below passes
``verify=<replica CA>`` and ``proxies=`` for both schemes, so every request fundus makes
(robots.txt, sitemaps, articles) goes through the replica's proxy, which refuses hosts outside
the registry, whatever the environment says. The proxy variables are set as well.

fundus runs without a delay between articles (its default is 1 s; ``--fundus-delay``), as
our side runs with ``--fast`` (no politeness delays).

By default the replica answers at once, so both sides are CPU-bound and the ratio compares
CPU per article. ``--latency S`` makes it wait S seconds before each response, as a real
outlet's server and network do; the ratio then also shows how each side overlaps waiting.

usage: python bench/peers.py [--outlets dailymail,mirror,guardian] [--scale 60]
       [--latency 0] [--fundus-delay 0] [-s NAME=VALUE ...] [-v]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-peers"
# fundus 0.5.7 imports a helper that newer curl_cffi releases dropped.
FUNDUS = ["fundus==0.5.7", "curl_cffi<0.10"]
CORPUS = ROOT.parent / "shared" / "corpus" / "fundus"

# Runs inside .venv-peers: finds the fundus publisher by domain, crawls it through the
# replica, prints one JSON line (articles, seconds, article URLs, every request's status).
FUNDUS_RUN = r"""
import json, logging, re, resource, sys, time
from fundus import Crawler, PublisherCollection
from fundus.scraping.session import session_handler
domains, proxy, ca, delay = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
pubs = [p for p in PublisherCollection
        if any(d in (getattr(p, "domain", "") or "") for d in domains)]
if not pubs:
    print(json.dumps({"error": f"no fundus publisher for {domains}"})); sys.exit(0)

requests = []  # (url, status) of every request, from fundus' session log
class Record(logging.Handler):
    pat = re.compile(r"GET (\S+) .*?(\d{3}) \(")
    def emit(self, rec):
        m = self.pat.match(rec.getMessage())
        if m:
            requests.append((m.group(1), int(m.group(2))))
        elif "curl: (" in rec.getMessage() or "Could not load robots" in rec.getMessage():
            requests.append((rec.getMessage(), 0))  # a transport error (TLS, proxy refusal)
for name in ("fundus.scraping.session", "fundus.scraping.url", "fundus.scraping.html",
             "fundus.publishers.base_objects"):
    logging.getLogger(name).addHandler(Record(logging.DEBUG))

urls = []
ru = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = ru.ru_utime + ru.ru_stime  # after the imports, as t0
t0 = time.perf_counter()
with session_handler.context(verify=ca, proxies={"http": proxy, "https": proxy}):
    for article in Crawler(pubs[0], delay=delay).crawl(only_complete=False):
        urls.append(article.html.requested_url)
seconds = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"publisher": pubs[0].name, "articles": len(urls), "seconds": seconds,
                  "cpu": ru.ru_utime + ru.ru_stime - cpu0,
                  "urls": urls, "requests": requests}))
"""


def ensure_venv() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if subprocess.run([str(py), "-c", "import fundus"], capture_output=True).returncode:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *FUNDUS], check=True)
    return py


def start_replica(
    scale: int, pages: str | None, latency: float = 0.0
) -> tuple[subprocess.Popen, str, str]:
    cmd = [sys.executable, "-m", "newsarchive", "replica", "--port", "0", "--scale", str(scale)]
    if pages:
        cmd += ["--pages", pages]
    if latency:
        cmd += ["--latency", str(latency)]
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


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _own_cpu(pid: int) -> float:
    """utime + stime of one process, in seconds (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TreeCPU(threading.Thread):
    """CPU seconds of the processes below ``pid``, sampled every 0.2 s.

    The extraction workers hang below multiprocessing's fork server, which the crawl process
    never waits for, so they are missing from the rusage of our child.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.last: dict[int, float] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        from newsarchive.extract.proctree import descendants

        while not self._halt.is_set():
            for p in descendants(self.pid):
                self.last[p] = max(self.last.get(p, 0.0), _own_cpu(p))
            self._halt.wait(0.2)

    def total(self) -> float:
        self._halt.set()
        self.join()
        return sum(self.last.values())


def ours(outlet: str, proxy: str, sets: list[str]) -> tuple[int, float, float, set[str]]:
    """Articles, crawl seconds, CPU seconds of the whole process tree (start-up included)."""
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        cmd = [sys.executable, "-m", "newsarchive", "crawl", "--outlets", outlet, "--fast"]
        cmd += ["--proxy", proxy, "--db", f"{tmp}/a.duckdb", "--warc-dir", f"{tmp}/warc"]
        cmd += ["--stats-json", str(stats), "-s", "NEWSARCHIVE_MAX_AGE_DAYS=36500"]
        cmd += ["-s", "NEWSARCHIVE_SEEN=false", "-s", "LOG_LEVEL=WARNING"]
        for setting in sets:
            cmd += ["-s", setting]
        cpu0 = _children_cpu()
        proc = subprocess.Popen(
            cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        tree = TreeCPU(proc.pid)
        tree.start()
        _out, err = proc.communicate()
        cpu = _children_cpu() - cpu0 + tree.total()
        if not stats.exists():
            tail = err.strip().splitlines()[-1:] or ["no output"]
            print(f"{outlet}: our crawl failed (exit {proc.returncode}): {tail[0]}")
            return 0, 0.0, cpu, set()
        s = json.loads(stats.read_text())
        with duckdb.connect(f"{tmp}/a.duckdb", read_only=True) as db:
            urls = {u for (u,) in db.execute("select url from articles").fetchall()}
    return s["articles"], s["duration_s"], cpu, urls


def theirs(py: Path, domains: list[str], proxy: str, ca: str, delay: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    env |= {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy}
    env |= {"http_proxy": proxy, "ALL_PROXY": proxy, "REQUESTS_CA_BUNDLE": ca}
    out = subprocess.run(
        [str(py), "-c", FUNDUS_RUN, json.dumps(domains), proxy, ca, str(delay)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": out.stderr.strip()[-300:]}


def _statuses(requests: list) -> str:
    counts: dict[int, int] = {}
    for _url, status in requests:
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{s or 'failed'}: {n}" for s, n in sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outlets", default="dailymail,mirror,guardian")
    ap.add_argument("--scale", type=int, default=60)
    ap.add_argument("--fundus-delay", type=float, default=0.0)
    ap.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the replica waits before each response (0: CPU-bound, the default)",
    )
    ap.add_argument("--target", type=float, default=1.5, help="ratio each outlet must reach")
    ap.add_argument("--pages", default=str(CORPUS) if CORPUS.is_dir() else None)
    ap.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="diagnostics: a setting for our crawl (e.g. NEWSARCHIVE_REQUISITES=)",
    )
    ap.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="list fundus' failed requests and the pages only one side fetched",
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from newsarchive.registry import load_outlets

    registry = load_outlets()
    unknown = [k for k in args.outlets.split(",") if k not in registry]
    if unknown:
        raise SystemExit(f"unknown outlet(s): {', '.join(unknown)} (see seeds/outlets.toml)")
    py = ensure_venv()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    extra = f"; ours with {' '.join(args.set)}" if args.set else ""
    print(
        f"scale {args.scale}, replica latency {args.latency * 1000:.0f} ms, fundus delay "
        f"{args.fundus_delay}s{extra}; load {load} (2 cores)"
    )
    missed = []
    for key in args.outlets.split(","):
        replica, proxy, ca = start_replica(args.scale, args.pages, args.latency)
        try:
            f = theirs(py, list(registry[key].domains), proxy, ca, args.fundus_delay)
            n, secs, cpu, our_urls = ours(key, proxy, args.set)
        finally:
            replica.terminate()
            replica.wait()
        if not n:
            print(f"{key}: our crawl found no articles (see `newsarchive crawl -v`)")
            missed.append(key)
            continue
        if "error" in f or not f.get("articles"):
            reqs = _statuses(f.get("requests", []))
            why = f.get("error", f"no articles; requests {reqs}")
            print(f"{key}: fundus gave no rate ({why}); ours {n / secs:.2f}/s")
            missed.append(key)
            continue
        rate_f = f["articles"] / f["seconds"]
        if n / secs / rate_f < args.target:
            missed.append(key)
        shared = len(set(f["urls"]) & our_urls)
        print(
            f"{key}: ours {n} articles in {secs:.1f}s = {n / secs:.2f}/s (WARC+index) | "
            f"fundus {f['publisher']} {f['articles']} in {f['seconds']:.1f}s = {rate_f:.2f}/s "
            f"| ratio {n / secs / rate_f:.2f}x"
        )
        print(
            f"  same pages: {shared} of fundus' {f['articles']} articles are among our {n}; "
            f"fundus requests through the replica: {len(f['requests'])} ({_statuses(f['requests'])})"
        )
        print(
            f"  CPU per article: ours {1000 * cpu / n:.0f} ms (process tree, start-up included) | "
            f"fundus {1000 * f['cpu'] / f['articles']:.0f} ms (crawl only)"
        )
        if args.verbose:
            for url, status in f["requests"]:
                if status != 200:
                    print(f"    fundus got {status or 'failed'} {url}")
            for url in sorted(set(f["urls"]) - our_urls):
                print(f"    fundus only: {url}")
            for url in sorted(our_urls - set(f["urls"])):
                print(f"    ours only: {url}")
    print(f"load after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    verdict = f"below {args.target}x: {', '.join(missed)}" if missed else "all outlets met"
    print(f"target {args.target}x: {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
