"""WACZ 1.1 export: the archive (or a subset of its articles) as one self-contained file.

Layout: ``archive/*.warc.gz`` (stored, not deflated), ``indexes/index.cdx.gz`` (sorted CDXJ
in gzip blocks of ``BLOCK_LINES`` lines) with ``indexes/index.idx`` (pywb's ZipNum index of
those blocks), ``pages/pages.jsonl`` (one line per article: url, ts, title, text, from the
``articles`` table), ``datapackage.json`` (every file's sha256 and size) and
``datapackage-digest.json`` (the sha256 of ``datapackage.json``).

A full export with no access rule to apply puts the WARC files in unchanged. Otherwise
(``outlets``, ``since``, ``until``, ``query``, or captures the ``.aclj`` rules exclude) it
writes one new WARC with only the selected article captures, their requisites (found again
in each page's stored body, the capture nearest the page's time) and, for revisits, the
records that hold their payloads; other captures stay out.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from newsarchive import __version__
from newsarchive.replay.access import AccessRules, load_access_rules
from newsarchive.requisites import KINDS, find_requisites
from newsarchive.warc.cdxj import CdxjEntry, surt
from newsarchive.warc.lookup import all_entries
from newsarchive.warc.records import build_fields_record
from newsarchive.warc.scan import read_record

WACZ_VERSION = "1.1.1"
BLOCK_LINES = 3000
EXPORT_WARC = "export.warc.gz"


class ExportError(RuntimeError):
    """The export cannot be made; the message says why (one line)."""


@dataclass
class Page:
    id: str
    url: str
    ts: datetime
    title: str | None
    text: str | None
    capture_id: str
    warc_filename: str
    warc_offset: int


@dataclass
class WaczResult:
    path: Path
    pages: int
    captures: int
    warc_files: int
    bytes: int
    subset: bool
    excluded: int = 0
    notes: list[str] = field(default_factory=list)


def _where(outlets: tuple[str, ...], since: datetime | None, until: datetime | None):
    clauses, params = [], []
    if outlets:
        clauses.append(f"a.outlet IN ({', '.join('?' * len(outlets))})")
        params.extend(outlets)
    if since:
        clauses.append("coalesce(a.published, c.fetched_at) >= ?")
        params.append(since)
    if until:
        clauses.append("coalesce(a.published, c.fetched_at) < ?")
        params.append(until)
    return (" AND ".join(clauses) or "true"), params


def select_pages(
    con,
    outlets: tuple[str, ...] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    query: str | None = None,
) -> list[Page]:
    """Article captures matching the filters, oldest first."""
    where, params = _where(outlets, since, until)
    if query:  # the query language of `newsarchive search`, every version of a match
        from newsarchive.query.engine import Scope, matches_sql

        sql, _ = matches_sql(con, query, Scope(), all_versions=True)
        where += (
            " AND a.id IN (SELECT d.article_id FROM qi_docs d "
            f"WHERE d.docid IN (SELECT docid FROM ({sql})))"
        )
    rows = con.execute(
        "SELECT a.id, c.url, c.fetched_at, a.title, a.text, c.id, c.warc_filename, "
        "c.warc_offset FROM articles a JOIN captures c ON c.id = a.capture_id "
        f"WHERE {where} ORDER BY c.fetched_at, a.id",
        params,
    ).fetchall()
    return [Page(*r) for r in rows]


def _nearest(cands: list[CdxjEntry], ts: str) -> CdxjEntry:
    return min(cands, key=lambda e: (abs(int(e.timestamp) - int(ts)), e.timestamp))


def _original(entries: list[CdxjEntry], by_id: dict, warc_dir: Path, e: CdxjEntry):
    """The entry holding a revisit's payload (by WARC-Refers-To, else URL + digest)."""
    rec = read_record(warc_dir / e.filename, e.offset, e.length)
    refers = rec.header("WARC-Refers-To")
    if refers and refers in by_id:
        return by_id[refers]
    target = rec.header("WARC-Refers-To-Target-URI", e.url)
    return next(
        (x for x in entries if not x.is_revisit and x.url == target and x.digest == e.digest),
        None,
    )


