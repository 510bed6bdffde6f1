"""The offline replica: real sockets, real TLS through CONNECT, real Scrapy in a subprocess."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from lxml import etree, html

from newsarchive.registry import load_outlets
from newsarchive.replica import Replica
from newsarchive.urls import canonicalize_url, primary_host_map

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
ATOM = "{http://www.w3.org/2005/Atom}"


def fetch(r: Replica, url: str, headers: dict | None = None, ctx: ssl.SSLContext | None = None):
    """GET ``url`` through the replica's proxy the way a client would (CONNECT for https)."""
    port = int(r.proxy_url.rsplit(":", 1)[1])
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            "127.0.0.1",
            port,
            timeout=10,
            context=ctx or ssl.create_default_context(cafile=r.ca_file()),
        )
        conn.set_tunnel(parts.hostname, 443)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        target = url
    conn.request("GET", target, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, resp.getheaders(), body


@pytest.fixture(scope="module")
def fixed():
    r = Replica(seed=0, now=NOW)
    r.start()
    yield r
    r.stop()


def test_https_via_connect_verifies_with_the_replica_ca(fixed):
    status, headers, body = fetch(fixed, "https://nypost.com/robots.txt")
    assert status == 200
    assert b"Sitemap: https://nypost.com/news-sitemap.xml" in body
    assert b"Disallow: /search/" in body
    sent = [s for s in fixed.sent if s.url == "https://nypost.com/robots.txt"][-1]
    assert sent.status == 200 and sent.host == "nypost.com" and sent.method == "GET"


def test_plain_http_redirects_to_https_and_bare_host_to_www(fixed):
    status, headers, _ = fetch(fixed, "http://nypost.com/robots.txt")
    assert status == 301 and dict(headers)["Location"] == "https://nypost.com/robots.txt"
    art = fixed.truth("mirror")[0].url
    status, headers, _ = fetch(fixed, art.replace("//www.", "//"))
    assert status == 301 and dict(headers)["Location"] == art


def test_unknown_path_is_404_with_html(fixed):
    status, headers, body = fetch(fixed, fixed.edge_cases["not_found"])
    assert status == 404 and b"<html" in body and "text/html" in dict(headers)["Content-Type"]


def test_unregistered_host_is_refused_clearly(fixed):
    status, _, body = fetch(fixed, "http://example.org/")
    assert status == 403 and b"example.org is not a registered outlet" in body
    with pytest.raises(OSError, match="403"):
        fetch(fixed, "https://example.org/")
    refused = [s for s in fixed.sent if s.method == "CONNECT"][-1]
    assert refused.status == 403 and b"nothing leaves loopback" in refused.body


def _sample_urls(r: Replica) -> list[str]:
    o = r.outlets
    return [
        r.truth("nypost")[3].url,
        o["nypost"].news_sitemaps[0],
        o["cbc"].feeds[0],
        o["mirror"].sections[0],
        o["mirror"].sitemaps[0],
        r.edge_cases["sitemap_gz"],
        r.truth("standard")[1].url,
        o["politicoeu"].feeds[0],
        r.edge_cases["binary"],
    ]


def test_same_seed_same_bytes_other_seed_differs(fixed):
    twin = Replica(seed=0, now=NOW)
    other = Replica(seed=1, now=NOW)
    for url in _sample_urls(fixed):
        mine = fetch(fixed, url)
        assert mine[0] == 200, url
        assert twin.handle("GET", url).body == fixed.handle("GET", url).body, url
    assert [a.url for a in twin.truth("guardian")] == [a.url for a in fixed.truth("guardian")]
    assert [a.title for a in other.truth("guardian")] != [a.title for a in fixed.truth("guardian")]
    a0, b0 = fixed.truth("nypost")[0], other.truth("nypost")[0]
    assert a0.paragraphs != b0.paragraphs


def test_every_article_url_is_an_article_of_its_outlet():
    r = Replica(seed=3, now=NOW, articles_per_outlet=40)
    for key, outlet in r.outlets.items():
        truths = r.truth(key)
        arts = [t for t in truths if t.kind == "article"]
        assert len(arts) == 40, key
        assert len({t.title for t in arts}) == 40, key
        for t in arts:
            assert outlet.is_article_url(t.url), (key, t.url)
        for t in truths:
            if t.kind in ("video", "gallery", "live", "tag", "excluded"):
                assert not outlet.is_article_url(t.url), (key, t.kind, t.url)
        assert any(t.in_window for t in arts) and not all(t.in_window for t in arts)


def _xml(r: Replica, url: str):
    resp = r.handle("GET", url)
    assert resp.status == 200, (url, resp.status)
    body = gzip.decompress(resp.body) if urlsplit(url).path.endswith(".gz") else resp.body
    return etree.fromstring(body)


def _served(r: Replica, url: str) -> bool:
    if url == r.edge_cases["retry_after"]:  # its first request is a 429; tested on its own
        return True
    return r.handle("GET", url).status == 200


def test_discovery_documents_parse_and_match_the_truth(fixed):
    r = fixed
    broken = {r.edge_cases["malformed_sitemap"], r.edge_cases["sitemap_404"]}
    hosts = primary_host_map({k: o.domains for k, o in r.outlets.items()})
    for key, outlet in r.outlets.items():
        truth = r.truth(key)
        want = {
            src: {t.url for t in truth if src in t.discovered_in}
            for src in ("news_sitemap", "sitemap", "feed", "section")
        }
        got = {src: set() for src in want}
        for url in outlet.news_sitemaps:
            root = _xml(r, url)
            for u in root.iter(f"{SM}url"):
                assert u.find(f"{NEWS}news/{NEWS}publication_date").text
                assert u.find(f"{NEWS}news/{NEWS}title").text
                assert u.find(f"{NEWS}news/{NEWS}publication/{NEWS}name").text == outlet.name
                got["news_sitemap"].add(u.findtext(f"{SM}loc"))
        for url in outlet.sitemaps:
            root = _xml(r, url)
            assert root.tag == f"{SM}sitemapindex"
            for child in root.iter(f"{SM}sitemap"):
                assert child.findtext(f"{SM}lastmod")
                loc = child.findtext(f"{SM}loc")
                if loc in broken:
                    continue
                got["sitemap"] |= {u.findtext(f"{SM}loc") for u in _xml(r, loc).iter(f"{SM}url")}
        for url in outlet.feeds:
            if url == r.edge_cases["feed_as_html"]:
                continue
            root = _xml(r, url)
            if root.tag == f"{ATOM}feed":
                for e in root.iter(f"{ATOM}entry"):
                    assert e.findtext(f"{ATOM}updated") and e.findtext(f"{ATOM}published")
                    got["feed"].add(e.find(f"{ATOM}link").get("href"))
            else:
                assert root.tag == "rss" and root.get("version") == "2.0"
                for item in root.iter("item"):
                    assert item.findtext("pubDate")
                    got["feed"].add(item.findtext("link"))
        for url in outlet.sections:
            doc = html.fromstring(r.handle("GET", url).body)
            for href in doc.xpath("//a/@href"):
                canon = canonicalize_url(urljoin(url, href), hosts)
                if r.truth_for(canon):
                    got["section"].add(canon)
        assert got == want, key
        for urls in got.values():
            for u in urls:
                assert _served(r, u), u


def test_feed_and_sitemap_filters_and_kinds(fixed):
    mirror = fixed.outlets["mirror"]
    root = _xml(fixed, mirror.sitemaps[0])
    kids = [c.findtext(f"{SM}loc") for c in root.iter(f"{SM}sitemap")]
    followed = [k for k in kids if mirror.follows_sitemap(k)]
    assert 0 < len(followed) < len(kids)
    assert any(k.endswith(".xml.gz") for k in followed)
    olds = [t for t in fixed.truth("mirror") if "sitemap" in t.discovered_in and not t.in_window]
    assert olds, "child sitemaps also list articles outside the 3-day window"
    guardian = fixed.truth("guardian")
    assert {s for t in guardian for s in t.discovered_in} == {"news_sitemap"}
    cbc = fixed.truth("cbc")
    assert {s for t in cbc for s in t.discovered_in} == {"feed"}


def test_gzip_chunked_and_conditional_get(fixed):
    r = fixed
    url = r.edge_cases["gzip"]
    status, headers, body = fetch(r, url, {"Accept-Encoding": "gzip"})
    assert status == 200 and dict(headers).get("Content-Encoding") == "gzip"
    plain = gzip.decompress(body)
    assert b"<html" in plain
    sent = [s for s in r.sent if s.url == url][-1]
    assert sent.body == body and ("Content-Encoding", "gzip") in sent.headers
    status, headers, body = fetch(r, url)  # no Accept-Encoding: identity
    assert "Content-Encoding" not in dict(headers) and body == plain

    url = r.edge_cases["chunked"]
    status, headers, body = fetch(r, url)
    assert dict(headers).get("Transfer-Encoding") == "chunked" and "Content-Length" not in dict(
        headers
    )
    assert [s for s in r.sent if s.url == url][-1].body == body

    feed = r.outlets["cbc"].feeds[0]
    status, headers, body = fetch(r, feed)
    h = dict(headers)
    etag, last_mod = h["ETag"], h["Last-Modified"]
    status, headers, body = fetch(r, feed, {"If-None-Match": etag})
    assert status == 304 and body == b""
    status, _, body = fetch(r, feed, {"If-Modified-Since": last_mod})
    assert status == 304 and body == b""
    status, _, _ = fetch(r, feed, {"If-None-Match": '"other"'})
    assert status == 200


def test_publish_and_update_change_feeds_and_sitemaps():
    r = Replica(seed=5, now=NOW)
    feed = r.outlets["cbc"].feeds[0]
    before = r.handle("GET", feed)
    etag = dict(before.headers)["ETag"]
    new = r.publish("cbc", 2)
    assert len(new) == 2 and all(t.in_window and t.kind == "article" for t in new)
    after = r.handle("GET", feed, [("If-None-Match", etag)])
    assert after.status == 200
    all_feeds = b"".join(r.handle("GET", f).body for f in r.outlets["cbc"].feeds)
    for t in new:
        assert escape(t.url).encode() in all_feeds and "feed" in t.discovered_in
        assert r.handle("GET", t.url).status == 200

    news = r.outlets["nypost"].news_sitemaps[0]
    fresh = r.publish("nypost", 1)[0]
    assert fresh.url.encode() in r.handle("GET", news).body

    old = {t.url: t for t in r.truth("mirror")}
    changed = r.update("mirror", 2)
    assert len(changed) == 2
    child_text = b"".join(
        r.handle("GET", c.findtext(f"{SM}loc")).body
        if not c.findtext(f"{SM}loc").endswith(".gz")
        else gzip.decompress(r.handle("GET", c.findtext(f"{SM}loc")).body)
        for c in _xml(r, r.outlets["mirror"].sitemaps[0]).iter(f"{SM}sitemap")
    )
    for t in changed:
        prev = old[t.url]
        assert t.modified > prev.modified and t.paragraphs != prev.paragraphs
        assert f"<loc>{t.url}</loc><lastmod>{t.modified}</lastmod>".encode() in child_text
        page = r.handle("GET", t.url).body.decode()
        assert escape(t.paragraphs[0], quote=True) in page and t.modified in page


def test_truth_paragraphs_captions_credits_are_on_the_page(fixed):
    families_seen = set()
    for key in fixed.outlets:
        site = fixed.sites[key]
        for t in fixed.truth(key)[-3:-1] + [fixed.truth(key)[0]]:
            if t.kind != "article":
                continue
            resp = fixed.handle("GET", t.url)
            charset = "cp1252" if key == "standard" else "utf-8"
            page = resp.body.decode(charset)
            families_seen.add(site.style.family)
            assert t.paragraphs and len(t.captions) == len(t.credits) >= 2
            for text in t.paragraphs + t.captions + t.credits:
                assert escape(text) in page, (key, text)
            assert t.text == "\n".join(t.paragraphs)
            assert len(set(t.captions)) == len(t.captions) and len(set(t.credits)) == len(t.credits)
            doc = html.fromstring(resp.body)
            ld = json.loads(doc.xpath('//script[@type="application/ld+json"]/text()')[0])
            assert ld["headline"] == t.title and ld["datePublished"] == t.published
            assert [a["name"] for a in ld["author"]] == t.authors
            assert doc.xpath('//link[@rel="canonical"]/@href') == [t.url]
            for b in t.bullets:
                assert b not in t.paragraphs
    assert len(families_seen) >= 8


def test_nypost_captions_and_credits_sit_between_paragraphs(fixed):
    t = next(
        t for t in fixed.truth("nypost") if t.kind == "article" and any(f[2] > 0 for f in t.figures)
    )
    doc = html.fromstring(fixed.handle("GET", t.url).body)
    body = doc.xpath('//div[contains(@class,"entry-content")]')[0]
    tags = [el.tag for el in body]
    first_p = tags.index("p")
    assert "figure" in tags[first_p + 1 :]
    assert body.xpath(".//figcaption/span[@class='credit']")


def test_wire_edge_cases(fixed):
    r, ec = fixed, fixed.edge_cases
    for key in (
        "gzip",
        "chunked",
        "redirect",
        "query_string",
        "set_cookie_twice",
        "windows_1252",
        "binary",
        "not_found",
        "malformed_sitemap",
        "feed_as_html",
        "sitemap_404",
        "sitemap_gz",
        "retry_after",
        "challenge",
        "paywall",
        "empty",
    ):
        assert key in ec
    status, headers, _ = fetch(r, ec["redirect"])
    assert status in (301, 302) and dict(headers)["Location"].startswith("https://")
    status, headers, _ = fetch(r, ec["set_cookie_twice"])
    assert [k for k, _ in headers].count("Set-Cookie") == 2
    status, headers, body = fetch(r, ec["windows_1252"])
    assert dict(headers)["Content-Type"] == "text/html; charset=windows-1252"
    assert b"\x93" in body and b"\x94" in body and b"\xa3" in body
    status, headers, body = fetch(r, ec["binary"])
    assert dict(headers)["Content-Type"] == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"
    status, _, body = fetch(r, ec["malformed_sitemap"])
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(body)
    assert fetch(r, ec["sitemap_404"])[0] == 404
    status, headers, _ = fetch(r, ec["feed_as_html"])
    assert status == 200 and dict(headers)["Content-Type"].startswith("text/html")
    status, headers, body = fetch(r, ec["sitemap_gz"])
    assert etree.fromstring(gzip.decompress(body)).tag == f"{SM}urlset"
    assert fetch(r, ec["query_string"])[0] == 200 and "?" in ec["query_string"]
    first = fetch(r, ec["retry_after"])
    assert first[0] == 429 and dict(first[1])["Retry-After"] == "1"
    assert fetch(r, ec["retry_after"])[0] == 200
    for kind in ("challenge", "paywall", "empty"):
        assert fetch(r, ec[kind])[0] == 200
        t = r.truth_for(ec[kind])
        assert t.kind == kind and "section" in t.discovered_in


def test_robots_disallow_and_crawl_delay():
    r = Replica(seed=0, now=NOW, crawl_delay={"nypost": 2.5})
    robots = r.handle("GET", "https://nypost.com/robots.txt").body.decode()
    assert "Crawl-delay: 2.5" in robots
    assert "Crawl-delay" not in r.handle("GET", "https://www.cbc.ca/robots.txt").body.decode()
    assert "Sitemap:" not in r.handle("GET", "https://www.theguardian.com/robots.txt").body.decode()
    section = r.handle("GET", r.outlets["nypost"].sections[0]).body.decode()
    assert 'href="/search/' in section and 'href="/private/' in section


def test_sixteen_plus_concurrent_connections(fixed):
    urls = [t.url for t in fixed.truth("nypost")] + [fixed.outlets["nypost"].feeds[0]]
    ctx = ssl.create_default_context(cafile=fixed.ca_file())
    errors, done = [], []

    def worker(i):
        try:
            for j in range(6):
                status, _, _ = fetch(fixed, urls[(i + j) % len(urls)], ctx=ctx)
                assert status == 200
                done.append(1)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    elapsed = time.perf_counter() - start
    assert not errors and len(done) == 24 * 6
    print(
        f"replica: {len(done)} HTTPS requests over fresh CONNECT tunnels in {elapsed:.2f}s "
        f"({len(done) / elapsed:.0f}/s)"
    )


def test_large_scale_is_lazy_and_paginated():
    r = Replica(seed=0, now=NOW, articles_per_outlet=100_000)
    start = time.perf_counter()
    root = _xml(r, r.outlets["mirror"].sitemaps[0])
    kids = [c.findtext(f"{SM}loc") for c in root.iter(f"{SM}sitemap")]
    assert len(kids) >= 100
    child = _xml(r, kids[5])
    assert len(child.findall(f"{SM}url")) == 1000
    assert len(_xml(r, r.outlets["mirror"].news_sitemaps[0]).findall(f"{SM}url")) <= 1001
    assert r.handle("GET", child.find(f"{SM}url").findtext(f"{SM}loc")).status == 200
    # generous: an eager replica takes minutes here; parallel test workers slow the lazy one
    assert time.perf_counter() - start < 60


SPIDER = """
import json, sys, scrapy
from scrapy.crawler import CrawlerProcess

class Probe(scrapy.Spider):
    name = "probe"
    start_urls = sys.argv[2:]
    def parse(self, response):
        yield {"url": response.url, "status": response.status, "len": len(response.body)}

out = []
process = CrawlerProcess({"LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": True, "RETRY_ENABLED": False,
                          "TELNETCONSOLE_ENABLED": False, "HTTPERROR_ALLOW_ALL": True,
                          "ITEM_PIPELINES": {}, "FEEDS": {sys.argv[1]: {"format": "jsonlines"}}})
process.crawl(Probe)
process.start()
"""


def test_real_scrapy_crawl_through_the_proxy(fixed, tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(SPIDER)
    out = tmp_path / "items.jl"
    article = fixed.truth("nypost")[-1].url
    env = {**os.environ, **fixed.env()}
    proc = subprocess.run(
        [sys.executable, str(script), str(out), "https://nypost.com/robots.txt", article],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    items = {i["url"]: i for i in map(json.loads, out.read_text().splitlines())}
    assert items[article]["status"] == 200 and items[article]["len"] > 1000
    assert items["https://nypost.com/robots.txt"]["status"] == 200
    assert any(s.url == article and s.status == 200 for s in fixed.sent)


def test_registry_hosts_all_served():
    r = Replica(seed=0, now=NOW)
    for key, outlet in load_outlets().items():
        for url in outlet.discovery_urls:
            assert r.handle("GET", url).status == 200, (key, url)


def test_cli_serves_until_interrupted(tmp_path):
    import signal

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsarchive",
            "replica",
            "--port",
            "0",
            "--scale",
            "5",
            "--seed",
            "4",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        proxy = ""
        for _ in range(10):
            line = proc.stdout.readline()
            if line.startswith("proxy: "):
                proxy = line.split()[1]
            if line.startswith("example: "):
                assert f"https_proxy={proxy}" in line and "scrapy crawl nypost" in line
                break
        port = int(proxy.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "http://www.cbc.ca/robots.txt")
        assert conn.getresponse().status == 301
        conn.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        assert "served 1 responses" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_gallery_is_a_slideshow_with_exact_captions(fixed):
    for key in ("nypost", "bbc", "cnbc"):
        t = next(t for t in fixed.truth(key) if t.kind == "gallery")
        doc = html.fromstring(fixed.handle("GET", t.url).body)
        slides = doc.xpath('//div[contains(@class,"slideshow")]/div[@class="slide"]')
        assert len(slides) == len(t.captions) == 4
        credits = [s.xpath('.//span[@class="slide-credit"]/text()')[0] for s in slides]
        captions = [s.xpath('.//div[@class="slide-caption"]/text()')[0].strip() for s in slides]
        assert credits == t.credits and captions == t.captions
        assert not fixed.outlets[key].is_article_url(t.url)


def _leaf_names(r: Replica, sni: str | None) -> list[str]:
    """The DNS names of the certificate the replica shows a client sending ``sni``."""
    import socket

    port = int(r.proxy_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"CONNECT www.theguardian.com:443 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 200")
        ctx = ssl.create_default_context(cafile=r.ca_file())
        ctx.check_hostname = sni is not None  # verified either way against the replica CA
        with ctx.wrap_socket(raw, server_hostname=sni) as tls:
            return [v for k, v in tls.getpeercert()["subjectAltName"] if k == "DNS"]


def test_each_outlet_gets_its_own_certificate_by_sni(fixed):
    # Real sites show a certificate naming a few hosts; one naming every registry host made
    # each client's hostname check walk ~80 names per handshake.
    guardian = sorted(h for h, k in fixed.hosts.items() if k == "guardian")
    assert sorted(_leaf_names(fixed, "www.theguardian.com")) == guardian
    assert sorted(_leaf_names(fixed, "i.guim.co.uk")) == guardian  # the outlet's CDN host
    assert len(guardian) < 10
    # No SNI: the one certificate naming every host, as before.
    assert sorted(_leaf_names(fixed, None)) == sorted(fixed.hosts)
    # And a verifying client still gets its page through an outlet's certificate.
    status, _h, _b = fetch(fixed, "https://www.theguardian.com/robots.txt")
    assert status == 200
