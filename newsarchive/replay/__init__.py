"""Replay of the archive through pywb, the engine, run from its own virtualenv.

Library API (the CLI verb ``newsarchive replay`` and the web app use it):

- :func:`replay_url` builds a replay link for one capture;
- :class:`ReplayServer` starts pywb on loopback over our own CDXJ indexes and WARC files,
  with Memento TimeGate and TimeMap, and stops it on exit;
- :func:`ensure_pywb` creates ``.venv-pywb`` from ``requirements-pywb.lock`` on first use.
"""

from __future__ import annotations

from newsarchive.replay.access import AccessRules, load_access_rules
from newsarchive.replay.server import (
    PywbUnavailable,
    ReplayServer,
    default_base,
    ensure_pywb,
    replay_url,
)

__all__ = [
    "AccessRules",
    "PywbUnavailable",
    "ReplayServer",
    "default_base",
    "ensure_pywb",
    "load_access_rules",
    "replay_url",
]
