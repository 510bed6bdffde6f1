"""The durable spool between the crawl and the archive.

Rows are appended to per-table JSONL files in ``<db>.spool/`` as they arrive (written through
to the OS at once, so a killed crawl loses nothing), fsync'd and sealed per batch, then merged
into DuckDB in one short transaction per merge, opening and closing the file each time. A
segment is deleted only after its commit; keys are deterministic, so re-merging a segment
after a crash inserts nothing twice.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from newsarchive.index.schema import TABLES, UPSERT_COLUMNS
from newsarchive.locks import pid_alive

logger = logging.getLogger(__name__)

SEALED = ".jsonl"
OPEN = ".jsonl.open"
MAX_FILES_PER_MERGE = 64


def spool_dir(db_path: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(db_path)}.spool")


def jsonable(value: Any) -> Any:
    """Make stats and similar dicts JSON-safe (datetimes as ISO strings, unknowns as str)."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | tuple):
        return list(value)
    return str(value)


class Spool:
    """Append-only spool writer owned by one process."""

    def __init__(self, db_path: str | os.PathLike) -> None:
        self.db_path = Path(db_path)
        self.dir = spool_dir(db_path)
        self._files: dict[str, Any] = {}
        self._stem: str | None = None
        self._seq = 0
        self.pending = 0  # rows appended since the last seal
        self.first_pending_at: float | None = None

    def _file(self, table: str):
        f = self._files.get(table)
        if f is None:
            if self._stem is None:
                self.dir.mkdir(parents=True, exist_ok=True)
                self._seq += 1
                self._stem = f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}"
            # Unbuffered bytes: each row goes to the OS whole or (disk full) is cut off again,
            # so no torn line is left to break the segment's merge.
            f = open(self.dir / f"{self._stem}.{table}{OPEN}", "ab", buffering=0)  # noqa: SIM115
            self._files[table] = f
        return f

    def append(self, table: str, row: dict) -> None:
        """Append one row; raises OSError (disk full) with the segment left as it was."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        row = dict(row, _seq=time.time_ns())
        data = memoryview(
            (json.dumps(row, default=_default, ensure_ascii=False) + "\n").encode("utf-8")
        )
        f = self._file(table)
        start = os.fstat(f.fileno()).st_size
        done = 0
        try:
            while done < len(data):  # into the OS now: a SIGKILL after this loses nothing
                done += f.write(data[done:]) or 0
        except OSError:
            try:
                os.ftruncate(f.fileno(), start)
            except OSError:
                pass
            raise
        if self.first_pending_at is None:
            self.first_pending_at = time.monotonic()
        self.pending += 1

    def seal(self) -> int:
        """fsync and seal the open segment so it can be merged; returns rows sealed."""
        if not self._files:
            return 0
        for table, f in self._files.items():
            os.fsync(f.fileno())
            f.close()
            src = self.dir / f"{self._stem}.{table}{OPEN}"
            os.replace(src, src.with_name(src.name[: -len(".open")]))
        _fsync_dir(self.dir)
        sealed = self.pending
        self._files.clear()
        self._stem = None
        self.pending = 0
        self.first_pending_at = None
        return sealed

    def has_sealed(self) -> bool:
        return self.dir.is_dir() and any(self.dir.glob(f"*{SEALED}"))

    def try_merge(self, timeout: float = 0.0, stats: dict | None = None) -> bool:
        """Merge sealed segments; False when the archive stayed locked (they wait for later)."""
        from newsarchive.index.db import ArchiveLocked, connect

        with WRITER_LOCK:
            try:
                con = connect(self.db_path, read_only=False, timeout=timeout, merge_stats=stats)
            except ArchiveLocked:
                return False
            con.close()
        return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _recover_orphans(directory: Path) -> None:
    """Seal open segments whose writer died, cutting a torn last line."""
    for p in directory.glob(f"*{OPEN}"):
        try:
            pid = int(p.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or pid_alive(pid):
            continue
        data = p.read_bytes()
        cut = data.rfind(b"\n") + 1
        if cut != len(data):
            with open(p, "r+b") as f:
                f.truncate(cut)
                f.flush()
                os.fsync(f.fileno())
        os.replace(p, p.with_name(p.name[: -len(".open")]))
        logger.info("recovered spool segment %s left by dead process %d", p.name, pid)


def sealed_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SEALED}"), key=lambda p: p.name)


def _table_of(path: Path) -> str:
    return path.name[: -len(SEALED)].rsplit(".", 1)[1]


def _select(table: str, files: list[Path]) -> str:
    cols = TABLES[table]
    spec = ", ".join(f"{c}: '{'VARCHAR' if t == 'TIMESTAMPTZ' else t}'" for c, t in cols.items())
    src = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    exprs = ", ".join(
        f"TRY_CAST({c} AS TIMESTAMPTZ) AS {c}" if t == "TIMESTAMPTZ" else c for c, t in cols.items()
    )
    return (
        f"SELECT {exprs}, _seq FROM read_json({src}, format='newline_delimited', "
        f"columns={{{spec}, _seq: 'BIGINT'}})"
    )


def _merge_table(con: duckdb.DuckDBPyConnection, table: str, files: list[Path]) -> int:
    cols = list(TABLES[table])
    names = ", ".join(cols)
    before = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    if table in UPSERT_COLUMNS:
        # Start and finish rows of one run may sit in the same merge: fold them first.
        upd = UPSERT_COLUMNS[table]
        aggs = ", ".join(
            f"arg_max({c}, _seq) FILTER (WHERE {c} IS NOT NULL) AS {c}" for c in cols[1:]
        )
        sets = ", ".join(f"{c} = coalesce(excluded.{c}, {table}.{c})" for c in upd)
        con.execute(
            f"INSERT INTO {table} ({names}) SELECT id, {aggs} FROM ({_select(table, files)}) "
            f"GROUP BY id ON CONFLICT (id) DO UPDATE SET {sets}"
        )
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - before
    con.execute(
        f"INSERT INTO {table} ({names}) SELECT {names} FROM ({_select(table, files)}) "
        f"WHERE id IS NOT NULL QUALIFY row_number() OVER (PARTITION BY id ORDER BY _seq) = 1 "
        f"ON CONFLICT DO NOTHING"
    )
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - before


def _apply_version_rule(con: duckdb.DuckDBPyConnection, files: list[Path]) -> int:
    """One article row per (canonical URL, payload): see :mod:`newsarchive.index.versions`.
    Article ids are capture ids, so the ids of both tables' files say which keys to check."""
    from newsarchive.index.versions import drop_refetched

    src = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _merged_ids AS SELECT DISTINCT id FROM "
        f"read_json({src}, format='newline_delimited', columns={{id: 'VARCHAR'}}) "
        "WHERE id IS NOT NULL"
    )
    try:
        return drop_refetched(con, "_merged_ids")
    finally:
        con.execute("DROP TABLE _merged_ids")


