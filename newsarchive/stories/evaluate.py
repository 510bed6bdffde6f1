"""Scoring a story assignment against ground truth (bench/stories.py and the tests)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from newsarchive.stories.detector import RELATIONS


@dataclass
class Truth:
    id: str
    story: str | None
    relation: str  # origin | duplicate | syndicated | rewrite | single | negative
    origin_id: str | None
    negative_of: str | None = None


@dataclass
class Predicted:
    story_id: str | None
    relation: str | None
    origin_id: str | None


@dataclass
class Scores:
    precision: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    label_accuracy: dict[str, float] = field(default_factory=dict)
    pair_precision: float = 0.0
    pair_recall: float = 0.0
    negatives_merged: float = 0.0
    origin_accuracy: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def score(truth: Iterable[Truth], pred: dict[str, Predicted]) -> Scores:
    """Pairwise scores. A relation's pairs are (member, origin): recall counts the true pairs
    put in one predicted story, precision the predicted pairs inside one true story."""
    truth = list(truth)
    by_id = {t.id: t for t in truth}
    s = Scores()

    def same_true(a: str, b: str) -> bool:
        ta, tb = by_id.get(a), by_id.get(b)
        return bool(ta and tb and ta.story and ta.story == tb.story)

    def same_pred(a: str, b: str) -> bool:
        pa, pb = pred.get(a), pred.get(b)
        return bool(pa and pb and pa.story_id and pa.story_id == pb.story_id)

    for rel in RELATIONS:
        gold = [t for t in truth if t.relation == rel]
        hit = sum(same_pred(t.id, t.origin_id) for t in gold)
        label = sum(1 for t in gold if same_pred(t.id, t.origin_id) and pred[t.id].relation == rel)
        mine = [(i, p) for i, p in pred.items() if p.relation == rel and p.origin_id]
        good = sum(same_true(i, p.origin_id) for i, p in mine)
        s.recall[rel] = _ratio(hit, len(gold))
        s.precision[rel] = _ratio(good, len(mine))
        s.label_accuracy[rel] = _ratio(label, hit)
        s.counts[f"true_{rel}"] = len(gold)
        s.counts[f"predicted_{rel}"] = len(mine)

    # all pairs inside stories (true and predicted clusters)
    def groups(key) -> dict[str, list[str]]:
        g: dict[str, list[str]] = {}
        for i, k in key:
            if k:
                g.setdefault(k, []).append(i)
        return g

    tg = groups((t.id, t.story) for t in truth)
    pg = groups((i, p.story_id) for i, p in pred.items())
    tp = 0
    for members in pg.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                tp += same_true(members[x], members[y])
    n_pred = sum(len(m) * (len(m) - 1) // 2 for m in pg.values())
    n_true = sum(len(m) * (len(m) - 1) // 2 for m in tg.values())
    s.pair_precision = _ratio(tp, n_pred)
    s.pair_recall = _ratio(tp, n_true)

    negs = [t for t in truth if t.negative_of]
    merged = 0
    for t in negs:
        p = pred.get(t.id)
        if p and p.story_id and any(same_pred(t.id, m) for m in tg.get(t.negative_of, ())):
            merged += 1
    s.negatives_merged = _ratio(merged, len(negs)) if negs else 0.0
    s.counts["negatives"] = len(negs)

    right = 0
    for members in tg.values():
        origin = next(m for m in members if by_id[m].relation == "origin")
        p = pred.get(origin)
        right += bool(p and p.origin_id == origin)
    s.origin_accuracy = _ratio(right, len(tg))
    s.counts["stories"] = len(tg)
    s.counts["predicted_stories"] = len(pg)
    return s
