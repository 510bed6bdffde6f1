"""The story detector: candidate pairs from MinHash LSH, a verdict per pair, stories as the
connected components of the "same story" pairs.

Every decision is a function of the two articles alone (their sketches and publication
times), and a component does not depend on the order its edges were found in, so adding
articles one by one in any order gives the same stories as one pass over all of them. The
origin of a story is its first-published member (ties by id); each member's relation and
similarity are measured against that origin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from newsarchive.stories.features import ANCHOR_PERMS, EMPTY_SIGNATURE, PERMS, Features

WINDOW_DAYS = 7.0
RELATIONS = ("duplicate", "syndicated", "rewrite")

# LSH banding (see docs/STORIES.md for the calibration that chose these).
SHINGLE_BANDS, SHINGLE_ROWS = 16, 4  # over the first 64 values of the shingle signature
ANCHOR_BANDS, ANCHOR_ROWS = 24, 2  # over the 48 anchor values
ANCHOR_MIN_HITS = 2  # anchor bands that must collide for a rewrite candidate
assert SHINGLE_BANDS * SHINGLE_ROWS <= PERMS and ANCHOR_BANDS * ANCHOR_ROWS <= ANCHOR_PERMS

_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
    dtype=np.uint64,
)


@dataclass(frozen=True)
class Thresholds:
    duplicate: float = 0.9  # estimated shingle Jaccard
    syndicated: float = 0.73  # estimated shingle containment of the smaller text
    rewrite_align: float = 0.55  # share of content words in aligned sentences
    numbers: float = 0.5  # shared numbers / numbers of the smaller text (2 or more)
    rewrite_anchors: float = 0.35  # shared names and numbers / those of the smaller text
    sentence_match: float = 0.45  # a sentence is aligned when this share of it is covered


DEFAULT = Thresholds()


@dataclass(frozen=True)
class Verdict:
    relation: str | None
    similarity: float
    jaccard: float = 0.0
    containment: float = 0.0
    align: float = 0.0
    numbers: float | None = None
    anchors: float = 0.0


def band_keys(f: Features) -> tuple[np.ndarray, np.ndarray]:
    """(shingle band keys, anchor band keys) as uint64; the band number is mixed in."""

    def keys(sig: np.ndarray, bands: int, rows: int, salt: int) -> np.ndarray:
        m = sig[: bands * rows].astype(np.uint64).reshape(bands, rows)
        with np.errstate(over="ignore"):
            k = (m * _MIX[:rows]).sum(axis=1, dtype=np.uint64)
            k ^= np.arange(bands, dtype=np.uint64) * np.uint64(0x100000001B3) + np.uint64(salt)
        return k

    # No names and no numbers (lower-case or caseless scripts, e.g. Chinese without digits):
    # every such article has the same all-sentinel signature, so its anchor bands would make
    # it a candidate of every other one (quadratic work, and no rewrite verdict is possible
    # without anchors anyway). Duplicates and wire copies are still found by shingle bands.
    anchor_keys = (
        np.zeros(0, dtype=np.uint64)
        if bool((f.anchor_signature == EMPTY_SIGNATURE).all())
        else keys(f.anchor_signature, ANCHOR_BANDS, ANCHOR_ROWS, 2)
    )
    return keys(f.signature, SHINGLE_BANDS, SHINGLE_ROWS, 1), anchor_keys


def is_candidate(shingle_hits: int, anchor_hits: int) -> bool:
    return shingle_hits >= 1 or anchor_hits >= ANCHOR_MIN_HITS


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    return int(np.intersect1d(a, b, assume_unique=True).size), min(a.size, b.size)


def alignment(a: Features, b: Features, match: float = DEFAULT.sentence_match) -> float:
    """Share of the shorter text's content words that sit in sentences covered by one or two
    consecutive sentences of the other (two: a merge or a split)."""
    sa, sb = a.sentence_sets(), b.sentence_sets()
    if len(sa) == len(sb):  # symmetric: the verdict must not depend on argument order
        return max(_align(sa, sb, match), _align(sb, sa, match))
    if len(sa) > len(sb):
        sa, sb = sb, sa
    return _align(sa, sb, match)


def _align(sa: list[frozenset[int]], sb: list[frozenset[int]], match: float) -> float:
    if not sa or not sb:
        return 0.0
    where: dict[int, list[int]] = {}
    for j, s in enumerate(sb):
        for t in s:
            where.setdefault(t, []).append(j)
    matched = total = 0
    n = len(sb)
    for s in sa:
        if len(s) < 3:
            continue
        total += len(s)
        hits = [0] * n
        for t in s:
            for j in where.get(t, ()):
                hits[j] += 1
        best = max(hits)
        if n > 1:
            # a token in both sentences of a window is counted once
            for j in range(n - 1):
                if hits[j] and hits[j + 1]:
                    both = len(s & sb[j] & sb[j + 1])
                    best = max(best, hits[j] + hits[j + 1] - both)
        if best >= match * len(s):
            matched += len(s)
    return matched / total if total else 0.0


def compare(a: Features, b: Features, th: Thresholds = DEFAULT) -> Verdict:
    """The relation between two articles (None: not the same story) and its similarity."""
    j = float(np.count_nonzero(a.signature == b.signature)) / a.signature.size
    inter = j * (a.n_shingles + b.n_shingles) / (1.0 + j)
    c = min(1.0, inter / max(1, min(a.n_shingles, b.n_shingles)))
    if j >= th.duplicate:
        return Verdict("duplicate", round(j, 4), j, c)
    # Different events told with the same words differ in their figures: a copy keeps them.
    nshared, nsmaller = _overlap(a.numbers, b.numbers)
    numbers = nshared / nsmaller if nsmaller >= 2 else None
    if numbers is not None and numbers < th.numbers:
        return Verdict(None, round(c, 4), j, c, 0.0, numbers)
    if c >= th.syndicated:
        return Verdict("syndicated", round(c, 4), j, c, 0.0, numbers)
    shared, smaller = _overlap(a.anchors, b.anchors)
    anchors = shared / smaller if smaller else 0.0
    if anchors < th.rewrite_anchors:
        return Verdict(None, round(c, 4), j, c, 0.0, numbers, anchors)
    al = alignment(a, b, th.sentence_match)
    rel = "rewrite" if al >= th.rewrite_align else None
    return Verdict(rel, round(al, 4), j, c, al, numbers, anchors)


class BandIndex:
    """band key -> article numbers: a sorted numpy array plus a small dict of recent adds
    (12 bytes per key once compacted)."""

    def __init__(self, compact_at: int = 262_144) -> None:
        self.keys = np.zeros(0, dtype=np.uint64)
        self.ids = np.zeros(0, dtype=np.int32)
        self.recent: dict[int, list[int]] = {}
        self.n_recent = 0
        self.compact_at = compact_at

    def add(self, keys: np.ndarray, idx: int) -> None:
        for k in keys.tolist():
            self.recent.setdefault(k, []).append(idx)
        self.n_recent += keys.size
        if self.n_recent >= self.compact_at:
            self.compact()

    def compact(self) -> None:
        if not self.recent:
            return
        ks = np.fromiter(
            (k for k, v in self.recent.items() for _ in v), dtype=np.uint64, count=self.n_recent
        )
        vs = np.fromiter(
            (i for v in self.recent.values() for i in v), dtype=np.int32, count=self.n_recent
        )
        keys = np.concatenate([self.keys, ks])
        ids = np.concatenate([self.ids, vs])
        order = np.argsort(keys, kind="stable")
        self.keys, self.ids = keys[order], ids[order]
        self.recent.clear()
        self.n_recent = 0

    def hits(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(article numbers, how many of ``keys`` each shares), numbers ascending."""
        parts = []
        if self.keys.size:
            lo = np.searchsorted(self.keys, keys, "left")
            hi = np.searchsorted(self.keys, keys, "right")
            parts = [self.ids[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
        for k in keys.tolist():
            got = self.recent.get(k)
            if got:
                parts.append(np.asarray(got, dtype=np.int32))
        if not parts:
            return np.zeros(0, np.int32), np.zeros(0, np.int64)
        return np.unique(np.concatenate(parts), return_counts=True)

    def nbytes(self) -> int:
        return self.keys.nbytes + self.ids.nbytes + self.n_recent * 90


@dataclass
class Member:
    id: str
    relation: str  # "origin" for the story's first article
    similarity: float
    origin_id: str


@dataclass(slots=True)
class _Item:
    id: str
    published: float  # epoch seconds
    outlet: str | None
    sketch: bytes  # Features.to_bytes(): one object instead of nine arrays (memory)

    @property
    def features(self) -> Features:
        return Features.from_bytes(self.sketch)


@dataclass
class Detector:
    """In-memory, incremental story detector (``stories assign`` and the benchmarks; the
    archive keeps the same state in tables, see :mod:`newsarchive.stories.archive`)."""

    window_days: float = WINDOW_DAYS
    thresholds: Thresholds = DEFAULT
    items: list[_Item] = field(default_factory=list)
    parent: list[int] = field(default_factory=list)
    by_id: dict[str, int] = field(default_factory=dict)
    shingle_index: BandIndex = field(default_factory=BandIndex)
    anchor_index: BandIndex = field(default_factory=BandIndex)
    edges: int = 0
    published: np.ndarray = field(default_factory=lambda: np.zeros(1024, dtype=np.float64))

    def add(
        self, article_id: str, features: Features | None, published: float, outlet: str | None
    ) -> list[tuple[int, Verdict]]:
        """Index one article; returns its same-story pairs (other article number, verdict).
        Articles without features (too short) and repeated ids are not clustered."""
        if features is None or article_id in self.by_id:
            return []
        idx = len(self.items)
        sk, ak = band_keys(features)
        pairs = self.verify(features, published, sk, ak)
        self.items.append(_Item(article_id, published, outlet, features.to_bytes()))
        self.note_published(idx, published)
        self.parent.append(idx)
        self.by_id[article_id] = idx
        self.shingle_index.add(sk, idx)
        self.anchor_index.add(ak, idx)
        for other, _ in pairs:
            self._union(idx, other)
        self.edges += len(pairs)
        return pairs

    def verify(
        self, f: Features, published: float, sk: np.ndarray, ak: np.ndarray
    ) -> list[tuple[int, Verdict]]:
        s_ids, _ = self.shingle_index.hits(sk)
        a_ids, a_n = self.anchor_index.hits(ak)
        # is_candidate(), vectorised: any shingle band, or ANCHOR_MIN_HITS anchor bands
        cands = np.union1d(s_ids, a_ids[a_n >= ANCHOR_MIN_HITS])
        if cands.size:
            window = self.window_days * 86400.0
            cands = cands[np.abs(self.published[cands] - published) <= window]
        out = []
        for other in cands.tolist():
            v = compare(f, self.items[other].features, self.thresholds)
            if v.relation:
                out.append((other, v))
        return out

    def note_published(self, idx: int, published: float) -> None:
        """Record article ``idx``'s time in the array the window test reads."""
        if idx >= self.published.size:
            grown = np.zeros(max(2 * self.published.size, idx + 1024), dtype=np.float64)
            grown[: self.published.size] = self.published
            self.published = grown
        self.published[idx] = published

    def _find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def components(self) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for i in range(len(self.items)):
            groups.setdefault(self._find(i), []).append(i)
        return groups

    def stories(self) -> Iterable[list[Member]]:
        """Every story of two or more articles: members in publication order, origin first."""
        for members in self.components().values():
            if len(members) < 2:
                continue
            yield self.describe([self.items[i] for i in members])

    def describe(self, items: list[_Item]) -> list[Member]:
        return describe([(it.id, it.published, it.features) for it in items], self.thresholds)

    def nbytes(self) -> int:
        """Approximate memory of the state (sketches, band indexes, bookkeeping)."""
        per_item = 250  # the _Item, bytes header, list slots, id string, dict entry
        return (
            sum(len(it.sketch) for it in self.items)
            + per_item * len(self.items)
            + self.shingle_index.nbytes()
            + self.anchor_index.nbytes()
        )


def describe(members: list[tuple[str, float, Features]], th: Thresholds = DEFAULT) -> list[Member]:
    """Origin = earliest published (ties: smallest id); everyone else is compared with it."""
    members = sorted(members, key=lambda m: (m[1], m[0]))
    oid, _, of = members[0]
    out = [Member(oid, "origin", 1.0, oid)]
    for mid, _, mf in members[1:]:
        v = compare(mf, of, th)
        if v.relation:
            out.append(Member(mid, v.relation, v.similarity, oid))
        else:
            # joined through another member: a looser copy of the origin
            out.append(Member(mid, "rewrite", round(max(v.align, alignment(mf, of)), 4), oid))
    return out


def story_id(origin_id: str) -> str:
    """A story is named after its origin article, so the crawl and reindex name it alike."""
    import hashlib

    return "s" + hashlib.sha1(origin_id.encode()).hexdigest()[:15]
