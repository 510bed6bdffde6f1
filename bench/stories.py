"""Benchmark of story detection (issue 11): quality on replica ground truth, cost at scale.

1. Quality: the replica's story plan (``newsarchive/replica/stories.py``) with ``--stories``
   stories (about 4.4 articles each; >= 5,000 articles by default) is assigned in
   publication order; prints pairwise precision/recall per relation, relation-label accuracy,
   all-pairs precision/recall, hard negatives merged, origin accuracy.
2. Cost: a detector holding ``--state`` sketches (synthetic: random signatures, real sizes,
   published over 30 days) takes ``--probe`` real plan articles; prints the median and p95
   assignment time per article (featurize + candidates + verdicts) and the detector's memory
   (process RSS growth and the state's own byte count) per 10^5 articles.
3. ``newsarchive stories assign`` over ``--lines`` JSONL lines (the plan, repeated with new
   ids 10 days apart so each copy is its own set of stories), wall time.

    .venv/bin/python bench/stories.py [--stories 1350] [--state 100000] [--probe 1000]
                                      [--lines 100000] [--skip-assign] [--skip-quality]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsarchive.replica.stories import story_plan  # noqa: E402
from newsarchive.stories.detector import Detector, _Item, band_keys, story_id  # noqa: E402
from newsarchive.stories.evaluate import Predicted, Truth, score  # noqa: E402
from newsarchive.stories.features import ANCHOR_PERMS, PERMS, Features, featurize  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def quality(n_stories: int) -> list:
    arts = story_plan(42, n_stories, START, span_days=60)
    det = Detector()
    for a in sorted(arts, key=lambda a: (a.published, a.id)):
        det.add(a.id, featurize(a.text, a.title), a.published.timestamp(), a.outlet)
    pred = {}
    for members in det.stories():
        sid = story_id(members[0].id)
        for m in members:
            pred[m.id] = Predicted(sid, m.relation, m.origin_id)
    s = score([Truth(a.id, a.story, a.relation, a.origin_id, a.negative_of) for a in arts], pred)
    rel = {r: sum(1 for a in arts if a.relation == r) for r in sorted({a.relation for a in arts})}
    print(f"quality: {len(arts)} articles, {s.counts['stories']} true stories, by role {rel}")
    for r in ("duplicate", "syndicated", "rewrite"):
        print(
            f"  {r:10}  precision {s.precision[r]:.4f}  recall {s.recall[r]:.4f}  "
            f"label accuracy {s.label_accuracy[r]:.4f}  "
            f"(true {s.counts['true_' + r]}, predicted {s.counts['predicted_' + r]})"
        )
    print(f"  all pairs   precision {s.pair_precision:.4f}  recall {s.pair_recall:.4f}")
    print(f"  hard negatives merged {s.negatives_merged:.4%} of {s.counts['negatives']}")
    print(f"  origin (first publisher) right {s.origin_accuracy:.4%}")
    return arts


def synthetic(rng: np.random.Generator) -> Features:
    n_sent = int(rng.integers(12, 40))
    lens = rng.integers(4, 14, n_sent)
    toks = rng.integers(0, 2**32, int(lens.sum()), dtype=np.uint64).astype(np.uint32)
    return Features(
        n_words=int(lens.sum() * 2),
        n_shingles=int(lens.sum() * 2),
        signature=rng.integers(0, 2**32, PERMS, dtype=np.uint64).astype(np.uint32),
        anchor_signature=rng.integers(0, 2**32, ANCHOR_PERMS, dtype=np.uint64).astype(np.uint32),
        anchors=np.unique(rng.integers(0, 2**32, 40, dtype=np.uint64).astype(np.uint32)),
        numbers=np.unique(rng.integers(0, 2**32, 12, dtype=np.uint64).astype(np.uint32)),
        quotes=np.unique(rng.integers(0, 2**32, 20, dtype=np.uint64).astype(np.uint32)),
        sent_tokens=toks,
        sent_offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int32),
    )


def cost(state: int, probe: list) -> None:
    rng = np.random.default_rng(5)
    before = rss()
    det = Detector()
    t0 = START.timestamp()
    # Random sketches find no pairs, so the state is loaded in bulk (same structures as add()).
    keys_s, keys_a, ids = [], [], []
    for i in range(state):
        f = synthetic(rng)
        when = t0 + float(rng.uniform(0, 30 * 86400))
        det.items.append(_Item(f"syn{i}", when, "x", f.to_bytes()))
        det.note_published(i, when)
        det.parent.append(i)
        det.by_id[f"syn{i}"] = i
        sk, ak = band_keys(f)
        keys_s.append(sk)
        keys_a.append(ak)
        ids.append(i)
    for index, keys in ((det.shingle_index, keys_s), (det.anchor_index, keys_a)):
        k = np.concatenate(keys)
        v = np.repeat(np.asarray(ids, dtype=np.int32), [x.size for x in keys])
        order = np.argsort(k, kind="stable")
        index.keys, index.ids = k[order], v[order]
    grown = rss() - before
    per = 100_000 / max(1, state)
    print(
        f"cost: state of {state} sketches: RSS +{grown * per / 2**20:.0f} MiB per 10^5 "
        f"(state's own arrays {det.nbytes() * per / 2**20:.0f} MiB per 10^5)"
    )
    times = []
    for a in probe:
        t = time.perf_counter()
        det.add(a.id, featurize(a.text, a.title), a.published.timestamp(), a.outlet)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(
        f"  assignment with {state} indexed: median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(len(times) * 0.95)]:.2f} ms per article ({len(times)} articles)"
    )


def assign_cli(arts: list, lines: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "in.jsonl"
        n = 0
        with path.open("w") as f:
            rep = 0
            while n < lines:
                shift = timedelta(days=10 * rep)
                for a in arts:
                    if n >= lines:
                        break
                    rec = {
                        "id": f"{a.id}~{rep}",
                        "title": a.title,
                        "text": a.text,
                        "published": (a.published + shift).isoformat(),
                        "outlet": a.outlet,
                    }
                    f.write(json.dumps(rec) + "\n")
                    n += 1
                rep += 1
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "newsarchive", "stories", "assign", "--jsonl", str(path)],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t
        out = proc.stdout.count("\n")
        print(
            f"stories assign: {n} lines in {wall:.1f} s wall ({out} output lines, "
            f"rc {proc.returncode}); {n / wall:.0f} lines/s"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=1350)
    ap.add_argument("--state", type=int, default=100_000)
    ap.add_argument("--probe", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--skip-assign", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.skip_quality:  # cost only: a plan just big enough for the probes and lines
        arts = story_plan(42, max(50, args.probe // 4), START, span_days=60)
    else:
        arts = quality(args.stories)
    cost(args.state, arts[: args.probe])
    if not args.skip_assign:
        assign_cli(arts, args.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
