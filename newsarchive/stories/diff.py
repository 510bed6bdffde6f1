"""Word-level diff of a story member against its origin."""

from __future__ import annotations

import difflib
import re

_TOKEN = re.compile(r"\S+")


def word_diff(a: str, b: str) -> list[tuple[str, str]]:
    """Turn ``a`` into ``b`` as runs of words: ("=", kept), ("-", only in a), ("+", only in b).
    Runs of one op are joined by single spaces; line breaks count as spaces."""
    wa, wb = _TOKEN.findall(a or ""), _TOKEN.findall(b or "")
    sm = difflib.SequenceMatcher(None, wa, wb, autojunk=False)
    out: list[tuple[str, str]] = []

    def emit(op: str, words: list[str]) -> None:
        if not words:
            return
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + " " + " ".join(words))
        else:
            out.append((op, " ".join(words)))

    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            emit("=", wa[i1:i2])
        else:
            emit("-", wa[i1:i2])
            emit("+", wb[j1:j2])
    return out


def render(ops: list[tuple[str, str]], color: bool = False) -> str:
    """One string: removed words as [-…-], added as {+…+} (or red/green with ``color``)."""
    parts = []
    for op, text in ops:
        if op == "=":
            parts.append(text)
        elif op == "-":
            parts.append(f"\033[31m[-{text}-]\033[0m" if color else f"[-{text}-]")
        else:
            parts.append(f"\033[32m{{+{text}+}}\033[0m" if color else f"{{+{text}+}}")
    return " ".join(parts)
