"""Tasks as the gateway and the CLI see them: submit, read, cancel, delete, queue figures.

Workers change tasks through fenced scripts (consumer/queue.py, consumer/outcomes.py);
everything here is either a read or a change a worker cannot race with (see shared/lua/).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from shared.errors import RateLimitedError, TooManyTasksError
from shared.keys import RedisKeys
from shared.schemas.api import WorkerInfo
from shared.schemas.messages import JobMessage, TaskEvent, TaskRecord, TaskStatus
from shared.schemas.redis_codec import RawFields, decode_fields, encode_fields, text
from shared.scripts import Scripts, flat
from shared.settings import Settings


@dataclass(frozen=True)
class QueueStats:
    length: int  # entries in the jobs stream (trimmed below the oldest unacked one)
    waiting: int  # entries not yet delivered to any worker
    pending: int  # delivered, not yet acknowledged (running, or lost with a dead worker)
    consumers: int
    workers_alive: int
    dead_letters: int


@dataclass(frozen=True)
class Submission:
    task_id: str
    entry_id: str
    created: bool  # False: an earlier submission with the same idempotency key


async def ensure_group(client: aioredis.Redis, keys: RedisKeys) -> None:
    """Create the jobs stream and its consumer group if missing (idempotent)."""
    try:
        await client.xgroup_create(keys.jobs, keys.group, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


class TaskStore:
    def __init__(self, client: aioredis.Redis, settings: Settings) -> None:
        self.client = client
        self.keys = RedisKeys(settings.redis_key_prefix)
        self.retention = int(settings.result_retention_days * 86400)
        self.events_max_length = settings.events_max_length
        self.max_uploads_per_hour = settings.max_uploads_per_hour
        self.max_active_tasks = settings.max_active_tasks_per_client
        # a worker counts as alive while its last heartbeat is younger than a lease
        self.alive_window = settings.lease_seconds
        self.scripts = Scripts(client)

    async def ensure_group(self) -> None:
        await ensure_group(self.client, self.keys)

    async def admission(self, client: str) -> None:
        """Refuse early (before an upload is read) a client already over its limits; the
        binding check is the one inside submit()."""
        if self.max_uploads_per_hour:
            now = time.time()
            key = self.keys.uploads(client)
            recent = await self.client.zrangebyscore(key, now - 3600, "+inf", withscores=True)
            if len(recent) >= self.max_uploads_per_hour:
                oldest = recent[0][1]
                raise RateLimitedError(self._rate_message(), retry_after=oldest + 3600 - now)
        active = await self.client.scard(self.keys.active(client))
        if self.max_active_tasks and active >= self.max_active_tasks:
            raise TooManyTasksError(self._busy_message(), retry_after=30)

    async def submit(self, job: JobMessage, record: TaskRecord) -> Submission:
        task_id = record.task_id
        event = TaskEvent(task_id=task_id, status=TaskStatus.QUEUED, progress=0, message="queued")
        idempotency = self.keys.idempotency(job.owner or "-", job.idempotency_key or "")
        keys = [
            self.keys.jobs,
            self.keys.task(task_id),
            self.keys.events,
            self.keys.task_events(task_id),
            idempotency,
            self.keys.uploads(record.client),
            self.keys.active(record.client),
        ]
        code, value = await self.scripts.submit(
            keys=keys,
            args=[
                task_id,
                self.retention,
                self.events_max_length,
                time.time(),
                self.max_uploads_per_hour,
                self.max_active_tasks,
                "1" if job.idempotency_key else "0",
                *flat(encode_fields(job)),
                *flat(encode_fields(record)),
                *flat(encode_fields(event)),
            ],
        )
        outcome, value = text(code), text(value)
        if outcome == "rate":
            raise RateLimitedError(self._rate_message(), retry_after=float(value))
        if outcome == "busy":
            raise TooManyTasksError(self._busy_message(), retry_after=30)
        if outcome == "duplicate":
            return Submission(task_id=value, entry_id="", created=False)
        return Submission(task_id=task_id, entry_id=value, created=True)

    def _rate_message(self) -> str:
        return f"more than {self.max_uploads_per_hour} uploads in the last hour: slow down"

    def _busy_message(self) -> str:
        return f"{self.max_active_tasks} tasks of yours are queued or running: wait for some"

    async def get(self, task_id: str) -> TaskRecord | None:
        fields = await self.client.hgetall(self.keys.task(task_id))
        return TaskRecord.from_hash(fields) if fields else None

    async def events_after(self, task_id: str, after: str) -> list[tuple[str, RawFields]]:
        """The task's event entries after entry id `after` ("0": all of them), oldest first."""
        entries = await self.client.xrange(self.keys.task_events(task_id), min=f"({after}")
        return [(text(entry_id), fields) for entry_id, fields in entries]

    async def cancel(self, task_id: str) -> str:
        """'missing', 'ended', 'cancelled' (was queued) or 'requested' (was running)."""
        now = time.time()
        event = TaskEvent(
            task_id=task_id, status=TaskStatus.CANCELLED, progress=0, message="cancelled by user"
        )
        changes = {"message": "cancelled by user", "finished_at": str(now), "updated_at": str(now)}
        result = await self.scripts.cancel(
            keys=[self.keys.task(task_id), self.keys.events, self.keys.task_events(task_id)],
            args=[
                self.retention,
                self.events_max_length,
                self.keys.active(""),
                task_id,
                *flat(changes),
                *flat(encode_fields(event)),
            ],
        )
        return text(result)

    async def delete(self, task_id: str) -> None:
        await self.client.delete(self.keys.task(task_id), self.keys.task_events(task_id))

    async def live_workers(self) -> list[WorkerInfo]:
        """Workers whose last heartbeat is younger than a lease, with what they reported."""
        since = time.time() - self.alive_window
        ids = await self.client.zrangebyscore(self.keys.workers, since, "+inf")
        pipe = self.client.pipeline(transaction=False)
        for worker_id in ids:
            pipe.hgetall(self.keys.worker(text(worker_id)))
        hashes = await pipe.execute() if ids else []
        return [decode_fields(WorkerInfo, fields) for fields in hashes if fields]

    async def queue_stats(self) -> QueueStats:
        """One round trip (every upload asks, with MAX_QUEUE_LENGTH set)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.xlen(self.keys.jobs)
        pipe.xinfo_groups(self.keys.jobs)
        pipe.zcount(self.keys.workers, time.time() - self.alive_window, "+inf")
        pipe.xlen(self.keys.dead_letters)
        length, groups, alive, dead = await pipe.execute(raise_on_error=False)
        if isinstance(groups, ResponseError):  # no stream yet
            groups = []
        for value in (length, alive, dead):
            if isinstance(value, Exception):
                raise value
        waiting = pending = consumers = 0
        for group in groups:
            if text(group["name"]) == self.keys.group:
                pending, consumers = int(group["pending"]), int(group["consumers"])
                waiting = int(group.get("lag") or 0)
        return QueueStats(length, waiting, pending, consumers, alive, dead)
