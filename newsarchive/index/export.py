"""Export the archive to Parquet: articles partitioned by outlet and month, plus captures."""

from __future__ import annotations

import os
from pathlib import Path

from newsarchive.index.db import connect


def export_parquet(
    db_path: str | os.PathLike, out_dir: str | os.PathLike, timeout: float = 10.0
) -> dict[str, int]:
    """Write ``articles/outlet=.../month=YYYY-MM/*.parquet``, ``captures/`` (by outlet and
    month of fetch) and ``fetch_errors.parquet``, ``crawl_runs.parquet``; returns row counts."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def q(p: Path) -> str:
        return "'" + str(p).replace("'", "''") + "'"

    con = connect(db_path, read_only=True, timeout=timeout)
    try:
        counts = {}
        # Month of publication when known, else of the capture; NULL outlets get a name.
        con.execute(
            "COPY (SELECT a.* EXCLUDE (outlet), coalesce(a.outlet, '_none') AS outlet, "
            "strftime(coalesce(a.published, c.fetched_at) AT TIME ZONE 'UTC', '%Y-%m') "
            "AS month FROM articles a LEFT JOIN captures c ON c.id = a.capture_id) "
            f"TO {q(out / 'articles')} (FORMAT parquet, PARTITION_BY (outlet, month), "
            "OVERWRITE_OR_IGNORE)"
        )
        con.execute(
            "COPY (SELECT * EXCLUDE (outlet), coalesce(outlet, '_none') AS outlet, "
            "strftime(fetched_at AT TIME ZONE 'UTC', '%Y-%m') AS month FROM captures) "
            f"TO {q(out / 'captures')} (FORMAT parquet, PARTITION_BY (outlet, month), "
            "OVERWRITE_OR_IGNORE)"
        )
        for t in ("fetch_errors", "crawl_runs"):
            con.execute(f"COPY {t} TO {q(out / f'{t}.parquet')} (FORMAT parquet)")
        for t in ("articles", "captures", "fetch_errors", "crawl_runs"):
            counts[t] = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        return counts
    finally:
        con.close()
