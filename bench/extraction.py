"""Extraction benchmark: newsarchive against plain trafilatura on the shared gold corpora.

Uses the metric definitions of ../shared/bench/score_extraction.py by importing that
module (bag-of-words P/R/F1 mean over outlets, caption leaks, title/day/author accuracy,
median ms per page). Every corpus (default: fundus and fundus-intl) is scored three ways
on the same pages: plain trafilatura, newsarchive, and newsarchive with the registry's
outlet hints off (``outlet=False``: what an outlet nobody has studied gets). Plain
trafilatura and newsarchive run on each page in turn, so that load from other processes
hits both alike; each page is timed ``--repeat`` times and the fastest kept.

Printed: the three columns per corpus, the same by language (the gold text's language),
every page where newsarchive (hints on or off) is more than ``--floor`` below plain
trafilatura, and the worst outlets.

usage: python bench/extraction.py [CORPUS ...] [--repeat N] [--worst N] [--json] [--misses]
With --throughput it then prints the second figure, crawl articles/s with the extraction
pool against extraction inline on the replica (bench/throughput.py, which also runs alone).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

RUNS = ("trafilatura", "newsarchive", "hints off")

# Language of a gold text: the script when it tells, else the most frequent stopwords.
_SCRIPTS = (
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
)
_STOP = {
    "en": "the and of to in is that was for with",
    "de": "der die und das nicht ist den mit sich auch",
    "fr": "le la les et des est une dans pour que",
    "es": "el la los las que del por una para con",
    "it": "il che della non per una sono gli del nel",
    "nl": "het een van en niet zijn op voor met dat",
    "da": "og det er af til på ikke som har med jeg",
    "no": "og det er av til på ikke som har med ikkje",
    "sv": "och att det som är för på inte med av",
    "is": "og að er sem í á um við það ekki",
    "lt": "ir kad yra su buvo jo nuo bet už tai",
    "sw": "na wa ya kwa katika za ni la hiyo kuwa",
    "zu": "ukuthi futhi kodwa kanye uma lokho wathi nokho kule ngoba",
}
_STOP_SETS = {k: set(v.split()) for k, v in _STOP.items()}


def language_of(text: str) -> str:
    sample = text[:4000]
    for code, rx in _SCRIPTS:
        if len(rx.findall(sample)) > 50:
            return code
    words = Counter(re.findall(r"\w+", sample.lower()))
    score = {k: sum(words[w] for w in s) for k, s in _STOP_SETS.items()}
    best = max(score, key=score.get)
    return best if score[best] else "und"


def load_scorer(path: Path):
    spec = importlib.util.spec_from_file_location("score_extraction", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def project_extractor(hints: bool = True):
    from newsarchive.extract import extract_article

    outlet = None if hints else False  # None: looked up from the URL; False: no hints

    def run(html: bytes, url: str | None):
        a = extract_article(html, url=url, outlet=outlet)
        if a is None:
            return "", {}
        return a.text, {"title": a.title, "authors": a.authors, "published": a.published}

    return run


def score_page(S, gold: str, caps: list[str], gmeta: dict, pred: str, got: dict) -> dict:
    P, R, F = S.bow(gold, pred)
    gtok, ptok = S.toks(gold), S.toks(pred)
    ncaps = leaks = 0
    for c in set(caps):
        ct = S.toks(c)
        if ct:
            ncaps += 1
            leaks += S.count(ptok, ct) > S.count(gtok, ct)
    return {"P": P, "R": R, "F": F, "caps": ncaps, "leaks": leaks, **S.meta_hits(gmeta, got)}


def run_corpus(S, corpus: str, repeat: int, misses: list | None = None) -> list[dict]:
    """One row per page: the three runs' scores, the page's language and timings."""
    pages = list(S.samples(corpus))
    extractors = {
        "trafilatura": S.make_extractor("trafilatura"),
        "newsarchive": project_extractor(True),
        "hints off": project_extractor(False),
    }
    for ex in extractors.values():  # warm-up: imports, lazy tables, registry
        ex(pages[0][2], pages[0][3])
    rows = []
    for group, name, html, url, gold, caps, gmeta in pages:
        row = {"group": group, "name": name, "lang": language_of(gold)}
        for k, ex in extractors.items():
            best = float("inf")
            # timed runs interleave plain and ours; the hints-off run is scored, not timed
            for _ in range(repeat if k != "hints off" else 1):
                t0 = time.perf_counter()
                try:
                    pred, got = ex(html, url)
                except Exception as exc:  # a crash on a real page counts as empty
                    print(f"error {k} {group}/{name}: {exc!r}", file=sys.stderr)
                    pred, got = "", {}
                best = min(best, (time.perf_counter() - t0) * 1000)
            row[k] = score_page(S, gold, caps, gmeta, pred, got)
            row[k]["ms"] = best
            if k == "newsarchive" and misses is not None:
                for field, ok in S.meta_hits(gmeta, got).items():
                    if ok == 0:
                        gk = {"date": "publishing_date"}.get(field, field)
                        pk = {"date": "published"}.get(field, field)
                        misses.append((f"{group}/{name}", field, gmeta.get(gk), got.get(pk)))
        rows.append(row)
    return rows


def summary(rows: list[dict], run: str) -> dict:
    per_group: dict[str, list[dict]] = {}
    for r in rows:
        per_group.setdefault(r["group"], []).append(r[run])

    def macro(k: str) -> float:
        return statistics.mean(statistics.mean(x[k] for x in g) for g in per_group.values())

    def hits(k: str) -> tuple[int, int]:
        v = [r[run][k] for r in rows if r[run][k] is not None]
        return sum(v), len(v)

    return {
        "pages": len(rows),
        "outlets": len(per_group),
        "f1": macro("F"),
        "precision": macro("P"),
        "recall": macro("R"),
        "captions": sum(r[run]["caps"] for r in rows),
        "caption_leaks": sum(r[run]["leaks"] for r in rows),
        "title_ok": hits("title"),
        "date_ok": hits("date"),
        "authors_ok": hits("authors"),
        "ms_median": statistics.median(r[run]["ms"] for r in rows),
        "per_outlet": {g: statistics.mean(x["F"] for x in v) for g, v in per_group.items()},
    }


def below(rows: list[dict], floor: float) -> list[tuple[str, str, float, float]]:
    out = []
    for r in rows:
        t = r["trafilatura"]["F"]
        for run in RUNS[1:]:
            if r[run]["F"] < t - floor:
                out.append((run, f"{r['group']}/{r['name']}", t, r[run]["F"]))
    return out


def frac(v: tuple[int, int]) -> str:
    return f"{v[0]}/{v[1]} ({100 * v[0] / v[1]:.0f}%)" if v[1] else "-"


def print_corpus(name: str, rows: list[dict], floor: float, worst: int) -> None:
    res = {run: summary(rows, run) for run in RUNS}
    t, n = res["trafilatura"], res["newsarchive"]
    lines = [
        ("pages / outlets", lambda s: f"{s['pages']} / {s['outlets']}"),
        ("F1 (mean over outlets)", lambda s: f"{s['f1']:.4f}"),
        ("  precision", lambda s: f"{s['precision']:.4f}"),
        ("  recall", lambda s: f"{s['recall']:.4f}"),
        ("caption/credit leaks", lambda s: f"{s['caption_leaks']} of {s['captions']}"),
        ("title exact", lambda s: frac(s["title_ok"])),
        ("publication day", lambda s: frac(s["date_ok"])),
        ("author set", lambda s: frac(s["authors_ok"])),
        ("median ms per page", lambda s: f"{s['ms_median']:.1f}"),
    ]
    print(f"\n== {name}")
    print(f"{'metric':26s} " + " ".join(f"{r:>16s}" for r in RUNS))
    for label, fmt in lines:
        cells = [fmt(res[r]) if r != "hints off" or "ms" not in label else "-" for r in RUNS]
        print(f"{label:26s} " + " ".join(f"{c:>16s}" for c in cells))
    print(
        f"time ratio newsarchive/trafilatura (median ms, same pages, fastest of each): "
        f"{n['ms_median'] / t['ms_median']:.2f}x   (the hints-off run is not timed)"
    )
    langs: dict[str, list[dict]] = {}
    for r in rows:
        langs.setdefault(r["lang"], []).append(r)
    print(f"\nby language (of the gold text): pages, F1 and leaks for {', '.join(RUNS)}")
    for lang, rs in sorted(langs.items(), key=lambda kv: -len(kv[1])):
        cells = []
        for run in RUNS:
            s = summary(rs, run)
            cells.append(f"{s['f1']:.3f} ({s['caption_leaks']})")
        print(f"  {lang:4s} {len(rs):3d} pages  " + "  ".join(f"{c:>13s}" for c in cells))
    low = below(rows, floor)
    print(f"\npages where newsarchive is more than {floor} below plain trafilatura: {len(low)}")
    for run, page, ft, fo in low:
        print(f"  {run:12s} {page:60s} {ft:.3f} -> {fo:.3f}")
    print(f"\nworst {worst} outlets (newsarchive F1), with trafilatura's and hints off:")
    for g, f in sorted(n["per_outlet"].items(), key=lambda kv: kv[1])[:worst]:
        off = res["hints off"]["per_outlet"][g]
        print(f"  {g:34s} {t['per_outlet'][g]:.3f} -> {f:.3f} (hints off {off:.3f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "corpus",
        nargs="*",
        default=[str(SHARED / "corpus" / "fundus"), str(SHARED / "corpus" / "fundus-intl")],
    )
    ap.add_argument("--scorer", default=str(SHARED / "bench" / "score_extraction.py"))
    ap.add_argument("--repeat", type=int, default=3, help="time each page N times, keep the min")
    ap.add_argument("--worst", type=int, default=8, help="outlets in the per-outlet table")
    ap.add_argument("--floor", type=float, default=0.02, help="allowed F1 gap under trafilatura")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--misses", action="store_true", help="list newsarchive's metadata misses")
    ap.add_argument("--throughput", action="store_true", help="also the pool vs inline figure")
    a = ap.parse_args(argv)
    missing = [c for c in a.corpus if not Path(c).is_dir()]
    if missing or not Path(a.scorer).is_file():
        print(f"corpus or scorer missing ({', '.join(missing) or a.scorer})", file=sys.stderr)
        return 2
    S = load_scorer(Path(a.scorer))
    misses: list = []
    results = {c: run_corpus(S, c, a.repeat, misses) for c in a.corpus}
    if a.json:
        out = {
            c: {
                **{run: summary(rows, run) for run in RUNS},
                "below_trafilatura": below(rows, a.floor),
            }
            for c, rows in results.items()
        }
        print(json.dumps(out, indent=1))
        return 0
    for c, rows in results.items():
        print_corpus(Path(c).name, rows, a.floor, a.worst)
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