def select_captures(
    warc_dir: Path, entries: list[CdxjEntry], pages: list[Page], rules: AccessRules
) -> list[CdxjEntry]:
    """The page captures, their requisites and the originals of revisits among them."""
    by_pointer = {(e.filename, e.offset): e for e in entries}
    by_key: dict[str, list[CdxjEntry]] = {}
    for e in entries:
        by_key.setdefault(surt(e.url), []).append(e)
    by_id = {e.record_id: e for e in entries if e.record_id and not e.is_revisit}
    chosen: dict[tuple[str, int], CdxjEntry] = {}

    def add(e: CdxjEntry) -> None:
        if (e.filename, e.offset) in chosen or not rules.allowed(e.url):
            return
        chosen[(e.filename, e.offset)] = e
        if e.is_revisit and (orig := _original(entries, by_id, warc_dir, e)) is not None:
            chosen.setdefault((orig.filename, orig.offset), orig)

    for page in pages:
        e = by_pointer.get((page.warc_filename, page.warc_offset))
        if e is None:
            continue
        add(e)
        rec = read_record(warc_dir / e.filename, e.offset, e.length)
        payload = rec
        if rec.type == "revisit":
            orig = _original(entries, by_id, warc_dir, e)
            if orig is None:
                continue
            payload = read_record(warc_dir / orig.filename, orig.offset, orig.length)
        try:
            body = payload.decoded_payload()
        except Exception:  # noqa: BLE001 - an undecodable page simply has no requisites
            continue
        for url, _kind in find_requisites(body, e.url, KINDS):
            cands = by_key.get(surt(url))
            if cands:
                add(_nearest(cands, e.timestamp))
    return sorted(chosen.values(), key=lambda e: (e.filename, e.offset))


def _zipnum(lines: list[str]) -> tuple[bytes, bytes]:
    """``index.cdx.gz`` (gzip blocks of sorted lines) and its ``index.idx``."""
    data, idx = io.BytesIO(), ['!meta 0 {"format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"}']
    for n in range(0, len(lines), BLOCK_LINES):
        block = "".join(line + "\n" for line in lines[n : n + BLOCK_LINES]).encode()
        member = gzip.compress(block, mtime=0)
        key, ts = lines[n].split(" ", 2)[:2]
        meta = {"offset": data.tell(), "length": len(member), "filename": "index.cdx.gz"}
        idx.append(f"{key} {ts} {json.dumps(meta)}")
        data.write(member)
    return data.getvalue(), ("\n".join(idx) + "\n").encode()


