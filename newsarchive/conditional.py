"""Conditional GET: what the archive already holds is asked for with its validators, and an
unchanged answer costs a 304 and a small revisit record.

``ConditionalGetMiddleware`` looks every GET up in the WARC writer's index of earlier
captures (read from the CDXJ files beside the WARCs, so it survives a killed run and is
rebuilt with them). When the latest full capture of the URL carried an ``ETag`` or a
``Last-Modified``, the request goes out with ``If-None-Match`` / ``If-Modified-Since``.

A 304 answer is archived by the WarcWriter as a ``server-not-modified`` revisit of that
capture, and this middleware then answers it from the archive, as an HTTP cache would: the
spider callback or robots.txt parser gets the stored response, flagged ``not_modified``.
So an unchanged feed is still read (the seen-set decides what is new; nothing is skipped
because a run was killed before it fetched what the feed listed), an unchanged article is
counted and not extracted again, and robots.txt rules come from the stored copy. Page
requisites are not read back: nothing parses their bodies.

Settings: ``NEWSARCHIVE_CONDITIONAL_ENABLED`` (default True). Without the WARC writer, or
with ``NEWSARCHIVE_WARC_REVISITS`` off, no request is made conditional.
"""

from __future__ import annotations

import logging

from scrapy.exceptions import NotConfigured
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes

from newsarchive.warc.writer import archived_record, is_conditional, revalidation

logger = logging.getLogger(__name__)

STAT = "newsarchive/conditional"
NOT_MODIFIED = "not_modified"  # the flag on a response answered from the archive


class ConditionalGetMiddleware:
    """Downloader middleware: validators out, 304s answered from the archive."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("NEWSARCHIVE_CONDITIONAL_ENABLED", True):
            raise NotConfigured
        return cls(crawler)

    def process_request(self, request):
        if request.method != "GET" or is_conditional(request):
            return None
        prior = revalidation(self.crawler, request.url)
        if prior is None:
            return None
        if prior.etag:
            request.headers[b"If-None-Match"] = prior.etag
        if prior.modified:
            request.headers[b"If-Modified-Since"] = prior.modified
        self.stats.inc_value(f"{STAT}/requests")
        return None

    def process_response(self, request, response):
        if response.status != 304 or not is_conditional(request):
            return response
        self.stats.inc_value(f"{STAT}/not_modified")
        if request.meta.get("requisite"):
            return response
        prior = revalidation(self.crawler, request.url)
        if prior is None:
            return response
        try:
            rec = archived_record(self.crawler, prior)
        except Exception as exc:  # noqa: BLE001 - a lost or damaged WARC: keep the 304
            self.stats.inc_value(f"{STAT}/archive_misses")
            logger.warning("304 for %s not answered from the archive: %s", request.url, exc)
            return response
        headers = Headers()
        for name, value in rec.http_headers:
            headers.appendlist(name, value)
        body = rec.payload or b""
        cls = responsetypes.from_args(headers=headers, url=response.url, body=body)
        self.stats.inc_value(f"{STAT}/from_archive")
        return cls(
            url=response.url,
            status=rec.status or 200,
            headers=headers,
            body=body,
            flags=[*response.flags, NOT_MODIFIED],
            request=request,
            protocol=response.protocol,
            ip_address=response.ip_address,
        )