def _merge_files(con: duckdb.DuckDBPyConnection, files: list[Path]) -> dict[str, int]:
    by_table: dict[str, list[Path]] = {}
    for f in files:
        by_table.setdefault(_table_of(f), []).append(f)
    added: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table in TABLES:  # captures before articles: a reader never sees an orphan
            if table in by_table:
                added[table] = _merge_table(con, table, by_table[table])
        if "articles" in by_table or "captures" in by_table:
            # an article's id is its capture's id: both tables' ids scope the rule
            keyed = by_table.get("articles", []) + by_table.get("captures", [])
            dropped = _apply_version_rule(con, keyed)
            if dropped:
                added["articles"] = added.get("articles", 0) - dropped
                added["refetched_dropped"] = dropped
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:  # the failure already ended the transaction: keep its error
            pass
        raise
    for f in files:  # only after the commit
        f.unlink(missing_ok=True)
    return added


def _readable(path: Path) -> bool:
    """Whether a segment parses on its own (in memory, away from the archive): only a
    segment that does not is set aside as ``.bad``."""
    try:
        con = duckdb.connect()
    except duckdb.Error:
        return True
    try:
        con.execute(f"SELECT count(*) FROM ({_select(_table_of(path), [path])})").fetchone()
        return True
    except duckdb.Error:
        return False
    finally:
        con.close()


