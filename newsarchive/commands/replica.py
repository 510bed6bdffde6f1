"""``newsarchive replica``: run the offline replica of the outlets as a local proxy.

Point a crawl at it with ``https_proxy``/``http_proxy``; it serves every registry outlet's
synthetic site over real ``https://`` URLs and refuses every other host.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from newsarchive.registry import RegistryError


def register(subparsers) -> None:
    p = subparsers.add_parser("replica", help="serve the offline replica of the outlets as a proxy")
    p.add_argument("--port", type=int, default=8899, help="proxy port on --host (0: any free)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    p.add_argument("--seed", type=int, default=0, help="content seed (same seed, same site)")
    p.add_argument("--scale", type=int, default=12, help="articles per outlet")
    p.add_argument(
        "--crawl-delay", type=float, default=None, help="add this Crawl-delay to every robots.txt"
    )
    p.add_argument(
        "--clock",
        help="pin the replica's clock (ISO time; default $NEWSARCHIVE_NOW, else the wall clock)",
    )
    p.add_argument(
        "--stories",
        type=int,
        default=12,
        help="cross-outlet stories (wire copies, republications, rewrites, hard negatives)",
    )
    p.add_argument(
        "--latency", type=float, default=0.0, help="benchmarks: delay every response (seconds)"
    )
    p.add_argument(
        "--pages",
        help="benchmarks: serve the *.html files under this directory as the article pages",
    )
    p.add_argument(
        "--faults",
        help="fault mode: OUTLET:FAULT,... (FAULT a name from docs/FAULTS.md, or 'all')",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from newsarchive.clock import ClockError, parse_clock, pinned
    from newsarchive.replica import Replica

    try:
        now = parse_clock(args.clock) if args.clock else pinned()
    except ClockError as exc:
        print(f"replica: {exc}", file=sys.stderr)
        return 2
    if args.scale < 1:
        print("--scale must be at least 1", file=sys.stderr)
        return 2
    faults = None
    if args.faults:
        from newsarchive.replica.faults import parse_spec

        try:
            faults = parse_spec(args.faults)
        except ValueError as exc:
            print(f"replica: {exc}", file=sys.stderr)
            return 2
    try:
        bodies = None
        if args.pages:
            bodies = [p.read_bytes() for p in sorted(Path(args.pages).rglob("*.html"))]
            if not bodies:
                print(f"replica: no *.html under {args.pages}", file=sys.stderr)
                return 2
        replica = Replica(
            seed=args.seed,
            articles_per_outlet=args.scale,
            crawl_delay=args.crawl_delay,
            stories=max(0, args.stories),
            page_bodies=bodies,
            now=now,
            faults=faults,
            latency=args.latency,
        )
        url = replica.start(host=args.host, port=args.port)
    except (OSError, RegistryError, ValueError) as exc:
        print(f"replica: cannot start: {exc}", file=sys.stderr)
        return 1
    print(
        f"newsarchive replica: {len(replica.outlets)} outlets, seed {args.seed}, "
        f"{args.scale} articles each, clock {replica.now.isoformat()}"
    )
    stop = threading.Event()
    # Explicit handlers: a backgrounded process inherits SIGINT as ignored, and SIGTERM
    # (service managers, test harnesses) should stop as cleanly as Ctrl-C. Set before the
    # lines below: a caller may signal as soon as it reads them.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    for key, plan in replica.fault_plans.items():
        print(f"faults of {key}: {', '.join(plan.faults)} (robots.txt lists them)")
    print(f"proxy: {url}")
    print(f"CA certificate: {replica.ca_file()}")
    print(f"example: https_proxy={url} http_proxy={url} scrapy crawl nypost")
    print("Ctrl-C to stop.", flush=True)
    try:
        stop.wait()
        print("\nstopping replica", flush=True)
    finally:
        replica.stop()
        print(f"served {len(replica.sent)} responses", flush=True)
    return 0
