"""newsarchive: a Scrapy news crawler that keeps WARCs and a DuckDB index of clean articles."""

__version__ = "0.1.0"
