"""What the fleet is doing: queue sizes per outlet, workers alive, pages per minute."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from newsarchive.fleet.keys import FleetKeys, connect

ALIVE_SECONDS = 10.0  # a worker beats every second; ten missed beats and it counts as gone


@dataclass
class OutletQueue:
    outlet: str
    queued: int
    leased: int
    seen: int
    run_id: str | None
    locked: bool


@dataclass
class WorkerInfo:
    worker: str
    alive: bool
    age: float  # seconds since the last heartbeat
    pages: int
    pages_per_min: float
    leases: int
    host: str
    pid: int
    run: str = ""
    redis_timeout: float = 60.0

    @property
    def may_be_running(self) -> bool:
        """Whether the worker may still write its spool: a worker cut off from Redis
        (no heartbeat) goes on for up to its Redis timeout before it stops."""
        return self.age <= ALIVE_SECONDS + self.redis_timeout


@dataclass
class FleetStatus:
    outlets: list[OutletQueue] = field(default_factory=list)
    workers: list[WorkerInfo] = field(default_factory=list)
    redis_memory: int = 0

    @property
    def queued(self) -> int:
        return sum(o.queued for o in self.outlets)

    @property
    def leased(self) -> int:
        return sum(o.leased for o in self.outlets)

    @property
    def alive(self) -> list[WorkerInfo]:
        return [w for w in self.workers if w.alive]

    def render(self) -> str:
        lines = [
            f"frontier: {self.queued} queued, {self.leased} leased, "
            f"{len(self.alive)}/{len(self.workers)} workers alive, "
            f"redis memory {self.redis_memory / 1e6:.1f} MB",
            "",
            f"{'worker':<28} {'state':<6} {'beat':>6} {'pages':>8} {'pages/min':>10} {'leases':>7}",
        ]
        for w in self.workers:
            lines.append(
                f"{w.worker:<28} {'alive' if w.alive else 'gone':<6} {w.age:>5.0f}s "
                f"{w.pages:>8} {w.pages_per_min:>10.1f} {w.leases:>7}"
            )
        lines += ["", f"{'outlet':<18} {'queued':>8} {'leased':>7} {'seen':>8}  run"]
        for o in self.outlets:
            if o.queued or o.leased or o.seen or o.locked:
                run = (o.run_id or "-") + (" (running)" if o.locked else "")
                lines.append(f"{o.outlet:<18} {o.queued:>8} {o.leased:>7} {o.seen:>8}  {run}")
        return "\n".join(lines)


def fleet_status(redis_url: str, outlets: list[str], prefix: str = "na") -> FleetStatus:
    server = connect(redis_url)
    keys = FleetKeys(prefix)
    pipe = server.pipeline(transaction=False)
    for o in outlets:
        pipe.zcard(keys.queue(o))
        pipe.zcard(keys.leases(o))
        pipe.scard(keys.dupefilter(o))
        pipe.get(keys.run(o))
        pipe.exists(keys.lock(o))
    pipe.hgetall(keys.workers)
    pipe.zrange(keys.heartbeats, 0, -1, withscores=True)
    pipe.info("memory")
    res = pipe.execute()
    status = FleetStatus()
    for i, o in enumerate(outlets):
        q, leased, seen, run, locked = res[i * 5 : i * 5 + 5]
        status.outlets.append(
            OutletQueue(o, q, leased, seen, run.decode() if run else None, bool(locked))
        )
    infos, beats, memory = res[-3], dict(res[-2]), res[-1]
    status.redis_memory = int(memory.get("used_memory", 0))
    now = time.time()
    for wid, raw in sorted(infos.items()):
        info = json.loads(raw)
        last = beats.get(wid, info.get("seen", 0))
        age = max(0.0, now - float(last))
        status.workers.append(
            WorkerInfo(
                wid.decode(),
                age <= ALIVE_SECONDS,
                age,
                int(info.get("pages", 0)),
                float(info.get("pages_per_min", 0)),
                int(info.get("leases", 0)),
                str(info.get("host", "")),
                int(info.get("pid", 0)),
                str(info.get("run", "")),
                float(info.get("redis_timeout", 60.0)),
            )
        )
    return status


def drained(redis_url: str, outlets: list[str], prefix: str = "na") -> bool:
    """No request queued or leased for any of ``outlets``."""
    server = connect(redis_url)
    keys = FleetKeys(prefix)
    pipe = server.pipeline(transaction=False)
    for o in outlets:
        pipe.zcard(keys.queue(o))
        pipe.zcard(keys.leases(o))
    return not any(pipe.execute())
