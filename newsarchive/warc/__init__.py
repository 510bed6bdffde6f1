"""WARC capture that replays: the ``WarcWriter`` extension and reading the files back.

Public API: :class:`WarcWriter` (Scrapy extension), :func:`read_record` (one record through
its pointer), :func:`read_discovery` (discovery info of a metadata record), plus the file
tools behind ``newsarchive warc check|repair``, ``newsarchive cdxj`` and ``newsarchive show``.
"""

from newsarchive.warc.cdxj import CdxjEntry, iter_cdxj, surt, write_cdxj
from newsarchive.warc.discovery import read_discovery
from newsarchive.warc.records import Record, WarcFormatError, decode_content
from newsarchive.warc.scan import (
    check_file,
    index_file,
    iter_members,
    read_record,
    repair_file,
    write_index,
)
from newsarchive.warc.writer import DEFAULTS, WarcWriter

__all__ = [
    "DEFAULTS",
    "CdxjEntry",
    "Record",
    "WarcFormatError",
    "WarcWriter",
    "check_file",
    "decode_content",
    "index_file",
    "iter_cdxj",
    "iter_members",
    "read_discovery",
    "read_record",
    "repair_file",
    "surt",
    "write_cdxj",
    "write_index",
]
