"""Redis key names of one fleet (all under one prefix) and the connection helper."""

from __future__ import annotations

from dataclasses import dataclass

import redis

DEFAULT_PREFIX = "na"


WORKER_SOCKET_TIMEOUT = 5.0  # a worker's calls run on its reactor: an unanswered one stalls it


def connect(url: str, timeout: float = 30.0) -> redis.Redis:
    """A client for ``url`` (redis://host:port/db); bytes in, bytes out."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=min(10.0, timeout)
    )


@dataclass(frozen=True)
class FleetKeys:
    prefix: str = DEFAULT_PREFIX

    # scrapy-redis formats these with %(spider)s
    @property
    def queue_template(self) -> str:
        return f"{self.prefix}:q:%(spider)s"

    @property
    def dupefilter_template(self) -> str:
        return f"{self.prefix}:df:%(spider)s"

    def queue(self, outlet: str) -> str:
        return f"{self.prefix}:q:{outlet}"

    def dupefilter(self, outlet: str) -> str:
        return f"{self.prefix}:df:{outlet}"

    def run_dupefilter(self, outlet: str, run_id: str) -> str:
        return f"{self.prefix}:dfrun:{outlet}:{run_id}"

    def leases(self, outlet: str) -> str:
        return f"{self.prefix}:lease:{outlet}"

    def lease_data(self, outlet: str) -> str:
        return f"{self.prefix}:leasedata:{outlet}"

    def run(self, outlet: str) -> str:
        return f"{self.prefix}:run:{outlet}"

    def lock(self, outlet: str) -> str:
        return f"{self.prefix}:lock:{outlet}"

    def host_next(self, host: str) -> str:
        return f"{self.prefix}:host:{host}"

    def host_pause(self, host: str) -> str:
        return f"{self.prefix}:pause:{host}"

    @property
    def crawl_delays(self) -> str:
        return f"{self.prefix}:crawldelay"

    @property
    def revisits(self) -> str:
        return f"{self.prefix}:revisit"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    @property
    def heartbeats(self) -> str:
        return f"{self.prefix}:hb"
