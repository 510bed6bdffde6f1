"""What the story detector keeps of one article: compact numeric sketches of its text.

Two MinHash signatures feed the LSH candidate search: one over word 5-gram shingles (finds
verbatim and wire copies) and one over *anchors* (numbers, capitalised names and pairs of
them that share a sentence), which survive synonym swaps, reordering and re-punctuation, so
spun rewrites still collide. Verification uses per-sentence bags of content-word stems, the
numbers, and the words inside quotation marks. Everything is stored as numpy arrays of 32-bit
hashes (CRC-32, stable across processes), never as Python sets, to keep the state small.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

SHINGLE = 5
PERMS = 128  # shingle signature length (Jaccard estimate error ~0.04)
ANCHOR_PERMS = 48
MIN_WORDS = 50  # shorter texts are never clustered on text alone


def _coefficients(n: int, salt: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20260 + salt)
    a = rng.integers(1, 2**63, size=n, dtype=np.uint64) | np.uint64(1)  # odd multipliers
    b = rng.integers(0, 2**63, size=n, dtype=np.uint64)
    return a, b


_A, _B = _coefficients(PERMS, 1)
_AA, _AB = _coefficients(ANCHOR_PERMS, 2)

# Han, kana and the CJK compatibility ideographs: scripts written without spaces, read as
# overlapping character pairs. Hangul is spaced, so it stays with the other word scripts.
_CJK = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+(?:[’'][^\W_{_CJK}]+)*)", re.UNICODE)
# The same words as _RUN's second group: what ``words`` returns for a text without CJK.
_PLAIN = re.compile(rf"[^\W_{_CJK}]+(?:[’'][^\W_{_CJK}]+)*", re.UNICODE)
_HAS_CJK = re.compile(f"[{_CJK}]")
_SENT = re.compile(r"(?<=[.!?…])[”\"’']?\s+|(?<=[。！？])[」』”）]?\s*|\n+")
_QUOTE = re.compile(r"[“\"]([^”\"]{8,}?)[”\"]")
_DIGITS = re.compile(r"\d+")
_DIGIT_CHARS = "0123456789"

# Function words and reporting verbs: frequent in every article, no evidence of sameness.
STOP = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into
    is it its itself just me more most my no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours said says say told according reported added
    also one two three new last first year years week month time people like get got may might
    must per cent percent mr mrs ms dr""".split()
)
# Capitalised words that start sentences without naming anything.
_NOT_NAMES = STOP | frozenset(
    """it's he's she's they're we're i'm there's that's what's however meanwhile yet still
    despite although though while since after before earlier later today yesterday monday
    tuesday wednesday thursday friday saturday sunday january february march april june july
    august september october november december""".split()
)


def h32(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def stem(word: str) -> str:
    """A crude suffix stripper: enough to meet 'delays'/'delayed'/'delaying' halfway."""
    for suffix in ("ingly", "edly", "ing", "ied", "ies", "ed", "es", "ly", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    """Words, with every CJK run read as its overlapping character pairs (a lone CJK
    character is one word): 北京大学 -> 北京, 京大, 大学."""
    out: list[str] = []
    for cjk, word in _RUN.findall(text):
        if word:
            out.append(word)
        elif len(cjk) == 1:
            out.append(cjk)
        else:
            out.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return out


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text) if s and s.strip()]


EMPTY_SIGNATURE = 0xFFFFFFFF  # every value of the MinHash signature of an empty set


