"""``newsarchive replay``: serve the archive in a browser, with pywb as the engine."""

from __future__ import annotations

import argparse
import signal
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("replay", help="serve the archive for browsing (pywb, loopback)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--warc-dir", default=None, help="WARC directory (default: settings)")
    p.add_argument("--acl", help="pywb .aclj access rules (default: WARC_DIR/access.aclj)")
    p.add_argument("--embargo-days", type=int, help="hide captures newer than this many days")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.commands.show import _warc_dir
    from newsarchive.replay import PywbUnavailable, ReplayServer
    from newsarchive.replay.access import AccessRuleError, load_access_rules
    from newsarchive.warc.indexes import ensure_indexes

    directory = _warc_dir(args)
    for problem in ensure_indexes(directory).failed:  # pywb replays through the CDXJ files
        print(f"warning: {problem}", file=sys.stderr)
    server = ReplayServer(
        directory, args.port, args.bind, acl=args.acl, embargo_days=args.embargo_days
    )
    try:
        if server.acl:
            rules = load_access_rules(server.acl)  # a bad rules file fails here, clearly
            print(f"access rules: {len(rules)} from {server.acl}", file=sys.stderr)
        server.start()
    except (PywbUnavailable, FileNotFoundError, AccessRuleError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"replaying {server.archive_dir} at {server.base}/", flush=True)
    print(f"  a capture:  {server.base}/<YYYYmmddHHMMSS>mp_/<url>", flush=True)
    print(f"  TimeMap:    {server.base}/timemap/link/<url>", flush=True)
    print(f"  TimeGate:   {server.base}/<url>  (Accept-Datetime)", flush=True)
    print("Ctrl-C stops it.", flush=True)
    # A TERM (service manager, timeout) must stop pywb too, not leave it orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
