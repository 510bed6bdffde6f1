"""Extraction benchmark: plain trafilatura vs newsarchive on the shared gold corpus.

Uses the metric definitions of ../shared/bench/score_extraction.py by importing that
module (bag-of-words P/R/F1 mean over outlets, caption leaks, title/day/author accuracy,
median ms per page), runs both extractors on each page in turn (so that load from other
processes hits both alike; each page is timed ``--repeat`` times and the fastest kept),
and prints the two columns side by side plus the worst outlets.

usage: python bench/extraction.py [CORPUS] [--repeat N] [--worst N] [--json]
With --throughput it then prints the second figure, crawl articles/s with the extraction
pool against extraction inline on the replica (bench/throughput.py, which also runs alone).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))


def load_scorer(path: Path):
    spec = importlib.util.spec_from_file_location("score_extraction", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def project_extractor():
    from newsarchive.extract import extract_article

    def run(html: bytes, url: str | None):
        a = extract_article(html, url=url)
        if a is None:
            return "", {}
        return a.text, {"title": a.title, "authors": a.authors, "published": a.published}

    return run


def score(S, extract, pages, repeat: int, misses: list | None = None) -> dict:
    per_group: dict[str, list[dict]] = {}
    meta: dict[str, list[int]] = {"title": [], "date": [], "authors": []}
    leaks = ncaps = 0
    ms = []
    for group, name, html, url, gold, caps, gmeta in pages:
        best = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            try:
                pred, got = extract(html, url)
            except Exception as exc:  # a crash on a real page counts as an empty extraction
                print(f"error {group}/{name}: {exc!r}", file=sys.stderr)
                pred, got = "", {}
            dt = (time.perf_counter() - t0) * 1000
            best = dt if best is None else min(best, dt)
        ms.append(best)
        for k, v in S.meta_hits(gmeta, got).items():
            if v is not None:
                meta[k].append(v)
                if not v and misses is not None:
                    gk = {"date": "publishing_date"}.get(k, k)
                    pk = {"date": "published"}.get(k, k)
                    misses.append((f"{group}/{name}", k, gmeta.get(gk), got.get(pk)))
        P, R, F = S.bow(gold, pred)
        gtok, ptok = S.toks(gold), S.toks(pred)
        for c in set(caps):
            ct = S.toks(c)
            if ct:
                ncaps += 1
                leaks += S.count(ptok, ct) > S.count(gtok, ct)
        per_group.setdefault(group, []).append(dict(P=P, R=R, F=F))

    def macro(k: str) -> float:
        return statistics.mean(statistics.mean(x[k] for x in g) for g in per_group.values())

    return {
        "pages": sum(len(g) for g in per_group.values()),
        "outlets": len(per_group),
        "f1": macro("F"),
        "precision": macro("P"),
        "recall": macro("R"),
        "captions": ncaps,
        "caption_leaks": leaks,
        **{f"{k}_ok": (sum(v), len(v)) for k, v in meta.items()},
        "ms_median": statistics.median(ms),
        "per_outlet": {g: statistics.mean(x["F"] for x in v) for g, v in per_group.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="?", default=str(SHARED / "corpus" / "fundus"))
    ap.add_argument("--scorer", default=str(SHARED / "bench" / "score_extraction.py"))
    ap.add_argument("--repeat", type=int, default=3, help="time each page N times, keep the min")
    ap.add_argument("--worst", type=int, default=10, help="outlets in the per-outlet table")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--misses", action="store_true", help="list newsarchive's metadata misses")
    ap.add_argument("--throughput", action="store_true", help="also the pool vs inline figure")
    a = ap.parse_args(argv)
    if not Path(a.corpus).is_dir() or not Path(a.scorer).is_file():
        print(f"corpus or scorer missing ({a.corpus}, {a.scorer})", file=sys.stderr)
        return 2
    S = load_scorer(Path(a.scorer))
    pages = list(S.samples(a.corpus))
    extractors = {
        "trafilatura": S.make_extractor("trafilatura"),
        "newsarchive": project_extractor(),
    }
    for ex in extractors.values():  # warm-up: imports, lazy tables, registry
        ex(pages[0][2], pages[0][3])
    misses: list = []
    res = {
        k: score(S, ex, pages, a.repeat, misses if k == "newsarchive" else None)
        for k, ex in extractors.items()
    }
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    t, n = res["trafilatura"], res["newsarchive"]

    def frac(v):
        return f"{v[0]}/{v[1]} ({100 * v[0] / v[1]:.0f}%)"

    rows = [
        ("pages / outlets", f"{t['pages']} / {t['outlets']}", f"{n['pages']} / {n['outlets']}"),
        ("F1 (mean over outlets)", f"{t['f1']:.4f}", f"{n['f1']:.4f}"),
        ("  precision", f"{t['precision']:.4f}", f"{n['precision']:.4f}"),
        ("  recall", f"{t['recall']:.4f}", f"{n['recall']:.4f}"),
        (
            "caption/credit leaks",
            f"{t['caption_leaks']} of {t['captions']}",
            f"{n['caption_leaks']} of {n['captions']}",
        ),
        ("title exact", frac(t["title_ok"]), frac(n["title_ok"])),
        ("publication day", frac(t["date_ok"]), frac(n["date_ok"])),
        ("author set", frac(t["authors_ok"]), frac(n["authors_ok"])),
        ("median ms per page", f"{t['ms_median']:.1f}", f"{n['ms_median']:.1f}"),
    ]
    print(f"{'metric':26s} {'trafilatura':>18s} {'newsarchive':>18s}")
    for label, x, y in rows:
        print(f"{label:26s} {x:>18s} {y:>18s}")
    print(f"time ratio newsarchive/trafilatura: {n['ms_median'] / t['ms_median']:.2f}x")
    print(f"\nworst {a.worst} outlets (newsarchive F1), with trafilatura's:")
    worst = sorted(n["per_outlet"].items(), key=lambda kv: kv[1])[: a.worst]
    for g, f in worst:
        print(f"  {g:28s} {t['per_outlet'][g]:.3f} -> {f:.3f}")
    if a.misses:
        print("\nnewsarchive metadata misses (gold | got):")
        for page, field, gold, got in misses:
            print(f"  {field:7s} {page[:45]:45s} {gold!r:.70} | {got!r:.70}")
    if a.throughput:
        print("\ncrawl throughput, extraction pool vs inline (bench/throughput.py):", flush=True)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import throughput

        return throughput.main([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