def minhash(hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signature of a set of 32-bit hashes: multiply-shift hashing (a*x + b mod 2**64,
    top 32 bits) stands in for ``len(a)`` random permutations."""
    if hashes.size == 0:
        return np.full(a.size, EMPTY_SIGNATURE, dtype=np.uint32)
    with np.errstate(over="ignore"):
        perm = np.multiply.outer(a, hashes.astype(np.uint64))
        perm += b[:, None]
    # v >> 32 is monotone in v: the top half of the smallest value is the smallest top half
    return (perm.min(axis=1) >> np.uint64(32)).astype(np.uint32)


@dataclass(slots=True)
class Features:
    """The detector's sketch of one article."""

    n_words: int
    n_shingles: int
    signature: np.ndarray  # uint32[PERMS] over word 5-gram shingles
    anchor_signature: np.ndarray  # uint32[ANCHOR_PERMS] over anchors and anchor pairs
    anchors: np.ndarray  # sorted unique uint32: names and numbers
    numbers: np.ndarray  # sorted unique uint32: digit runs
    quotes: np.ndarray  # sorted unique uint32: content stems inside quotation marks
    sent_tokens: np.ndarray  # uint32 content stems of every sentence, concatenated
    sent_offsets: np.ndarray  # int32 start of each sentence in sent_tokens (+ end)

    def nbytes(self) -> int:
        return sum(
            getattr(self, f).nbytes
            for f in (
                "signature",
                "anchor_signature",
                "anchors",
                "numbers",
                "quotes",
                "sent_tokens",
                "sent_offsets",
            )
        )

    def to_bytes(self) -> bytes:
        parts = (self.anchors, self.numbers, self.quotes, self.sent_tokens, self.sent_offsets)
        head = np.array([self.n_words, self.n_shingles, *(p.size for p in parts)], np.uint32)
        return b"".join(
            x.astype(np.uint32).tobytes()
            for x in (head, self.signature, self.anchor_signature, *parts)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Features:
        arr = np.frombuffer(data, dtype=np.uint32)
        n_words, n_shingles, *sizes = arr[:7].tolist()
        pos = 7
        out = []
        for size in (PERMS, ANCHOR_PERMS, *sizes):
            out.append(arr[pos : pos + size])
            pos += size
        sig, asig, anchors, numbers, quotes, toks, offs = out
        return cls(
            n_words, n_shingles, sig, asig, anchors, numbers, quotes, toks, offs.astype(np.int32)
        )

    def sentence_sets(self) -> list[frozenset[int]]:
        off = self.sent_offsets
        toks = self.sent_tokens.tolist()
        return [frozenset(toks[off[i] : off[i + 1]]) for i in range(len(off) - 1)]


def _u32(values) -> np.ndarray:
    return np.unique(np.fromiter(values, dtype=np.uint32)) if values else np.zeros(0, np.uint32)


_CACHE: dict[str, tuple[int, int]] = {}  # lower-case word -> (word hash, stem hash or 0)


def _token(lower: str) -> tuple[int, int]:
    got = _CACHE.get(lower)
    if got is None:
        if len(_CACHE) > 500_000:
            _CACHE.clear()
        sh = 0 if lower in STOP or len(lower) < 2 else h32(stem(lower)) or 1
        got = _CACHE[lower] = (h32(lower), sh)
    return got


_PACKED: dict[str, int] = {}  # lower-case word -> word hash | stem hash << 32


def _packed(lower: str) -> int:
    wh, sh = _token(lower)
    if len(_PACKED) > 500_000:
        _PACKED.clear()
    got = _PACKED[lower] = wh | sh << 32
    return got


_SHINGLE_MIX = np.array([0x2545F491, 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F], np.uint64)


def shingle_hashes(word_hashes: np.ndarray) -> np.ndarray:
    """Hashes of every run of ``SHINGLE`` consecutive words (unique, uint32)."""
    n = word_hashes.size - SHINGLE + 1
    w = word_hashes.astype(np.uint64)
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(SHINGLE):
            acc = (acc ^ (w[k : k + n] * _SHINGLE_MIX[k])) * np.uint64(0x100000001B3)
    return np.unique(((acc >> np.uint64(29)) ^ acc).astype(np.uint32))


def featurize(text: str, title: str | None = None) -> Features | None:
    """Sketch ``text``; None when it is too short (< ``MIN_WORDS`` words) to judge."""
    text = text or ""
    anchors: set[str] = set()
    pairs: set[str] = set()
    numbers: set[int] = set()
    toks: list[int] = []  # word hash | stem hash (or 0) << 32, of every word
    sent_of: list[int] = []  # sentence number of each word
    # Without CJK, words() is one findall: no per-run Python loop for pairs to read.
    split = _PLAIN.findall if text.isascii() or not _HAS_CJK.search(text) else words
    for n_sent, sent in enumerate(sentences(text)):
        sw = split(sent)
        if not sw:
            continue
        lws = [w.lower() for w in sw]
        got = list(map(_PACKED.get, lws))  # the C-level lookup; misses are filled below
        if None in got:
            got = [_packed(lw) if t is None else t for t, lw in zip(got, lws, strict=True)]
        toks += got
        sent_of += [n_sent] * len(got)
        if sent.isascii() and sent == sent.lower() and not any(d in sent for d in _DIGIT_CHARS):
            continue  # no word can start with a digit or a capital
        local: list[str] = []
        for i, w in enumerate(sw):
            c = w[0]
            if c.isdigit():
                for d in _DIGITS.findall(w):
                    key = "#" + (d.lstrip("0") or "0")
                    local.append(key)
                    numbers.add(h32(key))
            elif c.isupper() and lws[i] not in _NOT_NAMES and (i > 0 or len(w) > 1):
                local.append(lws[i])
        uniq = sorted(set(local))
        anchors.update(uniq)
        for i in range(len(uniq)):
            for j in range(i + 1, min(len(uniq), i + 6)):
                pairs.add(uniq[i] + "|" + uniq[j])
    if len(toks) < MIN_WORDS:
        return None
    packed = np.array(toks, dtype=np.uint64)
    word_hashes = (packed & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    stems = (packed >> np.uint64(32)).astype(np.uint32)
    content = stems != 0
    sent_tokens = stems[content]
    # a sentence starts an entry of the offsets only when it holds a content stem
    per_sent = np.bincount(np.asarray(sent_of, dtype=np.int64)[content])
    offsets = np.concatenate(([0], np.cumsum(per_sent)[per_sent > 0])).astype(np.int32)
    sh = shingle_hashes(word_hashes)
    quote_stems = {_token(w.lower())[1] for q in _QUOTE.findall(text) for w in split(q)} - {0}
    anchor_h = {h32(a) for a in anchors}
    anchor_set = anchor_h | {h32(p) for p in pairs}
    ah = np.fromiter(anchor_set, dtype=np.uint32, count=len(anchor_set))
    return Features(
        n_words=int(word_hashes.size),
        n_shingles=int(sh.size),
        signature=minhash(sh, _A, _B),
        anchor_signature=minhash(ah, _AA, _AB),
        anchors=_u32(anchor_h),
        numbers=_u32(numbers),
        quotes=_u32(quote_stems),
        sent_tokens=sent_tokens,
        sent_offsets=offsets,
    )
