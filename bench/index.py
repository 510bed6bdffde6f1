"""Benchmark of the archive index and the query index (docs/QUERY.md).

Generates ``--n`` synthetic articles (deterministic: a Zipf-like draw from a made-up
vocabulary), ingests them in batches through the same spool+merge path the crawl uses (which
also appends them to the query index), rebuilds the query index from scratch in a child
process (its peak RSS is the rebuild's), then times ``--queries`` searches of each kind (two
words, a phrase, a field query, a boolean with NOT, a date range), ``count --by day`` over
everything, and prints the database size.

    .venv/bin/python bench/index.py [--n 100000] [--words 250] [--queries 200] [--db PATH]

``--reuse`` times the queries only, on an archive an earlier run left at ``--db`` (the
phrases are then drawn from its stored texts): before/after figures on the same data.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsarchive.index.db import connect  # noqa: E402
from newsarchive.index.rows import article_row, capture_row  # noqa: E402
from newsarchive.index.spool import Spool  # noqa: E402
from newsarchive.query import count, search  # noqa: E402

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
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB memory limit of the rebuild")
    ap.add_argument("--reuse", action="store_true", help="only time queries on the archive at --db")
    args = ap.parse_args()
    if args.reuse:
        if not args.db or not Path(args.db).exists():
            print("error: --reuse needs --db of an archive an earlier run built")
            return 2
        return queries(Path(args.db), Generator(words=args.words), [], args)

    tmp = None
    if args.db:
        db = Path(args.db)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench-index-")
        db = Path(tmp.name) / "bench.duckdb"
    gen = Generator(words=args.words)

    spool = Spool(db)
    pairs: list[str] = []
    rng_pairs = random.Random(3)
    gen_s = ingest_s = ingest_cpu = 0.0
    stats: dict = {}
    rows = 0
    for start in range(0, args.n, args.batch):
        t0 = time.perf_counter()
        batch = [gen.article(i) for i in range(start, min(args.n, start + args.batch))]
        t1 = time.perf_counter()
        c1 = time.process_time()
        for cap, art in batch:
            if len(pairs) < 2000 and rng_pairs.random() < 4000 / args.n:
                w = art["text"].rstrip(".").split()
                k = rng_pairs.randrange(len(w) - 1)
                pairs.append(f"{w[k]} {w[k + 1]}")
            spool.append("captures", cap)
            spool.append("articles", art)
        spool.seal()
        assert spool.try_merge(timeout=30, stats=stats)
        ingest_s += time.perf_counter() - t1
        ingest_cpu += time.process_time() - c1
        gen_s += t1 - t0
        rows += 2 * len(batch)
    print(f"articles:        {args.n} (mean {args.words} words), generated in {gen_s:.1f} s")
    print(
        f"ingest:          {rows} rows (captures+articles) in {ingest_s:.1f} s = "
        f"{rows / ingest_s:,.0f} rows/s = {args.n / ingest_s:,.0f} articles/s via spool+merge "
        f"(+ query index append), batches of {args.batch} articles; CPU time {ingest_cpu:.1f} s "
        f"(all threads) = {args.n / ingest_cpu:,.0f} articles per CPU-second"
    )

    qi_s, st_s = stats.get("query_index/seconds", 0.0), stats.get("stories/seconds", 0.0)
    print(
        f"ingest split:    query index append {qi_s:.1f} s, story assignment {st_s:.1f} s, "
        f"spool + row merge + the rest {ingest_s - qi_s - st_s:.1f} s (wall); without stories "
        f"{args.n / (ingest_s - st_s):,.0f} articles/s"
    )

    t0 = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c",
         "import sys; from newsarchive.query.index import rebuild_index; "
         f"print(rebuild_index(sys.argv[1], memory_limit={args.memory_limit!r}))", str(db)],
        capture_output=True, text=True,
    )  # fmt: skip
    if child.returncode:
        print(child.stderr[-2000:])
        return 1
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    print(
        f"index rebuild:   {time.perf_counter() - t0:.1f} s for {child.stdout.split()[-1]} articles, "
        f"peak RSS {rss:.2f} GiB (memory_limit {args.memory_limit})"
    )
    size = db.stat().st_size / 1e9
    print(
        f"db size:         {size:.2f} GB with the index = {size * 1e6 / args.n:.2f} GB per 10^6 articles"
    )
    queries(db, gen, pairs, args)
    if tmp is not None:
        tmp.cleanup()
    return 0


def queries(db: Path, gen: Generator, pairs: list[str], args: argparse.Namespace) -> int:
    con = connect(db, read_only=True)
    if not pairs:  # --reuse: adjacent word pairs of stored articles, a fixed draw
        rng_pairs = random.Random(3)
        for (text,) in con.execute("SELECT text FROM articles ORDER BY id LIMIT 2000").fetchall():
            w = (text or "").rstrip(".").split()
            if len(w) > 1:
                k = rng_pairs.randrange(len(w) - 1)
                pairs.append(f"{w[k]} {w[k + 1]}")
        args.n = con.execute("SELECT count(*) FROM qi_docs").fetchone()[0]
    rng = random.Random(7)
    mid = gen.vocab[50:3000]  # words common enough to match, rare enough to discriminate
    span_end = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * args.n)

    def two() -> str:
        return " ".join(rng.sample(mid, 2))

    def phrase() -> str:  # two words adjacent in an article
        return f'"{rng.choice(pairs)}"'

    kinds = {
        "two words": two,
        "phrase": phrase,
        "field": lambda: f"title:{rng.choice(mid)} outlet:{rng.choice(OUTLETS)}",
        "boolean NOT": lambda: f"{rng.choice(mid)} -{rng.choice(mid)}",
        "date range": lambda: (
            f"{rng.choice(mid)} published:[{(span_end - timedelta(days=30)).date()} TO "
            f"{span_end.date()}]"
        ),
    }
    search(con, two())  # warm-up
    for name, make in kinds.items():
        times, cpu, hits = [], [], 0
        for _ in range(args.queries):
            q = make()
            t0, c0 = time.perf_counter(), time.process_time()
            hits += len(search(con, q, limit=10).hits)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        print(
            f"search {name:<12} p50 {pct(times, 50):7.1f} ms  p95 {pct(times, 95):7.1f} ms  "
            f"(CPU p50 {pct(cpu, 50):6.1f} p95 {pct(cpu, 95):6.1f} ms) "
            f"({args.queries} queries, {hits / args.queries:.1f} hits shown each, with snippets)"
        )
    times, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        days = count(con, "*", by="day")
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    print(
        f"count --by day over all: median {pct(times, 50):.0f} ms, CPU {pct(cpu, 50):.0f} ms "
        f"({len(days)} days, 5 runs)"
    )
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end "
        "(wall times on a shared machine; CPU times are the process's own, all threads)"
    )
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
