"""Running the app: uvicorn on loopback, pywb beside it on its own port.

Replay runs on ``port + 1`` (another origin), so an archived page's scripts can never
reach the app's pages or cookies.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from newsarchive.web import sources
from newsarchive.web.app import WebConfig, create_app

log = logging.getLogger(__name__)


@contextlib.contextmanager
def replay_beside(warc_dir: Path, port: int, bind: str) -> Iterator[tuple[str | None, str]]:
    """Start pywb over ``warc_dir`` on ``port``; yields (replay base or None, a status line)."""
    mod = sources.replay()
    if mod is None:
        yield None, sources.NOT_AVAILABLE["replay"]
        return
    if not warc_dir.is_dir():
        yield None, f"replay off: no WARC directory at {warc_dir}"
        return
    try:
        server = mod.ReplayServer(warc_dir, port=port, bind=bind)
        server.start()
    except Exception as exc:  # pywb missing or failing only costs the replay links
        yield None, f"replay off: {exc}"
        return
    try:
        yield server.base, f"replay (pywb) at {server.base}/"
    finally:
        server.stop()


def serve(
    db_path: Path,
    warc_dir: Path,
    port: int = 8000,
    bind: str = "127.0.0.1",
    replay: bool = True,
    log_level: str = "warning",
) -> int:
    import uvicorn

    with contextlib.ExitStack() as stack:
        base, status = (None, "replay off (--no-replay)")
        if replay:
            base, status = stack.enter_context(replay_beside(warc_dir, port + 1, bind))
        app = create_app(WebConfig(db_path=db_path, warc_dir=warc_dir, replay_base=base))
        host = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
        print(f"newsarchive: http://{host}:{port}/  ({db_path}, WARCs in {warc_dir})", flush=True)
        print(f"newsarchive: {status}", flush=True)
        uvicorn.run(app, host=bind, port=port, log_level=log_level, server_header=False)
    return 0
