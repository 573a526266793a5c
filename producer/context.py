"""What every gateway handler needs: settings, task store, storage, metrics."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from producer.auth import ApiKeys
from producer.metrics import GatewayMetrics
from shared.errors import QueueFullError, TaskNotFoundError, TaskNotReadyError
from shared.schemas.messages import JobMessage, TaskRecord, TaskStatus
from shared.settings import Settings
from shared.storage import Storage
from shared.taskstore import Submission, TaskStore


@dataclass
class Gateway:
    settings: Settings
    store: TaskStore
    storage: Storage
    metrics: GatewayMetrics
    keys: ApiKeys

    async def admit(self, client: str) -> None:
        """Refuse new work (429, Retry-After) before reading the upload: while the backlog
        is at its limit, or this client is over its own limits."""
        limit = self.settings.max_queue_length
        if limit:
            stats = await self.store.queue_stats()
            if stats.waiting + stats.pending >= limit:
                raise QueueFullError(f"the queue holds {limit} jobs already: try again later")
        await self.store.admission(client)

    async def submit(self, job: JobMessage, record: TaskRecord, size: int) -> Submission:
        submission = await self.store.submit(job, record)
        if submission.created:
            self.metrics.submitted.inc()
            self.metrics.upload_bytes.inc(size)
        return submission

    async def task(self, task_id: str, tenant: str) -> TaskRecord:
        """The task, if it exists and (with API keys on) belongs to this tenant: another
        tenant's task is as unknown as a missing one."""
        record = await self.store.get(task_id)
        if record is None or (self.keys.enabled and record.owner != tenant):
            raise TaskNotFoundError(f"no task {task_id}")
        return record

    async def completed_task(self, task_id: str, tenant: str) -> TaskRecord:
        record = await self.task(task_id, tenant)
        if record.status is not TaskStatus.COMPLETED or not record.result_prefix:
            detail = f"task is {record.status.value}"
            if record.error_code:
                detail += f" ({record.error_code}: {record.error})"
            raise TaskNotReadyError(f"no result to download: {detail}")
        return record


GATEWAY = web.AppKey("gateway", Gateway)
