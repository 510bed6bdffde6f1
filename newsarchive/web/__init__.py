"""The archive in a browser: ``newsarchive serve``.

A read-only Starlette app rendering Jinja2 templates. It adds no search, story or replay
logic of its own: pages call :mod:`newsarchive.query`, :mod:`newsarchive.stories` and
:mod:`newsarchive.replay`, plus the small readers of :mod:`newsarchive.index.read`. Charts
are SVG drawn on the server (:mod:`newsarchive.web.svg`); no script runs in the pages.
"""

from __future__ import annotations

from newsarchive.web.app import WebConfig, create_app

__all__ = ["WebConfig", "create_app"]
