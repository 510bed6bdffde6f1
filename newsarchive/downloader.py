"""A downloader whose per-host slots hold their concurrency under the asyncio reactor.

Scrapy 2.19 counts a request in ``slot.transferring`` only once its download task first
runs, while the loop that drains a slot's queue checks ``free_transfer_slots()`` as it goes:
under asyncio that loop starts the whole queue in one pass. Pages are still bounded by
``CONCURRENT_REQUESTS``, but page requisites arrive through ``engine.download_async``, which
nothing else bounds: on the replica one host got 45 transfers on a slot of 16, and every
transfer past the HTTP/1.1 pool's size per host opened (and then dropped) a new connection
with its TLS handshake. Here a request counts as transferring as soon as it leaves the
queue; Scrapy's own ``_download`` adds it again (a set) and removes it when it ends.
"""

from __future__ import annotations

from collections import deque

from scrapy.core.downloader import Downloader, Slot


class _CountedQueue(deque):
    """A slot's queue that marks each request it hands out as transferring."""

    def __init__(self, slot: Slot) -> None:
        super().__init__(slot.queue)
        self.slot = slot

    def popleft(self):
        item = super().popleft()
        self.slot.transferring.add(item[0])
        return item


class BoundedDownloader(Downloader):
    def _process_queue(self, slot: Slot) -> None:
        if not isinstance(slot.queue, _CountedQueue):
            slot.queue = _CountedQueue(slot)
        super()._process_queue(slot)
