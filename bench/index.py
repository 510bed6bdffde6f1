"""Benchmark of the DuckDB index: ingest through the spool, FTS build, search latency.

Generates ``--n`` synthetic articles (deterministic: a Zipf-like draw from a made-up
vocabulary), ingests them in batches through the same spool+merge path the crawl uses, builds
the full-text index, then times ~200 searches without filters, with an outlet filter and with
a date range. Goal: search p50 <= 50 ms at 10^5 articles.

    .venv/bin/python bench/index.py [--n 100000] [--words 250] [--queries 200] [--db PATH]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsarchive.index.db import connect  # noqa: E402
from newsarchive.index.fts import rebuild_fts, search  # noqa: E402
from newsarchive.index.rows import article_row, capture_row  # noqa: E402
from newsarchive.index.spool import Spool  # noqa: E402

OUTLETS = [f"outlet{i:02d}" for i in range(30)]
SYLLABLES = "ka to ri mu sen la por vi dan el ost ru ne fa gi hol tem bra cus dio".split()


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Generator:
    def __init__(self, seed: int = 1, vocab: int = 30000, words: int = 250) -> None:
        self.rng = random.Random(seed)
        self.vocab = vocabulary(vocab, self.rng)
        self.rng.shuffle(self.vocab)
        self.cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(vocab)))
        self.words = words

    def draw(self, k: int) -> list[str]:
        total = self.cum[-1]
        return [self.vocab[bisect.bisect(self.cum, self.rng.random() * total)] for _ in range(k)]

    def article(self, i: int) -> tuple[dict, dict]:
        outlet = OUTLETS[i % len(OUTLETS)]
        url = f"https://{outlet}.example/{i}"
        fetched = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * i)
        cap = {
            "id": f"<urn:uuid:bench-{i:09d}>",
            "url": url,
            "canonical_url": url,
            "outlet": outlet,
            "fetched_at": fetched,
            "status": 200,
            "mime": "text/html",
            "payload_digest": f"sha1:{i}",
            "record_type": "response",
            "warc_filename": f"bench-{i // 10000:05d}.warc.gz",
            "warc_offset": i * 5000,
            "warc_length": 4999,
            "discovered_via": {"source": "sitemap", "source_url": url},
        }
        n = max(50, int(self.rng.gauss(self.words, self.words / 3)))
        body = self.draw(n)
        art = {
            "title": " ".join(self.draw(8)).capitalize(),
            "text": " ".join(body) + ".",
            "authors": [f"Author {i % 500}"],
            "published": fetched - timedelta(hours=1),
            "section": "news",
            "tags": self.draw(3),
            "language": "en",
            "is_article": True,
            "page_type": "article",
            "paywalled": False,
            "extractor_version": "bench",
        }
        page = {"capture_id": cap["id"], "url": url, "canonical_url": url, "outlet": outlet}
        return capture_row(cap), article_row(page, art)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="articles")
    ap.add_argument("--words", type=int, default=250, help="mean words per article")
    ap.add_argument("--batch", type=int, default=5000, help="rows per ingest batch")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--db", help="archive file (default: a temporary one)")
    args = ap.parse_args()

    tmp = None
    if args.db:
        db = Path(args.db)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench-index-")
        db = Path(tmp.name) / "bench.duckdb"
    gen = Generator(words=args.words)

    spool = Spool(db)
    gen_s = ingest_s = 0.0
    rows = 0
    for start in range(0, args.n, args.batch):
        t0 = time.perf_counter()
        batch = [gen.article(i) for i in range(start, min(args.n, start + args.batch))]
        t1 = time.perf_counter()
        for cap, art in batch:
            spool.append("captures", cap)
            spool.append("articles", art)
        spool.seal()
        assert spool.try_merge(timeout=30)
        ingest_s += time.perf_counter() - t1
        gen_s += t1 - t0
        rows += 2 * len(batch)
    size_mb = db.stat().st_size / 1e6
    print(f"articles:        {args.n} (mean {args.words} words), generated in {gen_s:.1f} s")
    print(
        f"ingest:          {rows} rows (captures+articles) in {ingest_s:.1f} s = "
        f"{rows / ingest_s:,.0f} rows/s via spool+merge, batches of {args.batch} articles"
    )

    t0 = time.perf_counter()
    rebuild_fts(db, force=True)
    print(f"fts build:       {time.perf_counter() - t0:.1f} s   (db {size_mb:.0f} MB before)")

    rng = random.Random(7)
    mid = gen.vocab[50:3000]  # words common enough to match, rare enough to discriminate
    queries = [" ".join(rng.sample(mid, rng.randint(1, 3))) for _ in range(args.queries)]
    span_end = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * args.n)
    con = connect(db, read_only=True)
    search(con, queries[0])  # warm-up: extension load, first scan
    modes = {
        "no filter": lambda q: search(con, q, limit=10),
        "outlet filter": lambda q: search(con, q, outlet=[rng.choice(OUTLETS)], limit=10),
        "date range": lambda q: search(
            con, q, since=span_end - timedelta(days=30), until=span_end, limit=10
        ),
    }
    for name, fn in modes.items():
        times, hits = [], 0
        for q in queries:
            t0 = time.perf_counter()
            hits += len(fn(q))
            times.append((time.perf_counter() - t0) * 1000)
        print(
            f"search {name:<14} p50 {pct(times, 50):6.1f} ms  p95 {pct(times, 95):6.1f} ms  "
            f"({len(queries)} queries, {hits / len(queries):.1f} hits each, with snippets)"
        )
    con.close()
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
