"""One spider per registry entry, named by the outlet key (``scrapy crawl nypost``)."""

import sys

from newsarchive.registry import RegistryError, load_outlets, registry_path
from newsarchive.spiders.news import NewsSpider

try:
    _outlets = load_outlets()
except (RegistryError, OSError) as _exc:
    # Scrapy imports this module to list spiders: one line instead of its traceback.
    _why = f"{_exc.strerror}" if isinstance(_exc, OSError) and _exc.strerror else str(_exc)
    print(f"error: outlet registry {registry_path()}: {_why}", file=sys.stderr)
    raise SystemExit(2) from None

for _key in _outlets:
    globals()[f"{_key.title()}Spider"] = type(
        f"{_key.title()}Spider", (NewsSpider,), {"name": _key, "outlet_key": _key}
    )
