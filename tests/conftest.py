"""Shared test fixtures and helpers.

``require(ok, what, install)`` skips a test whose real server or tool is missing, with a
message that says what to install; under CI (CI=true) that skip is a failure instead, so
nothing silently drops out of the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "fundus"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(ok: bool, what: str, install: str) -> None:
    """Skip (or under CI, fail) when a real component the test needs is missing."""
    if ok:
        return
    message = f"{what} is not available; install it with: {install}"
    if IN_CI:
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


@pytest.fixture
def corpus_dir() -> Path:
    """The shared corpus of real pages; tests that read it skip cleanly when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent (it is read from there, never committed)")
    return CORPUS


# ---- replica (owned by the replica helper) -----------------------------------------------
@pytest.fixture
def replica():
    """A started offline replica of every outlet (seed 0, 12 articles each, clock = now)."""
    from newsarchive.replica import Replica

    r = Replica(seed=0, articles_per_outlet=12)
    r.start()
    try:
        yield r
    finally:
        r.stop()
