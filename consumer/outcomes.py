"""Every state a worker writes on a task, each as one fenced transition with its event."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future

from consumer.inference import StoredResult
from consumer.metrics import WorkerMetrics
from consumer.queue import Delivery, JobQueue, Ownership
from shared.errors import DiarizationError, MaxDeliveriesError, TaskTimeoutError
from shared.schemas.messages import ResultSummary, TaskEvent, TaskStatus
from shared.schemas.redis_codec import text_fields
from shared.storage import Storage

logger = logging.getLogger(__name__)


def summarise(stored: StoredResult) -> ResultSummary:
    result = stored.result
    return ResultSummary(
        num_speakers=result.num_speakers,
        speakers=result.speakers,
        duration=result.audio.duration,
        processing_time=result.processing_time,
        real_time_factor=result.real_time_factor,
        store_time=round(stored.store_time, 3),
        engine=result.engine.engine,
        model=result.engine.model,
    )


class ProgressReporter:
    """Called from the inference thread; each report becomes a fenced transition on the
    event loop. `drain` waits for those in flight, so no progress event can follow the
    terminal one."""

    def __init__(self, outcomes: Outcomes, owner: Ownership, attempt: int,
                 loop: asyncio.AbstractEventLoop) -> None:  # fmt: skip
        self._outcomes, self._owner, self._attempt, self._loop = outcomes, owner, attempt, loop
        self._pending: list[Future[str]] = []

    def report(self, stage: str, percent: float) -> None:
        coroutine = self._outcomes.progress(self._owner, self._attempt, stage, percent)
        self._pending.append(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def drain(self) -> None:
        pending, self._pending = self._pending, []
        await asyncio.gather(*(asyncio.wrap_future(f) for f in pending), return_exceptions=True)


class Outcomes:
    def __init__(self, queue: JobQueue, metrics: WorkerMetrics) -> None:
        self.queue = queue
        self.metrics = metrics

    async def processing(self, owner: Ownership, attempt: int) -> str:
        message = "processing" if attempt == 1 else f"processing (attempt {attempt})"
        changes = {
            "progress": "0", "message": message, "stage": "starting", "attempt": str(attempt),
            "worker": self.queue.consumer, "started_at": str(time.time()),
        }  # fmt: skip
        event = _event(owner, attempt, TaskStatus.PROCESSING, message, stage="starting")
        return await self._write(owner, event, changes)

    async def progress(self, owner: Ownership, attempt: int, stage: str, percent: float) -> str:
        message = f"{stage} {percent:.0f}%"
        changes = {"progress": str(percent), "stage": stage, "message": message}
        event = _event(
            owner, attempt, TaskStatus.PROCESSING, message, progress=percent, stage=stage
        )
        return await self._write(owner, event, changes)

    async def completed(
        self,
        owner: Ownership,
        attempt: int,
        stored: StoredResult,
        prefix: str,
        storage: Storage,
    ) -> None:
        result = stored.result
        summary = summarise(stored)
        message = f"completed: {result.num_speakers} speaker(s)"
        changes = {
            "progress": "100", "message": message, "stage": "done", "result_prefix": prefix,
            "finished_at": str(time.time()), "summary": summary.model_dump_json(),
        }  # fmt: skip
        event = _event(
            owner, attempt, TaskStatus.COMPLETED, message, progress=100.0, stage="done",
            summary=summary,
        )  # fmt: skip
        answer = await self._write(owner, event, changes, terminal=True)
        if answer == "ok":
            self.metrics.completed.inc()
            self.metrics.audio_seconds.inc(result.audio.duration)
            self.metrics.inference_duration.observe(result.processing_time)
            self.metrics.real_time_factor.observe(result.real_time_factor)
            return
        # not ours any more, or cancelled while finishing: the files must not linger
        await asyncio.to_thread(storage.delete_prefix, prefix)
        if answer == "cancel":
            await self.cancelled(owner, attempt)

    async def failed(
        self,
        owner: Ownership,
        attempt: int,
        error: DiarizationError,
        dead_letter: dict[str, str] | None = None,
    ) -> str:
        message = f"failed: {error.message}"
        changes = {
            "message": message, "error_code": error.code.value, "error": error.message,
            "finished_at": str(time.time()), "stage": "failed",
        }  # fmt: skip
        event = _event(
            owner, attempt, TaskStatus.FAILED, message, stage="failed",
            error_code=error.code.value, error=error.message,
        )  # fmt: skip
        answer = await self._write(owner, event, changes, terminal=True, dead_letter=dead_letter)
        if answer == "ok":
            self.metrics.failed.labels(error.code.value).inc()
        return answer

    async def timed_out(self, owner: Ownership, attempt: int, minutes: float) -> None:
        error = TaskTimeoutError(f"the job ran longer than TASK_TIMEOUT_MINUTES ({minutes:g})")
        await self.failed(owner, attempt, error)

    async def cancelled(self, owner: Ownership, attempt: int) -> None:
        message = "cancelled by user"
        changes = {"message": message, "finished_at": str(time.time()), "stage": "cancelled"}
        event = _event(owner, attempt, TaskStatus.CANCELLED, message, stage="cancelled")
        if await self._write(owner, event, changes, terminal=True) == "ok":
            self.metrics.cancelled.inc()

    async def released(self, owner: Ownership, attempt: int) -> None:
        message = "worker shutting down: waiting for another worker"
        event = _event(owner, attempt, TaskStatus.PROCESSING, message, stage="released")
        changes = {"message": message, "stage": "released", "progress": "0"}
        if await self.queue.release(owner, attempt, event, changes) == "ok":
            self.metrics.released.inc()

    async def dead_letter(self, owner: Ownership, attempt: int, delivery: Delivery) -> None:
        error = MaxDeliveriesError(
            f"gave up after {attempt - 1} deliveries: the job keeps stopping its worker"
        )
        dead = {
            **text_fields(delivery.fields), "dead_task_id": owner.task_id,
            "dead_entry_id": delivery.entry_id, "dead_deliveries": str(attempt - 1),
            "dead_reason": error.message,
        }  # fmt: skip
        if await self.failed(owner, attempt, error, dead_letter=dead) == "ok":
            self.metrics.dead_lettered.inc()

    async def _write(
        self,
        owner: Ownership,
        event: TaskEvent,
        changes: dict[str, str],
        *,
        terminal: bool = False,
        dead_letter: dict[str, str] | None = None,
    ) -> str:
        answer = await self.queue.transition(owner, event, changes, terminal, dead_letter)
        if answer != "ok":
            logger.info("%s -> %s refused: %s", owner.task_id, event.status.value, answer)
        return answer


def _event(
    owner: Ownership,
    attempt: int,
    status: TaskStatus,
    message: str,
    *,
    progress: float = 0.0,
    **details: object,
) -> TaskEvent:
    return TaskEvent(
        task_id=owner.task_id,
        status=status,
        progress=progress,
        message=message,
        attempt=attempt,
        **details,
    )
