"""``newsarchive show URL``: read one archived capture back through its WARC pointer."""

from __future__ import annotations

import argparse
import sys

from newsarchive.warc.lookup import all_entries, find_capture, load_capture, parse_at
from newsarchive.warc.records import DECODE_LIMIT, BodyTooLarge, WarcFormatError, decode_content


def register(subparsers) -> None:
    p = subparsers.add_parser("show", help="print an archived capture of a URL")
    p.add_argument("url")
    p.add_argument("--at", help="timestamp (YYYYmmddHHMMSS prefix or ISO); default: latest")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--raw", action="store_true", help="HTTP response as stored")
    mode.add_argument(
        "--html", action="store_true", help="body with Content-Encoding removed, charset as sent"
    )
    mode.add_argument("--text", action="store_true", help="extracted article text")
    p.add_argument("--warc-dir", default=None, help="WARC directory (default: settings)")
    p.add_argument("--output", "-o", help="write the bytes to this file instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    p.set_defaults(func=run)


def _warc_dir(args: argparse.Namespace) -> str:
    if args.warc_dir:
        return args.warc_dir
    from newsarchive import settings

    return getattr(settings, "NEWSARCHIVE_WARC_DIR", "warc")


def _html_text(body: bytes, content_type: str | None) -> str:
    from w3lib.encoding import html_to_unicode

    _, text = html_to_unicode(content_type, body)
    return text


def run(args: argparse.Namespace) -> int:
    directory = _warc_dir(args)
    try:
        at = parse_at(args.at) if args.at else None
    except ValueError:
        print(f"bad --at value {args.at!r}", file=sys.stderr)
        return 2
    entries = all_entries(directory)
    entry = find_capture(entries, args.url, at)
    if entry is None:
        print(f"no capture of {args.url} in {directory}", file=sys.stderr)
        return 1
    try:
        cap = load_capture(directory, entries, entry)
    except (OSError, LookupError, WarcFormatError) as exc:
        print(f"cannot read capture: {exc}", file=sys.stderr)
        return 1
    rec, head = cap.record, cap.head
    if args.output:
        return _save(args, head, cap.payload)
    out = sys.stdout.buffer
    if args.raw:
        data = head.http_head + cap.payload
        if sys.stdout.isatty() and _binary(head, cap.payload):
            print(
                "refusing to write binary (compressed) bytes to a terminal; "
                "use --output FILE or a pipe (| less, > file)",
                file=sys.stderr,
            )
            return 2
        out.write(data)
        out.flush()
        return 0
    enc = head.http_header_list("Content-Encoding")
    ctype = head.http_header("Content-Type")
    if (args.html or args.text) and cap.payload_record.truncated:
        print(
            f"not shown: the body was not stored in full (WARC-Truncated: "
            f"{cap.payload_record.truncated}, decompression limit); --raw writes what is stored",
            file=sys.stderr,
        )
        return 1
    if args.html or args.text:
        try:
            body = decode_content(cap.payload, enc, DECODE_LIMIT)
        except BodyTooLarge as exc:
            print(f"not shown: {exc}; --raw writes the stored bytes", file=sys.stderr)
            return 1
        except Exception as exc:  # noqa: BLE001 - report any decoder failure
            print(f"body does not decode ({', '.join(enc)}): {exc}", file=sys.stderr)
            return 1
        if args.html:
            # The stored bytes in the charset they were sent in: re-encoding them would
            # contradict the page's own <meta charset>.
            out.write(body)
            out.flush()
            return 0
        html = _html_text(body, ctype)
        text = _extract_text(html, rec.url)
        if text is None:
            print("no article text could be extracted", file=sys.stderr)
            return 1
        out.write(text.encode("utf-8") + b"\n")
        out.flush()
        return 0
    print(f"url:       {rec.url}")
    print(f"date:      {rec.header('WARC-Date')}")
    print(
        f"type:      {rec.type}" + (f" of {cap.payload_record.id}" if rec.type == "revisit" else "")
    )
    status = head.http_status_line
    if head is not rec:
        status = f"304 Not Modified (the original's: {status})"
    print(f"status:    {status}")
    print(f"digest:    {rec.header('WARC-Payload-Digest')}")
    print(f"pointer:   {entry.filename} offset {entry.offset} length {entry.length}")
    print(f"body:      {len(cap.payload)} bytes stored")
    print(f"replay:    {_replay_link(rec.url, entry.timestamp)}")
    for k, v in head.http_headers:
        print(f"  {k}: {v}")
    return 0


def _binary(head, payload: bytes) -> bool:
    """Bytes a terminal should not get: content-encoded, or not text at all."""
    coding = ",".join(head.http_header_list("Content-Encoding")).strip().lower()
    if coding and coding != "identity":
        return True
    sample = payload[:8192]
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(sample) - 4  # a character cut at the sample's end is fine
    return False


def _save(args: argparse.Namespace, head, payload: bytes) -> int:
    """``--output``: the raw response, or the decoded body / text, written to a new file."""
    from newsarchive.warc.scan import is_warc_name

    if is_warc_name(args.output):
        print(f"refusing to write {args.output}: it is named like a WARC file", file=sys.stderr)
        return 2
    if args.raw or not (args.html or args.text):
        data = head.http_head + payload
    else:
        try:
            body = decode_content(payload, head.http_header_list("Content-Encoding"))
        except Exception as exc:  # noqa: BLE001 - report any decoder failure
            print(f"body does not decode: {exc}", file=sys.stderr)
            return 1
        html = _html_text(body, head.http_header("Content-Type"))
        text = html if args.html else _extract_text(html, head.url)
        if text is None:
            print("no article text could be extracted", file=sys.stderr)
            return 1
        data = text.encode("utf-8")
    try:
        with open(args.output, "wb" if args.force else "xb") as fh:
            fh.write(data)
    except FileExistsError:
        print(f"{args.output} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(data)} bytes to {args.output}", file=sys.stderr)
    return 0


def _replay_link(url: str, ts14: str) -> str:
    from newsarchive.replay import default_base, replay_url

    return replay_url(default_base(), url, ts14)


def _extract_text(html: str, url: str) -> str | None:
    try:
        from newsarchive.extract import extract_article
    except ImportError:
        extract_article = None
    if extract_article is not None:
        article = extract_article(html, url)
        return article.text if article is not None else None
    import trafilatura

    return trafilatura.extract(html, url=url)