class _Zip:
    """A ZIP being written, remembering each file's sha256 and size for datapackage.json."""

    def __init__(self, path: Path):
        self.zf = zipfile.ZipFile(path, "w", allowZip64=True)
        self.resources: list[dict] = []

    def _info(self, name: str, stored: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, datetime.now(UTC).timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        return info

    def add_bytes(self, name: str, data: bytes, stored: bool = False, listed: bool = True) -> None:
        self.zf.writestr(self._info(name, stored), data)
        if listed:
            self._listed(name, hashlib.sha256(data).hexdigest(), len(data))

    def add_file(self, name: str, path: Path) -> None:
        h, size = hashlib.sha256(), 0
        with open(path, "rb") as src, self.zf.open(self._info(name, True), "w") as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
                dst.write(chunk)
        self._listed(name, h.hexdigest(), size)

    def _listed(self, name: str, digest: str, size: int) -> None:
        self.resources.append(
            {
                "name": os.path.basename(name).lower(),
                "path": name,
                "hash": f"sha256:{digest}",
                "bytes": size,
            }
        )

    def close(self) -> None:
        self.zf.close()


def _subset_warc(warc_dir: Path, chosen: list[CdxjEntry], out: Path) -> list[CdxjEntry]:
    """Copy the chosen records' gzip members into one new WARC; returns their new entries."""
    info = build_fields_record(
        "warcinfo",
        None,
        datetime.now(UTC),
        [
            ("software", f"newsarchive/{__version__} (export wacz)"),
            ("format", "WARC File Format 1.1"),
            ("description", f"{len(chosen)} captures selected from {warc_dir.name}/"),
        ],
        extra={"WARC-Filename": EXPORT_WARC},
    )
    new = []
    with open(out, "wb") as fh:
        fh.write(info.member)
        for e in chosen:
            with open(warc_dir / e.filename, "rb") as src:
                src.seek(e.offset)
                member = src.read(e.length)
            if len(member) != e.length:
                raise ExportError(
                    f"{e.filename} is shorter than its index says (offset {e.offset})"
                )
            offset = fh.tell()
            fh.write(member)
            new.append(
                CdxjEntry(
                    e.url,
                    e.timestamp,
                    e.mime,
                    e.status,
                    e.digest,
                    e.length,
                    offset,
                    EXPORT_WARC,
                    e.record_id,
                )  # fmt: skip
            )
    return new


def export_wacz(
    out: str | os.PathLike,
    warc_dir: str | os.PathLike,
    con,
    *,
    outlets: tuple[str, ...] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    query: str | None = None,
    acl: str | os.PathLike | None = None,
    title: str | None = None,
) -> WaczResult:
    """Write a WACZ of the archive in ``warc_dir`` (articles read through ``con``)."""
    warc_dir = Path(warc_dir)
    out = Path(out)
    if not warc_dir.is_dir():
        raise ExportError(f"no WARC directory {warc_dir}")
    default_acl = warc_dir / "access.aclj"
    rules = load_access_rules(acl or (default_acl if default_acl.exists() else None))
    entries = [e for e in all_entries(warc_dir) if e.filename.endswith(".warc.gz")]
    if not entries:
        raise ExportError(f"no indexed captures in {warc_dir} (run `newsarchive cdxj` first?)")
    pages_all = select_pages(con, outlets, since, until, query)
    pages = [p for p in pages_all if rules.allowed(p.url)]
    excluded = sum(1 for e in entries if not rules.allowed(e.url))
    subset = bool(outlets or since or until or query or excluded)
    if subset and not pages:
        raise ExportError("no article matches the selection: nothing to export")

    tmp = out.with_name(out.name + ".tmp")
    z = _Zip(tmp)
    try:
        if subset:
            chosen = select_captures(warc_dir, entries, pages, rules)
            warc_tmp = out.with_name(out.name + ".warc.tmp")
            try:
                index_entries = _subset_warc(warc_dir, chosen, warc_tmp)
                z.add_file(f"archive/{EXPORT_WARC}", warc_tmp)
            finally:
                warc_tmp.unlink(missing_ok=True)
            warc_files = 1
        else:
            names = sorted({e.filename for e in entries})
            for name in names:
                z.add_file(f"archive/{name}", warc_dir / name)
            index_entries, warc_files = entries, len(names)
        cdx, idx = _zipnum(sorted(e.line() for e in index_entries))
        z.add_bytes("indexes/index.cdx.gz", cdx, stored=True)
        # Stored, not deflated: ReplayWeb.page checks each file's hash on the bytes it reads
        # from the ZIP, so a deflated file fails its check there.
        z.add_bytes("indexes/index.idx", idx, stored=True)
        lines = [json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "All Pages"})]
        for p in pages:
            ts = p.ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            row = {"id": p.id, "url": p.url, "ts": ts, "title": p.title or "", "text": p.text or ""}
            lines.append(json.dumps(row, ensure_ascii=False))
        z.add_bytes("pages/pages.jsonl", ("\n".join(lines) + "\n").encode("utf-8"), stored=True)
        package = {
            "profile": "data-package",
            "resources": z.resources,
            "title": title or f"newsarchive export of {warc_dir.name}",
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wacz_version": WACZ_VERSION,
            "software": f"newsarchive {__version__}",
        }
        package_bytes = json.dumps(package, indent=2).encode()
        z.add_bytes("datapackage.json", package_bytes, listed=False)
        digest = {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest(),
        }
        z.add_bytes("datapackage-digest.json", json.dumps(digest, indent=2).encode(), listed=False)
        z.close()
        os.replace(tmp, out)
    except BaseException:
        z.close()
        tmp.unlink(missing_ok=True)
        raise
    return WaczResult(
        out, len(pages), len(index_entries), warc_files, out.stat().st_size, subset, excluded
    )
