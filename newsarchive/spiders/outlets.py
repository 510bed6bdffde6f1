"""One spider per registry entry, named by the outlet key (``scrapy crawl nypost``)."""

from newsarchive.registry import load_outlets
from newsarchive.spiders.news import NewsSpider

for _key in load_outlets():
    globals()[f"{_key.title()}Spider"] = type(
        f"{_key.title()}Spider", (NewsSpider,), {"name": _key, "outlet_key": _key}
    )
