"""One delivered jobs entry, from ownership to exactly one terminal state.

The job loop's error boundary: whatever a job does (bad fields, bad audio, engine errors,
timeouts, cancellation), the worker records it on the task and goes on.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import secrets
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial

import aiohttp

from consumer.callbacks import CallbackSender
from consumer.fetch import local_audio
from consumer.inference import Engine, StoredResult, diarize_and_store
from consumer.lease import LeaseKeeper, StopReason, StopSignal
from consumer.metrics import WorkerMetrics
from consumer.outcomes import Outcomes, ProgressReporter
from consumer.queue import Acquired, Acquisition, Delivery, JobQueue, Ownership
from shared.errors import DiarizationError, JobCancelledError
from shared.logs import job_context
from shared.schemas.messages import TASK_ID_PATTERN, JobMessage, TaskRecord
from shared.schemas.redis_codec import text_fields
from shared.settings import Settings
from shared.storage import Storage, result_prefix
from shared.taskstore import TaskStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """Everything of a worker process that jobs share."""

    settings: Settings
    queue: JobQueue
    tasks: TaskStore  # reads of task hashes
    storage: Storage
    engine: Engine
    executor: Executor
    keeper: LeaseKeeper
    metrics: WorkerMetrics
    http: aiohttp.ClientSession  # audio downloads
    callbacks: CallbackSender


class JobRunner:
    def __init__(self, services: Services) -> None:
        self.settings = services.settings
        self.queue = services.queue
        self.tasks = services.tasks
        self.storage = services.storage
        self.engine = services.engine
        self.executor = services.executor
        self.keeper = services.keeper
        self.metrics = services.metrics
        self.http = services.http
        self.callbacks = services.callbacks
        self.outcomes = Outcomes(services.queue, services.metrics)
        # stop signals of the attempts running now, by task id (shutdown stops them)
        self.running: dict[str, StopSignal] = {}
        # callbacks being sent (kept referenced until done)
        self._callbacks: set[asyncio.Task[bool]] = set()

    async def run(self, delivery: Delivery) -> None:
        job, problem = _parse(delivery)
        task_id = job.task_id or delivery.entry_id
        token = f"{self.queue.consumer}:{secrets.token_hex(6)}"
        options = job.options() if problem is None else None
        record = TaskRecord.queued(task_id, job, options, created_at=job.submitted_at)
        acquisition = await self.queue.acquire(delivery, task_id, token, record, job)
        if acquisition.outcome is not Acquired.OK:
            logger.info("skipping %s: %s", delivery.entry_id, acquisition.outcome.value)
            return
        owner = Ownership(task_id, delivery.entry_id, token)
        with job_context(task_id, acquisition.deliveries):
            await self._dispatch(owner, job, problem, acquisition, delivery)

    async def _dispatch(
        self,
        owner: Ownership,
        job: JobMessage,
        problem: DiarizationError | None,
        acquisition: Acquisition,
        delivery: Delivery,
    ) -> None:
        attempt = acquisition.deliveries
        if problem is not None:
            await self.outcomes.failed(owner, attempt, problem)
        elif acquisition.cancel_requested:
            await self.outcomes.cancelled(owner, attempt)
        elif attempt > self.settings.max_deliveries:
            await self.outcomes.dead_letter(owner, attempt, delivery)
        else:
            await self._process(owner, job, attempt)
            return
        await self._callback(job, owner.task_id)

    async def _process(self, owner: Ownership, job: JobMessage, attempt: int) -> None:
        if attempt > 1:
            self.metrics.reclaimed.inc()
        else:
            self.metrics.queue_latency.observe(max(time.time() - job.submitted_at, 0.0))
        if await self.outcomes.processing(owner, attempt) != "ok":
            return
        signal = StopSignal(time.monotonic() + self.settings.task_timeout_minutes * 60)
        self.keeper.track(owner, signal)
        self.running[owner.task_id] = signal
        self.metrics.started.inc()
        self.metrics.in_flight.inc()
        started = time.monotonic()
        logger.info("job started", extra={"audio": job.audio, "entry_id": owner.entry_id})
        try:
            await self._attempt(owner, job, attempt, signal)
        finally:
            self.keeper.forget(owner)
            self.running.pop(owner.task_id, None)
            self.metrics.in_flight.dec()
            elapsed = time.monotonic() - started
            self.metrics.job_duration.observe(elapsed)
            stopped = signal.reason.value if signal.reason else None
            logger.info("job ended", extra={"seconds": round(elapsed, 3), "stopped": stopped})
        if signal.reason is not StopReason.SHUTDOWN and signal.reason is not StopReason.LEASE_LOST:
            await self._callback(job, owner.task_id)

    async def _attempt(
        self, owner: Ownership, job: JobMessage, attempt: int, signal: StopSignal
    ) -> None:
        progress = ProgressReporter(self.outcomes, owner, attempt, asyncio.get_running_loop())
        prefix = result_prefix(owner.task_id, f"attempt-{attempt}-{owner.token[-12:]}")
        try:
            stored = await self._diarize(job, prefix, progress, signal)
            await self.outcomes.completed(owner, attempt, stored, prefix, self.storage)
        except JobCancelledError:
            await self._stopped(owner, attempt, signal)
        except DiarizationError as error:
            await self.outcomes.failed(owner, attempt, error)
        except Exception as error:
            logger.exception("job %s crashed", owner.task_id)
            await self.outcomes.failed(
                owner, attempt, DiarizationError(f"internal error: {type(error).__name__}: {error}")
            )

    async def _diarize(
        self, job: JobMessage, prefix: str, progress: ProgressReporter, signal: StopSignal
    ) -> StoredResult:
        """Engine and result files in the executor; the log context goes along. Returns
        (or raises) only once its progress events are written: none follows the end."""
        max_bytes = self.settings.max_file_size_bytes
        try:
            async with local_audio(
                job.audio, job.filename, self.storage, self.http, max_bytes
            ) as audio:
                work = partial(
                    diarize_and_store, engine=self.engine, storage=self.storage,
                    audio=audio.path, filename=audio.name, options=job.options(), prefix=prefix,
                    on_progress=progress.report, check=signal.check,
                )  # fmt: skip
                context = contextvars.copy_context()
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self.executor, context.run, work)
        finally:
            await progress.drain()

    async def _stopped(self, owner: Ownership, attempt: int, signal: StopSignal) -> None:
        reason = signal.reason
        if reason is StopReason.LEASE_LOST:
            self.metrics.lease_lost.inc()
        elif reason is StopReason.CANCELLED:
            await self.outcomes.cancelled(owner, attempt)
        elif reason is StopReason.TIMEOUT:
            await self.outcomes.timed_out(owner, attempt, self.settings.task_timeout_minutes)
        elif reason is StopReason.SHUTDOWN:
            await self.outcomes.released(owner, attempt)

    async def _callback(self, job: JobMessage, task_id: str) -> None:
        """Tell the submitter, in the background: a slow receiver never holds a job slot."""
        if not job.callback_url:
            return
        task = await self.tasks.get(task_id)
        if task is None or not task.status.terminal:
            return
        payload = {
            "task_id": task_id,
            "status": task.status.value,
            "error_code": task.error_code,
            "error": task.error,
            "summary": task.summary.model_dump(mode="json") if task.summary else None,
        }
        sending = asyncio.create_task(self.callbacks.send(job.callback_url, payload))
        self._callbacks.add(sending)
        sending.add_done_callback(self._callbacks.discard)


def _parse(delivery: Delivery) -> tuple[JobMessage, DiarizationError | None]:
    """The job, or a placeholder plus the INVALID_JOB error to record on its task."""
    try:
        job = JobMessage.from_entry(delivery.fields)
        job.options()
        return job, None
    except DiarizationError as error:
        raw = text_fields(delivery.fields)
        task_id = raw.get("task_id", "")
        placeholder = JobMessage.model_construct(
            task_id=task_id if re.fullmatch(TASK_ID_PATTERN, task_id) else None,
            audio=raw.get("audio", "")[:4096],
            filename=None,
            callback_url=None,
            idempotency_key=None,
            owner="",
            submitted_at=time.time(),
        )
        return placeholder, error
