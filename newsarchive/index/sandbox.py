"""A DuckDB connection to the archive that no statement can use to touch a file.

``newsarchive sql`` runs whatever SQL it is given. Rather than filter statements by their
text (always one spelling short), the connection is opened read-only and then DuckDB's own
switches are set and locked: no file system access (COPY, EXPORT, ATTACH, read_csv, glob),
no extension install or load, no configuration change afterwards. The ``fts`` extension and
the full-text side file are loaded and attached *before* the lock, so BM25 queries work.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from newsarchive.index.db import ArchiveError, connect

# Order matters: the lock comes last, and nothing can be changed after it.
_LOCKDOWN = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


class ReadOnlyViolation(ArchiveError):
    """A statement tried to write, read or load something outside the archive."""


def lock_down(con: duckdb.DuckDBPyConnection, allowed_paths: tuple[str, ...] = ()) -> None:
    """Forbid file access and configuration changes on ``con`` for good.

    ``allowed_paths`` are exact files DuckDB may still write (the one output file the
    caller chose and checked); raises ArchiveError if a switch cannot be set (fail closed).
    """
    try:
        if allowed_paths:
            quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in allowed_paths)
            con.execute(f"SET allowed_paths = [{quoted}]")
        for stmt in _LOCKDOWN:
            con.execute(stmt)
    except duckdb.Error as exc:
        con.close()
        raise ArchiveError(
            f"cannot make the connection read-only ({exc}); refusing to run"
        ) from None


def connect_sandboxed(
    db_path: str | os.PathLike, timeout: float = 10.0, allowed_paths: tuple[str, ...] = ()
) -> duckdb.DuckDBPyConnection:
    """Open the archive read-only, with fts loaded, then lock it down."""
    con = connect(Path(db_path), read_only=True, timeout=timeout)
    from newsarchive.index.fts import load_fts

    try:  # so that fts_main_*.match_bm25 works in ad-hoc queries too
        load_fts(con)
    except ArchiveError:
        pass
    lock_down(con, allowed_paths)
    return con


def is_duckdb_file(path: str | os.PathLike) -> bool:
    """True for a DuckDB database file (magic ``DUCK`` at byte 8)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def _looks_like_warc(path: Path) -> bool:
    from newsarchive.warc.scan import NotAWarc, is_warc_name, warc_format

    if is_warc_name(path.name) or path.name.endswith(".cdxj"):
        return True
    if not path.is_file():
        return False
    try:
        warc_format(path)
    except (NotAWarc, OSError):
        return False
    return True


def check_output_path(
    output: str | os.PathLike, db_path: str | os.PathLike, force: bool = False
) -> Path:
    """The real path an export may be written to, or ArchiveError saying why not.

    Never the archive, its WAL or full-text side files, another DuckDB database, or a WARC
    (real paths compared, so symlinks and ``..`` do not help); an existing file only with
    ``force``; the directory must exist.
    """
    from newsarchive.index.fts import fts_path

    out = Path(output).expanduser()
    real = Path(os.path.realpath(out))
    db_real = Path(os.path.realpath(db_path))
    protected = {db_real, Path(f"{db_real}.wal")}
    side = Path(os.path.realpath(fts_path(db_path)))
    protected |= {side, Path(f"{side}.wal")}
    if real in protected:
        raise ArchiveError(
            f"refusing to write {output}: it is the archive {db_path} (or its index)"
        )
    if real.is_dir():
        raise ArchiveError(f"cannot write {output}: it is a directory")
    if is_duckdb_file(real):
        raise ArchiveError(f"refusing to write {output}: it is a DuckDB database")
    if _looks_like_warc(real):
        raise ArchiveError(f"refusing to write {output}: it is (or is named like) a WARC file")
    if not real.parent.is_dir():
        raise ArchiveError(f"cannot write {output}: directory {out.parent} does not exist")
    if real.exists() and not force:
        raise ArchiveError(f"{output} exists; pass --force to overwrite it")
    if not os.access(real.parent, os.W_OK):
        raise ArchiveError(f"cannot write {output}: directory {out.parent} is not writable")
    return real
