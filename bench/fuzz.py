"""Fuzz the readers: mutated HTML through ``extract_article``, mutated WARC files through
``warc check``, ``cdxj``, ``reindex`` and ``warc repair`` (library calls, and a sample through
the CLI). Seeded and bounded; prints the number of uncaught exceptions and hangs (both must
be 0) and, for repair, the number of records lost (must be 0).

    .venv/bin/python bench/fuzz.py                       # 10,000 pages, 1,000 WARCs
    .venv/bin/python bench/fuzz.py --pages 300 --warcs 50 --cli 3

``tests/test_fuzz.py`` runs the small version.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEWSARCHIVE = ROOT / ".venv" / "bin" / "newsarchive"


class Hang(Exception):
    pass


@contextmanager
def deadline(seconds: float):
    """Raise Hang in the main thread once the block has used ``seconds`` of CPU time.

    CPU time, not wall time: on a loaded machine (2 cores, many jobs) a page can wait ten
    times its cost for a core; a loop that never ends burns CPU and is caught either way.
    """

    def fire(signum, frame):
        raise Hang(f"used more than {seconds} s of CPU")

    old = signal.signal(signal.SIGPROF, fire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


@dataclass
class Tally:
    runs: Counter = field(default_factory=Counter)
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def call(self, what: str, label: str, fn, timeout: float, allowed=()):
        self.runs[what] += 1
        t0 = time.process_time()
        try:
            with deadline(timeout):
                return fn()
        except Hang:
            self.hangs.append(f"{what} {label}")
        except allowed:
            return None
        except Exception:  # noqa: BLE001 - counting them is the point
            self.crashes.append(f"{what} {label}: {traceback.format_exc(limit=3)}")
            print(self.crashes[-1], file=sys.stderr, flush=True)
        finally:
            # a C call cannot be interrupted by the alarm; a late return is a hang too
            if time.process_time() - t0 > timeout * 1.5 and not any(
                h.startswith(f"{what} {label}") for h in self.hangs
            ):
                self.hangs.append(f"{what} {label} (returned late)")
        return None


# ---------------------------------------------------------------------------- HTML

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Ferry timetable changes | Harbour Post</title>
<meta property="og:title" content="Ferry timetable changes">
<meta property="article:published_time" content="2024-05-03T08:00:00Z">
<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
"headline":"Ferry timetable changes","datePublished":"2024-05-03T08:00:00Z",
"author":{"@type":"Person","name":"Lea Park"}}</script></head>
<body><header><nav><a href="/">Home</a></nav></header><main><article>
<h1>Ferry timetable changes</h1><p class="byline">By Lea Park</p>
<p>The harbour council voted on Tuesday to change the winter ferry timetable, cutting the
first crossing of the day and adding a late service on Fridays.</p>
<p>Councillors said the change followed a survey of passengers, most of whom travel in the
afternoon, and that fares would stay the same until next spring.</p>
<blockquote>"We listened to the people who use the boats," the chair said.</blockquote>
<p>The new timetable starts on the first Monday of November.</p>
</article></main><footer>Harbour Post</footer></body></html>"""

TAGS = [
    "<div>",
    "</div>",
    "<p>",
    "</p>",
    "<article>",
    "</article>",
    "<table><tr><td>",
    "<script>",
    "</script>",
    "<!--",
    "-->",
    "<![CDATA[",
    "<svg><foreignObject>",
    "<template>",
    "&#0;",
    "&#xDFFF;",
    "&nbsp;",
    "\x00",
    "\ufeff",
    "<meta charset='x-unknown'>",
    "<meta http-equiv='Content-Type' content='text/html; charset=utf-32'>",
    '<script type="application/ld+json">{"@type":["NewsArticle",',
    "<html><body>",
]
CHARSETS = [
    "utf-8",
    "latin-1",
    "utf-16",
    "utf-32",
    "cp1252",
    "shift_jis",
    "x-nonsense",
    "utf-7",
    "",
    "ebcdic-cp-be",
    None,
]


