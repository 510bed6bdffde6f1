"""Many crawl workers, one shared Redis frontier, one archive.

Built on scrapy-redis (its scheduler, dupefilter and queue encoding), extended with leases
so a request taken by a worker that dies goes back to the queue, fleet-wide politeness in
Redis, per-outlet run locks in Redis, and per-worker WARC files and index spools that
``newsarchive ingest`` merges into the one DuckDB archive. See docs/SCALING.md.
"""

from newsarchive.fleet.keys import FleetKeys, connect
from newsarchive.fleet.seed import RunLockHeld, seed_outlets
from newsarchive.fleet.status import FleetStatus, fleet_status

__all__ = ["FleetKeys", "FleetStatus", "RunLockHeld", "connect", "fleet_status", "seed_outlets"]
