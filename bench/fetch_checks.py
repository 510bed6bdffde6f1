"""Cost of the crawl's page checks (newsarchive.fetcherrors) per 200 HTML response.

FetchErrorMiddleware runs ``body_fault`` (binary, challenge) and ``charset_problem`` on
every 200 page in the reactor thread. This times them on real pages (the shared corpus,
read at run time, when present; else the replica's synthetic pages) and on the replica's
challenge page (the one case that parses HTML). It prints medians over ``--repeat`` rounds
and compares them with extracting the same pages.

usage: python bench/fetch_checks.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "fundus"


def pages() -> tuple[str, list[bytes]]:
    found = sorted(CORPUS.rglob("*.html")) if CORPUS.is_dir() else []
    if found:
        return "shared corpus", [p.read_bytes() for p in found]
    from newsarchive.replica import Replica

    r = Replica(articles_per_outlet=4)
    bodies = [r.handle("GET", t.url).body for t in r.truth("nypost") if t.kind == "article"]
    return "replica (corpus absent)", bodies


def per_page_us(bodies: list[bytes], fn) -> float:
    started = time.perf_counter()
    for body in bodies:
        fn(body)
    return (time.perf_counter() - started) / len(bodies) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from scrapy.http import HtmlResponse

    from newsarchive.extract import extract_article
    from newsarchive.fetcherrors import body_fault, charset_problem
    from newsarchive.replica import markup
    from newsarchive.replica.core import Replica

    source, bodies = pages()
    site = Replica(articles_per_outlet=1).sites["nypost"]
    challenge = [markup.challenge_page(site).encode()] * 50

    def checks(body: bytes) -> None:
        resp = HtmlResponse(
            "https://nypost.com/a", body=body, headers={"Content-Type": "text/html; charset=utf-8"}
        )
        body_fault(resp)
        charset_problem(resp)

    def extract(body: bytes) -> None:
        extract_article(body.decode("utf-8", "replace"), "https://nypost.com/a")

    rounds = {"checks": [], "challenge": [], "extract": []}
    for _ in range(args.repeat):
        rounds["checks"].append(per_page_us(bodies, checks))
        rounds["challenge"].append(per_page_us(challenge, checks))
    for _ in range(max(1, args.repeat // 2)):
        rounds["extract"].append(per_page_us(bodies, extract))
    med = {k: statistics.median(v) for k, v in rounds.items()}
    size = sum(map(len, bodies)) / len(bodies) / 1024
    print(f"pages: {len(bodies)} from {source}, mean {size:.0f} KiB")
    print(f"page checks:      median {med['checks']:8.0f} us/page over {args.repeat} rounds")
    print(f"challenge page:   median {med['challenge']:8.0f} us/page (parsed to confirm)")
    print(f"extract_article:  median {med['extract']:8.0f} us/page")
    print(f"checks / extraction: {med['checks'] / med['extract']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
