"""Page requisites the replica serves: real PNG images and stylesheets of real-ish sizes.

Images are valid PNGs (a browser decodes them: ``naturalWidth > 0``) encoded here with zlib,
deterministic for a seed. Their pixels repeat in short runs so that a 480x270 image weighs
about 20 kilobytes, like a news photo, and costs a few milliseconds to make.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import zlib

IMAGE_WIDTHS = {480: 270, 960: 540}  # srcset candidates: width -> height


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


@functools.lru_cache(maxsize=256)
def png_image(seed: str, width: int = 480, height: int = 270) -> bytes:
    """A deterministic RGB PNG of ``width`` x ``height`` for ``seed`` (~20 KB at 480x270)."""
    step = 3 * width // 4  # a row is a quarter-width run of noise repeated 4 times
    bands = height // 5 + 1  # in bands of 5 identical rows
    noise = hashlib.shake_256(seed.encode()).digest(step * bands)
    rows = []
    for y in range(height):
        run = noise[(y // 5) * step : (y // 5 + 1) * step]
        rows.append(b"\x00" + (run * 4)[: 3 * width])
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 1))
        + _chunk(b"IEND", b"")
    )


_RULES = (
    "{sel} {{ margin: 0 auto; padding: {a}px {b}px; color: #{c:06x}; line-height: 1.{d}; }}",
    "{sel} img {{ max-width: 100%; height: auto; display: block; border-radius: {a}px; }}",
    "@media (max-width: {w}px) {{ {sel} {{ font-size: {d}px; padding: {b}px; }} }}",
    "{sel}:hover {{ background: #{c:06x}; outline: {a}px solid rgba(0,0,0,.{d}); }}",
)


@functools.lru_cache(maxsize=64)
def stylesheet(seed: str, size: int = 30_000) -> bytes:
    """A stylesheet of about ``size`` bytes: plausible rules, deterministic for a seed."""
    h = hashlib.shake_256(seed.encode()).digest(4096)
    out = [f"/* {seed} */\nbody {{ font-family: Georgia, serif; margin: 0; }}\n"]
    n, total = 0, 0
    while total < size:
        b = h[n % len(h)]
        rule = _RULES[n % len(_RULES)].format(
            sel=f".c{seed[-4:]}-{n}",
            a=b % 24,
            b=(b * 7) % 40,
            c=(b * 65599 + n) & 0xFFFFFF,
            d=b % 9 + 1,
            w=480 + b * 4,
        )
        out.append(rule + "\n")
        total += len(rule) + 1
        n += 1
    return "".join(out).encode()


@functools.lru_cache(maxsize=64)
def script(seed: str, size: int = 12_000) -> bytes:
    """A harmless script of about ``size`` bytes that marks the page as scripted."""
    h = hashlib.shake_256(seed.encode()).hexdigest(size // 4)
    return (
        f"/* {seed} */\n(function () {{ var s = '{h}';\n"
        "  document.documentElement.setAttribute('data-scripted', String(s.length));\n})();\n"
    ).encode()