def mutate_html(rng: random.Random) -> tuple[bytes | str, str | None]:
    """One mutated page and the encoding to claim for it (possibly wrong or bogus)."""
    kind = rng.random()
    if kind < 0.05:
        depth = rng.choice([100, 1000, 5000, 20000])
        tag = rng.choice(["div", "p", "span", "table", "article", "b"])
        return f"<{tag}>" * depth + "deep words here " * 20 + f"</{tag}>" * rng.randint(
            0, depth
        ), None
    if kind < 0.10:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 4000))), rng.choice(CHARSETS)
    s = list(PAGE)
    for _ in range(rng.randint(1, 40)):
        op = rng.random()
        pos = rng.randrange(len(s) + 1)
        if op < 0.25 and s:
            del s[pos : pos + rng.randint(1, 300)]
        elif op < 0.55:
            s[pos:pos] = rng.choice(TAGS) * rng.choice([1, 1, 1, 5, 200])
        elif op < 0.7 and len(s) > 2:
            i, j = sorted(rng.sample(range(len(s)), 2))
            s[i:j] = s[i:j][::-1]
        elif op < 0.85:
            s[pos:pos] = [chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(1, 30))]
        else:
            s[pos:pos] = ["<p>" + "word " * rng.randint(1, 2000) + "</p>"]
    text = "".join(s)
    charset = rng.choice(CHARSETS)
    if rng.random() < 0.3:
        text = text.replace('charset="utf-8"', f'charset="{charset}"').replace(
            "charset=utf-8", f"charset={charset}"
        )
    if rng.random() < 0.5:
        return text, None
    try:
        data = text.encode(charset or "utf-8", "surrogatepass")
    except (LookupError, UnicodeError):
        data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.3:  # flip bytes after encoding
        b = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            if b:
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        data = bytes(b)
    return data, rng.choice(CHARSETS)


def fuzz_html(n: int, seed: int, tally: Tally, timeout: float) -> float:
    from newsarchive.extract import Article, extract_article

    rng = random.Random(seed)
    urls = [None, "https://nypost.com/2024/05/03/ferry/", "not a url", "https://x:99999/a"]
    t0 = time.perf_counter()
    for i in range(n):
        html, enc = mutate_html(rng)
        url = rng.choice(urls)

        def one(html=html, url=url, enc=enc):
            art = extract_article(html, url, encoding=enc)
            if art is not None:
                assert isinstance(art, Article)
                art.to_dict()

        tally.call("extract_article", f"#{i}", one, timeout)
        if (i + 1) % 500 == 0:
            print(
                f"  {i + 1} pages, {len(tally.crashes)} exceptions, {len(tally.hangs)} hangs, "
                f"{time.perf_counter() - t0:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- WARC


def base_warc(rng: random.Random, n: int, gzip_records: bool) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gzip_records)
    w.write_record(w.create_warcinfo_record("fuzz.warc", {"software": "bench/fuzz.py"}))
    for i in range(n):
        html, _ = mutate_html(rng) if rng.random() < 0.5 else (PAGE, None)
        body = html if isinstance(html, bytes) else html.encode("utf-8", "surrogatepass")
        ctype = f"text/html; charset={rng.choice(CHARSETS) or 'utf-8'}"
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))]
        if rng.random() < 0.2:
            body = gzip.compress(body)
            headers = [
                ("Content-Type", ctype),
                ("Content-Encoding", "gzip"),
                ("Content-Length", str(len(body))),
            ]
        http = StatusAndHeaders(
            rng.choice(["200 OK", "200 OK", "404 Not Found", "301 Moved"]),
            headers,
            protocol="HTTP/1.1",
        )
        url = f"https://nypost.com/2024/05/{i % 28 + 1:02d}/fuzz-story-{i}/"
        w.write_record(
            w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
        )
        if rng.random() < 0.3:
            w.write_record(
                w.create_revisit_record(
                    url,
                    digest=f"sha1:{'A' * 32}",
                    refers_to_uri=url,
                    refers_to_date="2024-05-01T00:00:00Z",
                )
            )
    return buf.getvalue()


def _spans(data: bytes) -> list[tuple[int, int]]:
    """Member (gzip) spans of a per-record gzip WARC."""
    out, pos = [], 0
    while pos < len(data):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        d.decompress(data[pos:])
        end = len(data) - len(d.unused_data)
        out.append((pos, end))
        pos = end
    return out


