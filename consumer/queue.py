"""The worker's side of the jobs stream: read, reclaim, own, change and hand back tasks.

Every change of a task goes through a Lua script that first checks this attempt still owns
it (fencing token in the lease key + the entry pending under this consumer): a worker that
was paused past its lease and wakes up cannot overwrite the task or ack its entry.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

import redis.asyncio as aioredis

from shared.keys import RedisKeys
from shared.schemas.messages import JobMessage, TaskEvent, TaskRecord
from shared.schemas.redis_codec import RawFields, encode_fields, text
from shared.scripts import Scripts, flat
from shared.settings import Settings
from shared.taskstore import ensure_group

logger = logging.getLogger(__name__)

# After a graceful release, the entry looks this idle so the next reclaim scan takes it.
_RELEASED_IDLE_MS = 10 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Delivery:
    """A jobs entry handed to this consumer (by XREADGROUP or XAUTOCLAIM)."""

    entry_id: str
    fields: RawFields


@dataclass(frozen=True)
class Ownership:
    """What this attempt needs to prove it still owns the task."""

    task_id: str
    entry_id: str
    token: str


class Acquired(StrEnum):
    OK = "ok"
    LOST = "lost"
    DUPLICATE = "duplicate"
    TERMINAL = "terminal"


@dataclass(frozen=True)
class Acquisition:
    outcome: Acquired
    deliveries: int
    cancel_requested: bool


class JobQueue:
    def __init__(
        self, client: aioredis.Redis, reader: aioredis.Redis, settings: Settings, consumer: str
    ) -> None:
        self.client = client
        self.reader = reader  # blocking XREADGROUP only: its socket timeout exceeds BLOCK
        self.keys = RedisKeys(settings.redis_key_prefix)
        self.settings = settings
        self.consumer = consumer
        self.lease_ms = int(settings.lease_seconds * 1000)
        self.retention = int(settings.result_retention_days * 86400)
        self.scripts = Scripts(client)

    async def ensure_group(self) -> None:
        await ensure_group(self.client, self.keys)

    async def read(self, count: int) -> list[Delivery]:
        """New entries for this consumer, blocking up to READ_BLOCK_MS."""
        reply = await self.reader.xreadgroup(
            self.keys.group,
            self.consumer,
            {self.keys.jobs: ">"},
            count=count,
            block=self.settings.read_block_ms,
        )
        return [
            Delivery(text(entry), fields) for _, entries in reply or [] for entry, fields in entries
        ]

    async def reclaim(self, count: int) -> list[Delivery]:
        """Entries whose owner stopped heartbeating for a lease (dead, stuck, or released).

        Entries deleted from the stream while pending (XDEL or trimming by someone else)
        come back as ids only: they are acknowledged so they stop haunting the pending list.
        """
        reply = await self.client.xautoclaim(
            self.keys.jobs, self.keys.group, self.consumer, self.lease_ms, "0-0", count=count
        )
        claimed = [Delivery(text(entry), fields) for entry, fields in reply[1] if fields]
        deleted = [text(entry) for entry in (reply[2] if len(reply) > 2 else [])]
        deleted += [text(entry) for entry, fields in reply[1] if not fields]
        if deleted:
            logger.warning("acknowledging %d pending entries deleted from the stream", len(deleted))
            await self.client.xack(self.keys.jobs, self.keys.group, *deleted)
        return claimed

    async def acquire(
        self, delivery: Delivery, task_id: str, token: str, new_task: TaskRecord, job: JobMessage
    ) -> Acquisition:
        idempotency = self.keys.idempotency(job.owner or "-", job.idempotency_key or "")
        outcome, deliveries, cancel = await self.scripts.acquire(
            keys=[self.keys.jobs, self.keys.task(task_id), self.keys.lease(task_id), idempotency],
            args=[
                self.keys.group, delivery.entry_id, self.consumer, token, self.lease_ms,
                task_id, self.retention, "1" if job.idempotency_key else "0",
                *flat(encode_fields(new_task)),
            ],
        )  # fmt: skip
        return Acquisition(Acquired(text(outcome)), int(deliveries), bool(int(cancel)))

    async def transition(
        self,
        owner: Ownership,
        event: TaskEvent,
        changes: dict[str, str],
        terminal: bool = False,
        dead_letter: dict[str, str] | None = None,
    ) -> str:
        """Fenced state change; see shared/lua/transition.lua for the answers."""
        changes = {**changes, "updated_at": str(time.time())}
        result = await self.scripts.transition(
            keys=self._task_keys(owner.task_id),
            args=[
                self.keys.group, owner.entry_id, self.consumer, owner.token,
                event.status.value, self.retention if terminal else 0,
                self.settings.events_max_length, self.keys.active(""), owner.task_id,
                *flat(changes), *flat(encode_fields(event)), *flat(dead_letter or {}),
            ],
        )  # fmt: skip
        return text(result)

    async def release(
        self, owner: Ownership, deliveries: int, event: TaskEvent, changes: dict[str, str]
    ) -> str:
        result = await self.scripts.release(
            keys=[
                self.keys.jobs, self.keys.lease(owner.task_id), self.keys.task(owner.task_id),
                self.keys.events, self.keys.task_events(owner.task_id),
            ],
            args=[
                self.keys.group, owner.entry_id, self.consumer, owner.token, _RELEASED_IDLE_MS,
                deliveries, self.settings.events_max_length, *flat(changes),
                *flat(encode_fields(event)),
            ],
        )  # fmt: skip
        return text(result)

    async def trim(self) -> int:
        return int(await self.scripts.trim(keys=[self.keys.jobs], args=[self.keys.group]))

    async def forget_idle_consumers(self, idle_seconds: float) -> None:
        """Drop consumers of exited workers. Only those with nothing pending: DELCONSUMER
        silently discards a consumer's pending entries."""
        for consumer in await self.client.xinfo_consumers(self.keys.jobs, self.keys.group):
            name = text(consumer["name"])
            idle = int(consumer["idle"]) / 1000
            if name != self.consumer and int(consumer["pending"]) == 0 and idle > idle_seconds:
                await self.client.xgroup_delconsumer(self.keys.jobs, self.keys.group, name)

    def _task_keys(self, task_id: str) -> list[str]:
        return [
            self.keys.jobs,
            self.keys.task(task_id),
            self.keys.events,
            self.keys.task_events(task_id),
            self.keys.lease(task_id),
            self.keys.dead_letters,
        ]
