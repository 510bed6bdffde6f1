"""Offline replica of the registry's news outlets: a local HTTP(S) proxy serving synthetic sites.

``Replica(seed, articles_per_outlet, now)`` builds one deterministic site per outlet (robots,
sitemaps, feeds, section fronts, articles in each outlet's markup family) with exact ground
truth, and ``start()`` serves them through a proxy on loopback that answers CONNECT with a
locally issued certificate, so crawls fetch the real ``https://outlet/...`` URLs offline.
"""

from newsarchive.replica.core import Replica
from newsarchive.replica.server import SentResponse
from newsarchive.replica.site import ArticleTruth

__all__ = ["ArticleTruth", "Replica", "SentResponse"]