def _regzip(records: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(records) + c.flush()


HEADER_GARBAGE = [
    b"Content-Length: -5",
    b"Content-Length: 99999999999",
    b"Content-Length: x",
    b"WARC-Date: yesterday",
    b"WARC-Date: 2024-13-45T99:99:99Z",
    b"WARC-Target-URI: http://[::1",
    b"WARC-Target-URI: https://a:99999999/",
    b"WARC-Type: \xff\xfe",
    b"no colon here",
    b"WARC-Record-ID: ",
    b"\x00\x00\x00",
]


def mutate_warc(rng: random.Random) -> tuple[str, bytes, str]:
    """(file suffix, bytes, what was done) of one mutated WARC file."""
    fmt = rng.choice(["member", "member", "member", "plain", "whole"])
    data = base_warc(rng, rng.randint(1, 6), gzip_records=fmt == "member")
    if fmt == "whole":
        data = gzip.compress(data)
    suffix = ".warc" if fmt == "plain" else ".warc.gz"
    ops = []
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(["flip", "truncate", "delete", "gzip", "header", "huge", "splice"])
        ops.append(op)
        b = bytearray(data)
        if op == "flip" and b:
            for _ in range(rng.randint(1, 30)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            data = bytes(b)
        elif op == "truncate":
            data = data[: rng.randrange(len(data) + 1)]
        elif op == "delete" and fmt == "member":
            try:
                spans = _spans(data)
            except zlib.error:
                continue
            s, e = rng.choice(spans)
            data = data[:s] + data[e:]
        elif op == "gzip" and fmt != "plain" and len(b) > 20:
            try:
                spans = _spans(data)
            except zlib.error:
                spans = [(0, len(data))]
            s, e = rng.choice(spans)
            where = rng.choice(
                [
                    s + rng.randrange(10),
                    e - 1 - rng.randrange(min(8, e - s)),
                    s + rng.randrange(max(1, e - s)),
                ]
            )
            if where < len(b):
                b[where] = rng.getrandbits(8)
            data = bytes(b)
        elif op in ("header", "huge"):
            raw = data if fmt == "plain" else _safe_gunzip(data)
            if raw is None:
                continue
            i = raw.find(b"\r\n", rng.randrange(max(1, len(raw))))
            if i < 0:
                continue
            line = (
                rng.choice(HEADER_GARBAGE)
                if op == "header"
                else (b"X-Huge: " + b"h" * rng.choice([70_000, 1_100_000, 3_000_000]))
            )
            raw = raw[:i] + b"\r\n" + line + raw[i:]
            data = (
                raw
                if fmt == "plain"
                else (_regzip(raw) if fmt == "whole" else _regzip_per_record(raw))
            )
        elif op == "splice":
            junk = rng.choice(
                [
                    os.urandom(rng.randint(1, 500)),
                    b"\x1f\x8b\x08" + os.urandom(40),
                    b"WARC/1.1\r\n",
                    b"WARC/1.0\r\nContent-Length: 10\r\n\r\nab",
                ]
            )
            pos = rng.randrange(len(data) + 1)
            data = data[:pos] + junk + data[pos:]
    return suffix, data, f"{fmt}:{'+'.join(ops)}"


def _safe_gunzip(data: bytes) -> bytes | None:
    out = []
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(d.decompress(data))
        except zlib.error:
            return None
        if not d.eof:
            return None
        data = d.unused_data
    return b"".join(out)


def _regzip_per_record(raw: bytes) -> bytes:
    parts = raw.split(b"\r\n\r\nWARC/")
    out = []
    for i, p in enumerate(parts):
        rec = (b"" if i == 0 else b"WARC/") + p + (b"" if i == len(parts) - 1 else b"\r\n\r\n")
        out.append(_regzip(rec))
    return b"".join(out)


def fuzz_warcs(
    n: int,
    seed: int,
    tally: Tally,
    timeout: float,
    workdir: Path,
    cli_sample: int,
    reindex_sample: int,
) -> float:
    from newsarchive.index.reindex import extract_jobs, reindex, scan_file
    from newsarchive.warc.records import WarcFormatError
    from newsarchive.warc.scan import (
        RepairRefused,
        check_file,
        index_file,
        iter_members,
        repair_file,
        write_index,
    )

    rng = random.Random(seed)
    t0 = time.perf_counter()
    files = []
    for i in range(n):
        suffix, data, what = mutate_warc(rng)
        p = workdir / f"f{i:05d}{suffix}"
        p.write_bytes(data)
        files.append(p)
        label = f"{p.name} [{what}]"
        tally.call("check_file", label, lambda p=p: check_file(p), timeout)
        tally.call("index_file", label, lambda p=p: index_file(p), timeout)
        tally.call(
            "write_index", label, lambda p=p: write_index(p), timeout, allowed=(WarcFormatError,)
        )

        def scan(p=p):
            part = scan_file(str(p))
            extract_jobs(part["jobs"][:3], {})

        tally.call("reindex.scan_file", label, scan, timeout)

        def repair(p=p, label=label):
            good = sum(len(m.records) for m in iter_members(p) if m.ok)
            copy = p.with_name("r-" + p.name)
            shutil.copy(p, copy)
            try:
                result = repair_file(copy, backup=False)
            except (RepairRefused, WarcFormatError):
                return
            after = sum(len(m.records) for m in iter_members(result.path) if m.ok)
            if after < good:
                tally.lost.append(f"{label}: {good} good records before repair, {after} after")
            for q in copy.parent.glob("r-" + p.name + "*"):
                q.unlink()
            if result.path.exists():
                result.path.unlink()

        tally.call("repair_file", label, repair, timeout, allowed=(RepairRefused,))
    sample = rng.sample(files, min(reindex_sample, len(files)))
    db = workdir / "fuzz.duckdb"
    tally.call(
        "reindex",
        f"{len(sample)} files",
        lambda: reindex(
            [str(p) for p in sample], db, workers=1, progress=False, executor=ThreadPoolExecutor
        ),
        timeout * max(10, len(sample)),
    )
    for p in rng.sample(files, min(cli_sample, len(files))):
        for verb in (
            ["warc", "check"],
            ["cdxj"],
            ["reindex", "--db", str(db), "-q", "--workers", "1"],
        ):
            tally.runs["cli " + verb[0]] += 1
            try:
                r = subprocess.run(
                    [str(NEWSARCHIVE), *verb, str(p)],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    cwd=workdir,
                )
            except subprocess.TimeoutExpired:
                tally.hangs.append(f"cli {' '.join(verb)} {p.name}")
                continue
            if (
                "Traceback" in r.stderr
                or "NEWSARCHIVE_DEBUG" in r.stderr
                or r.returncode not in (0, 1, 2)
            ):
                tally.crashes.append(
                    f"cli {' '.join(verb)} {p.name}: rc={r.returncode} {r.stderr[-500:]}"
                )
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--warcs", type=int, default=1_000)
    ap.add_argument("--cli", type=int, default=20, help="mutated WARCs also run through the CLI")
    ap.add_argument("--reindex", type=int, default=100, help="mutated WARCs in one reindex() call")
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=10.0, help="CPU seconds per call")
    args = ap.parse_args(argv)
    tally = Tally()
    t_html = fuzz_html(args.pages, args.seed, tally, args.timeout)
    with tempfile.TemporaryDirectory(prefix="newsarchive-fuzz-") as d:
        t_warc = fuzz_warcs(
            args.warcs, args.seed, tally, args.timeout, Path(d), args.cli, args.reindex
        )
    for line in tally.crashes[:10] + tally.hangs[:10] + tally.lost[:10]:
        print(line, file=sys.stderr)
    print(
        f"html: {args.pages} mutated pages through extract_article in {t_html:.1f} s "
        f"({args.pages / max(t_html, 1e-9):.0f} pages/s)"
    )
    print(
        f"warc: {args.warcs} mutated WARC files through check/cdxj/reindex/repair in "
        f"{t_warc:.1f} s; CLI sample {args.cli} files x 3 verbs"
    )
    print("calls: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.runs.items())))
    print(f"uncaught exceptions: {len(tally.crashes)}")
    print(f"hangs (> {args.timeout:g} CPU s per call): {len(tally.hangs)}")
    print(f"records lost by repair: {len(tally.lost)}")
    return 1 if tally.crashes or tally.hangs or tally.lost else 0


if __name__ == "__main__":
    sys.exit(main())
