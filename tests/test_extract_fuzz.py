"""1,000 garbage and mutated inputs: extract_article returns None or an Article, never raises."""

from __future__ import annotations

import json
import random
import time

from newsarchive.extract import Article, extract_article

BASE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Storm closes harbour road | Coast Herald</title>
<meta property="og:title" content="Storm closes harbour road">
<meta property="article:published_time" content="2024-02-03T04:05:06Z">
<meta name="author" content="By Ana Ruiz and Tom Reed">
<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
"headline":"Storm closes harbour road","datePublished":"2024-02-03T04:05:06Z",
"author":[{"@type":"Person","name":"Ana Ruiz"}],"articleBody":"The harbour road was closed."}
</script></head><body><nav><a href="/">Home</a></nav><article><h1>Storm closes harbour road</h1>
<p>The harbour road was closed overnight after waves threw stones and seaweed across both
lanes, and police said it would stay shut until engineers had checked the sea wall.</p>
<figure><img src="/a.jpg" alt="road"><figcaption>Waves over the wall.
<span class="credit">Photo: Coast Herald</span></figcaption></figure>
<p>Residents of the lower town were asked to use the hill road, which adds about twenty
minutes to the drive into the centre, and buses will follow the same diversion.</p>
<div class="related-articles"><a href="/x">Read more: sea wall repairs</a></div>
<p>The council said a decision on the longer-term future of the road would be made in
the spring, after a consultation with businesses along the seafront.</p>
</article><footer>Coast Herald</footer></body></html>"""

TAGS = [
    "<div>",
    "</div>",
    "<p>",
    "</p>",
    "<script>",
    "</script>",
    "<!--",
    "-->",
    "<figure>",
    "<table><tr><td>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "<svg>",
    "\x00",
    "<meta charset='utf-16'>",
    '<script type="application/ld+json">{"@type":',
    "\ufeff",
]


def mutate(rng: random.Random, s: str) -> str:
    chars = list(s)
    for _ in range(rng.randint(1, 30)):
        op = rng.random()
        pos = rng.randrange(len(chars) + 1)
        if op < 0.3 and chars:
            del chars[pos - 1 : pos - 1 + rng.randint(1, 200)]
        elif op < 0.6:
            chars[pos:pos] = list(rng.choice(TAGS))
        elif op < 0.8 and len(chars) > 2:
            i, j = sorted(rng.sample(range(len(chars)), 2))
            chars[i:j] = chars[i:j][::-1]
        else:
            chars[pos:pos] = [chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(1, 20))]
    return "".join(chars)


def cases(rng: random.Random):
    yield b""
    yield ""
    yield " \n\t "
    yield b"\x00" * 1000
    yield "<html>"
    yield "<html><body></body></html>"
    yield "<p>" * 10_000 + "deep" + "</p>" * 10_000
    yield "<div>" * 10_000 + "<p>deep text " * 3 + "</div>" * 10_000
    yield f'<html><body><p class="{"x" * 1_000_000}">big attribute</p></body></html>'
    yield f'<html><body><div id="{"caption " * 100_000}"><p>hi</p></div></body></html>'
    yield BASE.encode("utf-16")
    yield BASE.encode("utf-8").replace(b"utf-8", b"no-such-charset")
    yield BASE.encode("latin-1", "replace")
    yield b"\xff\xfe\x00\x00garbage"
    yield BASE.replace("NewsArticle", "VideoObject").encode()
    yield BASE.replace('"headline"', '"headline": [1, {"x": null}], "h"')
    yield BASE.replace("2024-02-03T04:05:06Z", "yesterday at noon")
    yield BASE.replace("Ana Ruiz", "http://example.org/author/ana")
    for n in range(0, len(BASE), 97):  # truncations
        yield BASE[:n]
        yield BASE.encode()[:n]
    while True:
        r = rng.random()
        if r < 0.1:
            yield bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 3000)))
        elif r < 0.15:
            yield "".join(chr(rng.randint(1, 0x10FFFF)) for _ in range(rng.randint(0, 500)))
        else:
            s = mutate(rng, BASE)
            yield s.encode("utf-8", "surrogatepass") if rng.random() < 0.5 else s


def test_thousand_garbage_inputs_never_raise():
    rng = random.Random(20240521)
    t0 = time.perf_counter()
    n = articles = 0
    encodings = [None, "utf-8", "latin-1", "bogus-enc", "utf-16"]
    for html in cases(rng):
        if n >= 1000:
            break
        n += 1
        url = rng.choice([None, "https://example.org/a", "not a url", "https://nypost.com/x"])
        enc = rng.choice(encodings) if isinstance(html, bytes) else None
        art = extract_article(html, url, encoding=enc)
        assert art is None or isinstance(art, Article)
        if art is not None:
            articles += 1
            json.dumps(art.to_dict())
            assert isinstance(art.text, str) and isinstance(art.authors, list)
    assert n == 1000
    assert articles > 500  # most mutations of a real-looking page still give an article
    assert time.perf_counter() - t0 < 240  # a hang guard, generous for parallel test workers
