"""Scrapy settings for newsarchive: polite defaults for crawling real outlets.

The replica and the demo override these through settings (see ``replica_overrides``),
never through code. Every newsarchive setting starts with ``NEWSARCHIVE_``.
"""

from newsarchive import __version__

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["newsarchive.spiders"]
NEWSPIDER_MODULE = "newsarchive.spiders"

# Politeness for real outlets.
USER_AGENT = (
    f"newsarchive/{__version__} (+https://github.com/newsarchive/newsarchive; "
    "news research archive crawler)"
)
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# A response yields at most a page item; Scrapy's default of 100 only spawns idle tasks.
CONCURRENT_ITEMS = 16
DOWNLOAD_DELAY = 1.5
DOWNLOAD_DELAY_JITTER = 0.3  # 1.05-1.95 s between requests to a host
DOWNLOAD_TIMEOUT = 60
# Also the bound on decompressed bodies (a gzip bomb stops here); see docs/FAULTS.md.
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19 starts, per crawler, an HTTP server that runs Python code sent to it (its token
# in a job file under ~/.local/state/scrapy, left behind when a crawl is killed). Off like
# the telnet console; `newsarchive crawl` also drops it from the base extensions
# (newsarchive.crawl.crawl_settings), which spares importing aiohttp at start-up.
REMOTE_CONTROL_ENABLED = False
HTTPERROR_ALLOW_ALL = True  # error pages are archived and recorded, not dropped silently
REFERER_ENABLED = True
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Scrapy's own, with each slot's concurrency enforced under asyncio (see the module).
DOWNLOADER = "newsarchive.downloader.BoundedDownloader"

SPIDER_MIDDLEWARES = {}

DOWNLOADER_MIDDLEWARES = {
    # Honours robots.txt Crawl-delay and Retry-After on 429/503 (Scrapy ignores both).
    "newsarchive.politeness.PolitenessMiddleware": 560,
    # If-None-Match / If-Modified-Since from the archive's earlier captures; a 304 answered
    # from the archive. Above the decompression middleware (590): a stored gzip body is
    # decoded on its way back like a fresh one.
    "newsarchive.conditional.ConditionalGetMiddleware": 595,
    # Fetch faults, each recorded in fetch_errors with its own kind (newsarchive.fetcherrors).
    "newsarchive.fetcherrors.FetchErrorMiddleware": 540,
    "newsarchive.fetcherrors.RedirectLoopMiddleware": 610,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "newsarchive.fetcherrors.BoundedDecompressionMiddleware": 590,
    # After Scrapy's RobotsTxtMiddleware (100): robots.txt downloaded once per host per run.
    "newsarchive.robotsonce.RobotsOnceMiddleware": 110,
    # Below HttpCompressionMiddleware (590): sees article bodies decoded (docs/REPLAY.md).
    "newsarchive.requisites.RequisitesMiddleware": 580,
    # Holds requests while pages wait for the process's extraction pool (back-pressure).
    "newsarchive.extract.shared.ExtractionBackpressureMiddleware": 120,
}

EXTENSIONS = {
    "newsarchive.warc.WarcWriter": 100,
    # Lock and crawl_runs row for spiders started by scrapy crawl / scrapyd.
    "newsarchive.jobs.RunRecorder": 50,
    # A line per outlet (pages, articles, errors); on under `newsarchive crawl` without -v.
    "newsarchive.progress.ProgressLine": 500,
}

ITEM_PIPELINES = {
    "newsarchive.extract.pipeline.ExtractionPipeline": 300,
    "newsarchive.index.pipeline.IndexPipeline": 800,
}

# newsarchive settings (defaults; each component documents its own).
NEWSARCHIVE_MAX_AGE_DAYS = 3.0
NEWSARCHIVE_WARC_DIR = "warc"
NEWSARCHIVE_DB = "archive.duckdb"
NEWSARCHIVE_PROGRESS = False
NEWSARCHIVE_LOG_TRACEBACKS = True  # off under `newsarchive crawl` without -v
# Seconds between the index's merges into the DuckDB file: between them the file is free
# for plain DuckDB readers (see docs/RUNS.md).
NEWSARCHIVE_INDEX_MERGE_INTERVAL = 10.0
NEWSARCHIVE_REQUISITES = "images,css"


def replica_overrides(concurrency: int = 16) -> dict:
    """Settings for crawling the local replica: fast, no politeness delays.

    The proxy itself is handed over through the standard ``http_proxy``/``https_proxy``
    environment variables, which Scrapy's HttpProxyMiddleware reads.
    """
    return {
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "DOWNLOAD_DELAY_JITTER": 0,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
    }
