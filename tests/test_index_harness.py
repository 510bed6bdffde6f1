"""Support for the index tests: a real Scrapy crawl (in a subprocess) whose test spider plays
the WARC writer and the extractor, sending ``capture_recorded`` and yielding page items with
``article`` dicts into the real ``IndexPipeline``.

Run as ``python tests/test_index_harness.py CONFIG.json``. Every item the index pipeline has
accepted is acknowledged (its capture id appended to ``ack`` by a later pipeline), so a test
can check that nothing acknowledged is lost even after SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = (
    "river bridge council election budget harbour storm energy school hospital market "
    "railway museum festival court police minister coast forest farm mayor vote tax "
    "police union strike airport league match goal coach season water power price fuel"
).split()
OUTLETS = ("nypost", "mirror", "bbc")


def synthetic_article(i: int, words: int = 60) -> dict:
    """Deterministic article number ``i``: LCG-picked words; every 10th mentions 'zeppelin'."""
    x, out = i * 2654435761 % 2**32, []
    for _ in range(words):
        x = (1103515245 * x + 12345) % 2**31
        out.append(WORDS[x % len(WORDS)])
    if i % 10 == 0:
        out[5] = "zeppelin"
    published = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i % 360, hours=i % 24)
    return {
        "title": f"Story {i} about {out[0]} and {out[1]}",
        "subtitle": None,
        "text": " ".join(out).capitalize() + ".",
        "authors": [f"Writer {i % 7}"],
        "published": published.isoformat(),
        "modified": None,
        "section": "news",
        "tags": [out[2], out[3]],
        "language": "en",
        "captions": [],
        "word_count": words,
        "is_article": i % 50 != 7,
        "page_type": "article" if i % 50 != 7 else "liveblog",
        "paywalled": False,
        "extractor_version": "test",
        "text_source": "trafilatura",
        "title_source": "og",
        "date_source": "jsonld",
    }


def capture_for(i: int, prefix: str = "t") -> dict:
    outlet = OUTLETS[i % len(OUTLETS)]
    url = f"https://{outlet}.example/2024/01/01/story-{i}"
    return {
        "id": f"<urn:uuid:{prefix}-{i:08d}>",
        "url": url,
        "canonical_url": url,
        "outlet": outlet,
        "fetched_at": datetime(2024, 6, 1, tzinfo=UTC) + timedelta(seconds=i),
        "status": 200,
        "mime": "text/html",
        "payload_digest": f"sha1:{i:032d}",
        "record_type": "response",
        "refers_to": None,
        "warc_filename": "test-00000.warc.gz",
        "warc_offset": i * 1000,
        "warc_length": 999,
        "discovered_via": {"source": "feed", "source_url": f"https://{outlet}.example/feed"},
    }


def main(config: dict) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    from newsarchive.signals import capture_recorded

    class AckPipeline:
        """Runs after IndexPipeline: the item is in the spool once it gets here."""

        def __init__(self) -> None:
            self.f = open(config["ack"], "a", encoding="utf-8")  # noqa: SIM115

        def process_item(self, item):
            self.f.write(item["capture_id"] + "\n")
            self.f.flush()
            return item

    class GenSpider(scrapy.Spider):
        name = "gen"

        async def start(self):
            n, delay = config["n"], config.get("delay", 0.0)
            pause_after = config.get("pause_after")
            for i in range(config.get("first", 0), config.get("first", 0) + n):
                cap = capture_for(i, config.get("prefix", "t"))
                self.crawler.signals.send_catch_log(signal=capture_recorded, capture=cap)
                item = {k: cap[k] for k in ("url", "canonical_url", "outlet", "fetched_at")}
                item.update(kind="page", capture_id=cap["id"], status=200)
                if i % 97 == 3:
                    item["extract_error"] = {"kind": "timeout", "detail": "took too long"}
                else:
                    item["article"] = synthetic_article(i)
                yield item
                if pause_after is not None and i + 1 == pause_after:
                    await asyncio.sleep(config["pause"])
                    Path(config["ack"] + ".paused").write_text("1")
                if delay:
                    await asyncio.sleep(delay)

    settings = {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "NEWSARCHIVE_DB": config["db"],
        "NEWSARCHIVE_INDEX_BATCH_SIZE": config.get("batch_size", 500),
        "NEWSARCHIVE_INDEX_BATCH_SECONDS": config.get("batch_seconds", 5),
        "NEWSARCHIVE_INDEX_FTS": config.get("fts", True),
        "ITEM_PIPELINES": {
            "newsarchive.index.pipeline.IndexPipeline": 800,
            AckPipeline: 900,
        },
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(GenSpider)
    process.crawl(crawler)
    process.start()
    stats = {k: v for k, v in crawler.stats.get_stats().items() if k.startswith("newsarchive/")}
    Path(config["stats"]).write_text(json.dumps(stats, default=str))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main(json.loads(Path(sys.argv[1]).read_text()))
