"""Metadata benchmark: title, author and date accuracy per language on both gold corpora.

Uses the metric of ../shared/bench/score_extraction.py (``meta_hits``: title exact after
normalising, same publication day, same author set) on newsarchive's extractor, groups the
pages by language (the country folder; fundus is all English), and lists every miss with
the gold value beside ours and where ours came from (``title_source``, ``date_source``).

usage: python bench/metadata.py [CORPUS ...] [--no-hints] [--no-misses] [--json]
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

# Folder country -> language of its pages (for grouping only; the extractor never sees it).
COUNTRY_LANG = {
    "at": "de", "be": "nl", "ch": "de", "cn": "zh", "de": "de", "dk": "da", "es": "es",
    "fr": "fr", "il": "de", "ind": "hi", "isl": "is", "it": "it", "jp": "ja", "kr": "ko",
    "lt": "lt", "lu": "de", "no": "no", "ru": "ru", "se": "sv", "tz": "sw", "za": "zu",
}  # fmt: skip


def load_scorer(path: Path):
    spec = importlib.util.spec_from_file_location("score_extraction", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_corpus(S, corpus: Path, hints: bool = True) -> tuple[dict, list[dict], list[float]]:
    from newsarchive.extract import extract_article

    english = corpus.name == "fundus"
    per_lang: dict[str, dict[str, list[int]]] = {}
    misses: list[dict] = []
    ms: list[float] = []
    for group, name, html, url, _gold, _caps, gmeta in S.samples(corpus):
        t0 = time.perf_counter()
        # outlet="" names no registry outlet: the generic rules alone, no registry hints
        a = extract_article(html, url=url) if hints else extract_article(html, url=url, outlet="")
        ms.append((time.perf_counter() - t0) * 1000)
        got = {"title": a.title, "authors": a.authors, "published": a.published} if a else {}
        lang = "en" if english else COUNTRY_LANG.get(group.split("/")[0], "?")
        row = per_lang.setdefault(lang, {"title": [], "date": [], "authors": []})
        for k, v in S.meta_hits(gmeta, got).items():
            if v is None:
                continue
            row[k].append(v)
            if not v:
                gk, ok = {"title": ("title", "title"), "date": ("publishing_date", "published"),
                          "authors": ("authors", "authors")}[k]  # fmt: skip
                src = getattr(a, f"{k}_source", None) if a and k != "authors" else None
                misses.append(
                    dict(page=f"{group}/{name}", lang=lang, field=k, gold=gmeta.get(gk),
                         got=got.get(ok), source=src, page_language=a.language if a else None)
                )  # fmt: skip
    return per_lang, misses, ms


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "corpus",
        nargs="*",
        default=[str(SHARED / "corpus" / "fundus"), str(SHARED / "corpus" / "fundus-intl")],
    )
    ap.add_argument("--scorer", default=str(SHARED / "bench" / "score_extraction.py"))
    ap.add_argument("--no-misses", action="store_true")
    ap.add_argument("--no-hints", action="store_true", help="without the registry's hints")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    scorer = Path(a.scorer)
    if not scorer.exists():
        print(f"scorer not found: {scorer}", file=sys.stderr)
        return 2
    S = load_scorer(scorer)
    report = {}
    for c in map(Path, a.corpus):
        if not c.is_dir():
            print(f"corpus not found: {c}", file=sys.stderr)
            return 2
        per_lang, misses, ms = run_corpus(S, c, hints=not a.no_hints)
        total = {
            k: sum((r[k] for r in per_lang.values()), []) for k in ("title", "date", "authors")
        }
        report[c.name] = dict(per_lang=per_lang, total=total, misses=misses, ms=ms)
    if a.json:
        out = {
            name: {
                "total": {k: f"{sum(v)}/{len(v)}" for k, v in r["total"].items()},
                "per_language": {
                    lang: {k: f"{sum(v)}/{len(v)}" for k, v in row.items()}
                    for lang, row in sorted(r["per_lang"].items())
                },
                "median_ms": round(statistics.median(r["ms"]), 1),
                "misses": r["misses"],
            }
            for name, r in report.items()
        }
        print(json.dumps(out, ensure_ascii=False, default=str))
        return 0
    for name, r in report.items():

        def cell(v: list[int]) -> str:
            return f"{sum(v)}/{len(v)} ({100 * sum(v) / len(v):.0f}%)" if v else "-"

        print(f"== {name}: {len(r['ms'])} pages, median {statistics.median(r['ms']):.1f} ms/page")
        print(f"{'lang':6} {'title':>14} {'authors':>14} {'date':>14}")
        for lang, row in sorted(r["per_lang"].items()):
            print(
                f"{lang:6} {cell(row['title']):>14} {cell(row['authors']):>14} {cell(row['date']):>14}"
            )
        t = r["total"]
        print(f"{'all':6} {cell(t['title']):>14} {cell(t['authors']):>14} {cell(t['date']):>14}")
        if not a.no_misses:
            for m in r["misses"]:
                print(
                    f"  miss {m['field']:7} {m['page']} [{m['page_language']}] "
                    f"gold={m['gold']!r} got={m['got']!r}"
                    + (f" via {m['source']}" if m["source"] else "")
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
