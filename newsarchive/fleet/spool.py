"""The index pipeline of a fleet worker: rows go to the worker's own spool, nothing else.

A worker never opens the DuckDB archive (one writer only): its sealed spool segments wait
in ``<spool dir>/<worker id>.spool/`` on shared storage until ``newsarchive ingest`` merges
them. Rows reach the OS as they are appended, so a worker killed with SIGKILL loses none.
"""

from __future__ import annotations

from newsarchive.index.pipeline import IndexPipeline


class SpoolOnlyPipeline(IndexPipeline):
    def __init__(self, *args, **kwargs) -> None:
        kwargs["fts"] = False
        super().__init__(*args, **kwargs)

    def _try_merge(self, timeout: float) -> bool:
        return True  # sealed segments stay for `newsarchive ingest`
