"""A scrapy-redis priority queue with leases (reliable-queue semantics).

``pop`` moves the request atomically (one Lua script) from the queue into a lease: a sorted
set of lease ids scored by their deadline, plus the request's payload and priority kept
beside it. The worker acknowledges the lease once the response is fully processed (its
items spooled, its follow-up requests queued). A worker that dies stops renewing its
leases; when a lease's deadline passes, any worker's reaper puts the request back into the
queue. Deadlines use the Redis server clock, so machines with skewed clocks agree.
"""

from __future__ import annotations

import uuid

from scrapy_redis.queue import Base

LEASE_META = "fleet_lease"

# KEYS: queue, leases, lease data; ARGV: lease ms, lease id
_POP = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], r[1], ARGV[2] .. ':s', r[2])
return r[1]
"""

# KEYS: leases; ARGV: lease ms, ids...  (only leases that still exist are extended)
_RENEW = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
return n
"""

# KEYS: queue, leases, lease data; ARGV: max leases to requeue
_REAP = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(ids) do
  local p = redis.call('HGET', KEYS[3], id)
  local s = redis.call('HGET', KEYS[3], id .. ':s')
  if p then redis.call('ZADD', KEYS[1], tonumber(s or '0'), p) end
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id, id .. ':s')
end
return #ids
"""


# KEYS: seen set, queue; ARGV: member, seen ttl (0: none), payload, score
# The seen mark and the push happen together or not at all: a request marked seen but never
# queued (Redis lost in between) would be lost for good, as every later try is filtered.
_PUSH_UNSEEN = """
local added = redis.call('SADD', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if added == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
return 1
"""


class LeasedQueue(Base):
    """Per-outlet priority queue whose pops are leases; see the module docstring."""

    lease_seconds: float = 60.0

    def __init__(self, server, spider, key, serializer=None) -> None:
        super().__init__(server, spider, key, serializer)
        outlet = spider.name
        keys = getattr(spider, "fleet_keys", None)
        prefix = keys.prefix if keys is not None else self.key.split(":", 1)[0]
        self.leases_key = f"{prefix}:lease:{outlet}"
        self.data_key = f"{prefix}:leasedata:{outlet}"
        self.lease_seconds = float(
            spider.settings.getfloat("NEWSARCHIVE_FLEET_LEASE_SECONDS", self.lease_seconds)
            if getattr(spider, "settings", None)
            else self.lease_seconds
        )
        self.held: set[str] = set()  # leases this process holds and renews
        self._pop = server.register_script(_POP)
        self._renew = server.register_script(_RENEW)
        self._reap = server.register_script(_REAP)
        self._push_unseen = server.register_script(_PUSH_UNSEEN)

    def __len__(self) -> int:
        return self.server.zcard(self.key)

    def push(self, request, seen: tuple[str, str, int] | None = None) -> bool:
        """Queue ``request``; with ``seen`` (set key, member, ttl) only if the member is new
        to the set, in one script. Returns whether it was queued."""
        if LEASE_META in request.meta:  # a retry/redirect of a leased request
            request = request.replace(
                meta={k: v for k, v in request.meta.items() if k != LEASE_META}
            )
        data = self._encode_request(request)
        # Same ordering as scrapy-redis' PriorityQueue: lower score pops first.
        if seen is None:
            self.server.zadd(self.key, {data: -request.priority})
            return True
        key, member, ttl = seen
        return bool(
            self._push_unseen(keys=[key, self.key], args=[member, ttl, data, -request.priority])
        )

    def pop(self, timeout: int = 0):
        lease = uuid.uuid4().hex
        data = self._pop(
            keys=[self.key, self.leases_key, self.data_key],
            args=[int(self.lease_seconds * 1000), lease],
        )
        if not data:
            return None
        request = self._decode_request(data)
        request.meta[LEASE_META] = lease
        self.held.add(lease)
        return request

    def ack(self, lease: str) -> None:
        """The leased request is done: forget it (a no-op if it was already requeued)."""
        self.held.discard(lease)
        pipe = self.server.pipeline(transaction=True)
        pipe.zrem(self.leases_key, lease)
        pipe.hdel(self.data_key, lease, f"{lease}:s")
        pipe.execute()

    def renew(self) -> int:
        """Push back the deadline of every lease this process holds."""
        if not self.held:
            return 0
        return int(
            self._renew(keys=[self.leases_key], args=[int(self.lease_seconds * 1000), *self.held])
        )

    def reap(self, batch: int = 500) -> int:
        """Requeue expired leases (of any worker); returns how many."""
        return int(self._reap(keys=[self.key, self.leases_key, self.data_key], args=[batch]))

    def leased(self) -> int:
        return self.server.zcard(self.leases_key)

    def clear(self) -> None:
        self.server.delete(self.key, self.leases_key, self.data_key)
        self.held.clear()
