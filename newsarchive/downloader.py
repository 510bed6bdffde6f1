"""Scrapy's downloader with each download slot's concurrency enforced under asyncio.

Scrapy 2.19's ``Downloader._process_queue`` hands every queued request to
``_schedule_coro`` while ``slot.free_transfer_slots() > 0``; under the asyncio reactor
that only creates a task, and the request joins ``slot.transferring`` when the task first
runs, so one pass starts the whole queue. Page requests are still bounded by the engine
(``CONCURRENT_REQUESTS``), but requisites come through ``engine.download_async``, which has
no such bound: a burst of article pages put 45 transfers on one host whose slot allows 16
(measured on the replica). Past ``CONCURRENT_REQUESTS_PER_DOMAIN`` (also the size of the
HTTP/1.1 connection pool per host) each extra transfer opened a new connection, and TLS
handshake, that the pool then dropped: 50 connections for 96 requests.

Here a request joins ``slot.transferring`` when it is taken off the queue; Scrapy's
``_download`` adds it again (a set: no change) and removes it when the download ends.
"""

from __future__ import annotations

from time import monotonic

from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro


class BoundedDownloader(Downloader):
    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall:
            return
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # the one change: counted before the task runs
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break
