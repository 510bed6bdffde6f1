"""The story's HTML inside a script: app pages (Next.js, Nuxt, Arc...) that ship an empty
body and render the article from JSON state. Only used when the page itself gave almost
no text, so the cost (a scan of the inline scripts) stays out of the common path.
"""

from __future__ import annotations

import json
import re

import lxml.html
from lxml import etree

from newsarchive.extract.clean import collect_and_prune

# A JSON string literal long enough to hold a story, with escaped or plain <p> tags.
_LITERAL = re.compile(r'"((?:[^"\\]|\\.){300,})"', re.S)
_PARA = re.compile(r"<p[\s>]|\\u003cp[\s>\\]", re.I)
_BLOCKS = ("p", "h2", "h3", "h4", "blockquote")
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)
MAX_SCAN = 8 * 1024 * 1024


def hydrated_text(raw: bytes | str, extra_selectors: tuple[str, ...] = ()) -> str:
    """Text of the longest HTML story found as a JSON string in an inline script, or ""."""
    html = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    best = ""
    for m in _SCRIPT.finditer(html[:MAX_SCAN]):
        script = m.group(1)
        if len(_PARA.findall(script)) < 3:
            continue
        for lit in _LITERAL.finditer(script):
            s = lit.group(1)
            if len(_PARA.findall(s)) < 3:
                continue
            try:
                value = json.loads(f'"{s}"')
            except ValueError:
                continue
            text = _fragment_text(value, extra_selectors)
            if len(text) > len(best):
                best = text
    return best


def _fragment_text(fragment: str, extra_selectors: tuple[str, ...]) -> str:
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    collect_and_prune(root, extra_selectors)  # captions, credits and boxes, as on a page
    lines = []
    for el in root.iter(_BLOCKS):
        if any(a.tag in _BLOCKS for a in el.iterancestors()):
            continue
        t = " ".join(el.text_content().split())
        if t:
            lines.append(t)
    return "\n".join(lines)