def merge_spool(
    db_path: str | os.PathLike,
    con: duckdb.DuckDBPyConnection,
    stats: dict | None = None,
    recover: bool = True,
) -> int:
    """Merge every sealed (and orphaned) spool segment into ``con``; returns rows added.

    A segment DuckDB cannot read is renamed ``*.bad`` (kept for inspection, logged) so one
    bad file never blocks the rest. ``recover=False`` leaves open segments alone (their
    writer may live on another machine, where a local pid check means nothing).
    """
    with WRITER_LOCK:
        added = _merge_spool(spool_dir(db_path), con, stats, recover)
        _update_query_index(con, stats)
        return added


def _update_query_index(con: duckdb.DuckDBPyConnection, stats: dict | None) -> None:
    # New articles become searchable at the merge that brings them in (docs/QUERY.md).
    if os.environ.get("NEWSARCHIVE_QUERY_INDEX", "1") == "0":
        return
    from newsarchive.query.index import update_index

    started = time.perf_counter()
    try:
        n = update_index(con)
    except duckdb.Error as exc:  # the index catches up at the next merge or a rebuild
        logger.error("query index update failed: %s", exc)
        return
    if stats is not None and n:
        stats["query_indexed"] = stats.get("query_indexed", 0) + n
        stats["query_index/seconds"] = round(
            stats.get("query_index/seconds", 0.0) + time.perf_counter() - started, 3
        )


# Spiders of one process share one DuckDB instance, so the file lock does not keep their
# merge threads apart (schema checks and merges would conflict): this lock does.
WRITER_LOCK = threading.RLock()


def _merge_spool(
    directory: Path, con: duckdb.DuckDBPyConnection, stats: dict | None, recover: bool = True
) -> int:
    if not directory.is_dir():
        return 0
    if recover:
        _recover_orphans(directory)
    total = 0
    files = sealed_files(directory)
    for i in range(0, len(files), MAX_FILES_PER_MERGE):
        chunk = files[i : i + MAX_FILES_PER_MERGE]
        try:
            added = _merge_files(con, chunk)
        except duckdb.Error:
            added = {}
            for f in chunk:  # find the bad file(s)
                if not f.exists():
                    continue
                try:
                    for t, n in _merge_files(con, [f]).items():
                        added[t] = added.get(t, 0) + n
                except duckdb.Error as exc:
                    if _readable(f):
                        # The segment is fine: the archive failed (disk full, I/O error).
                        # Every segment stays for the next merge; the caller is told.
                        raise
                    logger.error("spool segment %s cannot be merged (%s); kept as .bad", f, exc)
                    os.replace(f, f.with_name(f.name + ".bad"))
                    if stats is not None:
                        stats["bad_segments"] = stats.get("bad_segments", 0) + 1
                else:
                    if stats is not None:
                        stats["transactions"] = stats.get("transactions", 0) + 1
        else:
            if stats is not None:
                stats["transactions"] = stats.get("transactions", 0) + 1
        for t, n in added.items():
            key = f"rows/{t}" if t in TABLES else t  # refetched_dropped: not a table
            total += n if t in TABLES else 0
            if stats is not None:
                stats[key] = stats.get(key, 0) + n
    return total


def spool_rows(db_path: str | os.PathLike, table: str) -> Iterable[dict]:
    """Rows of ``table`` still waiting in the spool (sealed or open), for readers."""
    directory = spool_dir(db_path)
    if not directory.is_dir():
        return
    for p in sorted(directory.glob(f"*.{table}.jsonl*")):
        if p.name.endswith(".bad"):
            continue
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:  # merged meanwhile
            continue
        for line in lines:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:  # torn last line of a live segment
                continue
