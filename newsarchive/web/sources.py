"""The libraries the pages call, each imported only if this build has it.

An archive (or a checkout) without stories, the query index or pywb still serves every
other page; the missing part says so in a sentence instead of failing.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def _try(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def query() -> ModuleType | None:
    """``newsarchive.query`` (search, count, Scope, QuerySyntaxError...)."""
    mod = _try("newsarchive.query")
    return mod if mod is not None and hasattr(mod, "search") else None


def query_export() -> ModuleType | None:
    return _try("newsarchive.query.export")


def query_index() -> ModuleType | None:
    return _try("newsarchive.query.index")


def stories() -> ModuleType | None:
    """``newsarchive.stories.query`` (list_stories, get_story, story_members, story_of_article)."""
    mod = _try("newsarchive.stories.query")
    return mod if mod is not None and hasattr(mod, "story_members") else None


def word_diff():
    mod = _try("newsarchive.stories.diff")
    return getattr(mod, "word_diff", None) if mod is not None else None


def replay() -> ModuleType | None:
    mod = _try("newsarchive.replay")
    return mod if mod is not None and hasattr(mod, "replay_url") else None


NOT_AVAILABLE = {
    "query": "search is not available in this build (the newsarchive.query package is missing)",
    "stories": "stories are not available in this archive",
    "diff": "word diffs are not available in this build (newsarchive.stories.diff is missing)",
    "replay": "replay is not running (start the app with `newsarchive serve`, which starts pywb "
    "beside it; `make pywb` installs pywb)",
}
