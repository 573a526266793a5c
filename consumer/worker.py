"""A worker process: an asyncio loop reading the jobs stream as one consumer of the group,
running up to `concurrency` jobs with inference in a thread executor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from consumer.callbacks import CallbackSender
from consumer.inference import Engine
from consumer.lease import LeaseKeeper, StopReason
from consumer.metrics import WorkerMetrics
from consumer.queue import Delivery, JobQueue
from consumer.runner import JobRunner, Services
from shared.callback_policy import CallbackPolicy
from shared.keys import RedisKeys
from shared.redis_client import async_client, sync_client
from shared.schemas.api import WorkerInfo
from shared.schemas.redis_codec import encode_fields
from shared.settings import Settings
from shared.storage import open_storage
from shared.taskstore import TaskStore

logger = logging.getLogger(__name__)

_BACKOFF_MAX = 5.0
_MAINTENANCE_EVERY = 12  # reclaim scans between trims / consumer clean-ups
_SWEEP_SECONDS = 3600.0
_FORGET_CONSUMERS_AFTER = 3600.0
_RELEASE_GRACE = 15.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Worker:
    def __init__(
        self, settings: Settings, engine: Engine, concurrency: int, metrics_port: int
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.concurrency = concurrency
        self.metrics_port = metrics_port
        self.worker_id = new_worker_id()
        self.keys = RedisKeys(settings.redis_key_prefix)
        self.metrics = WorkerMetrics()
        self.storage = open_storage(settings)
        self.active: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._identity: dict[str, str] = {}  # presence fields that never change (set at start)

    def stop(self) -> None:
        if not self._stopping.is_set():
            logger.info("worker %s stopping: no new jobs", self.worker_id)
        self._stopping.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        await asyncio.to_thread(self.storage.initialise)
        self.metrics_port = self.metrics.serve(self.metrics_port)
        self._identity = encode_fields(WorkerInfo(
            worker_id=self.worker_id, host=socket.gethostname(), pid=os.getpid(),
            engine=self.engine.info.engine, model=self.engine.info.model,
            device=self.engine.info.device, concurrency=self.concurrency,
            metrics_port=self.metrics_port,
        ))  # fmt: skip
        client = async_client(self.settings)
        reader = async_client(self.settings, blocking_reads=True)
        queue = JobQueue(client, reader, self.settings, self.worker_id)
        self.stats = TaskStore(client, self.settings)
        heartbeat_client = sync_client(self.settings)
        keeper = LeaseKeeper(
            heartbeat_client, self.keys, self.worker_id, self.settings.lease_seconds, self._presence
        )
        executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="inference")
        callbacks = self._callback_sender()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                self.runner = JobRunner(
                    Services(self.settings, queue, self.stats, self.storage, self.engine, executor,
                             keeper, self.metrics, http, callbacks)
                )  # fmt: skip
                keeper.start()
                await self._serve(queue)
        finally:
            keeper.halt()
            self._unregister(heartbeat_client)
            heartbeat_client.connection_pool.disconnect()
            executor.shutdown(wait=False, cancel_futures=True)
            await callbacks.close()
            await client.aclose(close_connection_pool=True)
            await reader.aclose(close_connection_pool=True)

    async def _serve(self, queue: JobQueue) -> None:
        logger.info(
            "worker %s ready: %d slot(s), engine %s, metrics on :%d",
            self.worker_id, self.concurrency, self.engine.info.engine, self.metrics_port,
        )  # fmt: skip
        await asyncio.gather(self._read_loop(queue), self._maintenance_loop(queue))
        await self._drain()

    def _callback_sender(self) -> CallbackSender:
        secret = self.settings.callback_secret
        return CallbackSender(
            CallbackPolicy(self.settings.callback_allowed_hosts),
            attempts=self.settings.callback_attempts,
            timeout=self.settings.callback_timeout_seconds,
            secret=secret.get_secret_value() if secret else None,
        )

    # --- loops ----------------------------------------------------------------------------
    async def _read_loop(self, queue: JobQueue) -> None:
        await self._retrying(queue.ensure_group, queue)
        while not self._stopping.is_set():
            free = self.concurrency - len(self.active)
            if free <= 0:
                self._slot_freed.clear()
                await self._first_of(self._slot_freed, self._stopping)
                continue
            deliveries = await self._retrying(lambda free=free: queue.read(free), queue)
            for delivery in deliveries or []:
                self._spawn(delivery)

    async def _maintenance_loop(self, queue: JobQueue) -> None:
        scans, last_sweep = 0, 0.0
        while not self._stopping.is_set():
            free = self.concurrency - len(self.active)
            if free > 0:
                for delivery in (
                    await self._retrying(lambda free=free: queue.reclaim(free), queue) or []
                ):
                    logger.info("reclaimed %s from a silent worker", delivery.entry_id)
                    self._spawn(delivery)
            scans += 1
            if scans % _MAINTENANCE_EVERY == 1:
                await self._retrying(lambda: self._tidy(queue), queue)
            await self._refresh_queue_metrics()
            if time.time() - last_sweep > _SWEEP_SECONDS:
                last_sweep = time.time()
                await self._sweep()
            await self._wait_for(self._stopping, self.settings.reclaim_interval_seconds)

    async def _refresh_queue_metrics(self) -> None:
        """One try: while Redis is unreachable, report no queue figures rather than old ones."""
        try:
            self.metrics.queue.latest = await self.stats.queue_stats()
        except (RedisError, OSError):
            self.metrics.queue.latest = None

    async def _tidy(self, queue: JobQueue) -> None:
        removed = await queue.trim()
        if removed:
            logger.info("trimmed %d acknowledged entries from the jobs stream", removed)
        await queue.forget_idle_consumers(_FORGET_CONSUMERS_AFTER)

    async def _sweep(self) -> None:
        """Result retention (what Celery beat did): files older than RESULT_RETENTION_DAYS;
        task hashes expire by themselves (TTL set when they end)."""
        older_than = time.time() - self.settings.result_retention_days * 86400
        removed = await asyncio.to_thread(self.storage.sweep, older_than)
        if removed:
            logger.info("retention sweep removed %d stored item(s)", removed)

    # --- jobs -----------------------------------------------------------------------------
    def _spawn(self, delivery: Delivery) -> None:
        task = asyncio.create_task(self._run_job(delivery), name=f"job-{delivery.entry_id}")
        self.active.add(task)
        task.add_done_callback(self._finished)

    async def _run_job(self, delivery: Delivery) -> None:
        try:
            await self.runner.run(delivery)
        except Exception:  # the job loop's boundary: a job never takes the worker down
            logger.exception("job %s ended with an unexpected error", delivery.entry_id)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.active.discard(task)
        self._slot_freed.set()

    async def _drain(self) -> None:
        """Let running jobs finish for DRAIN_SECONDS, then hand the rest back at once."""
        if not self.active:
            return
        logger.info(
            "draining %d job(s) for up to %.0f s", len(self.active), self.settings.drain_seconds
        )
        _, still_running = await asyncio.wait(set(self.active), timeout=self.settings.drain_seconds)
        if not still_running:
            return
        for stop_signal in list(self.runner.running.values()):
            stop_signal.stop(StopReason.SHUTDOWN)
        await asyncio.wait(still_running, timeout=_RELEASE_GRACE)

    # --- resilience -----------------------------------------------------------------------
    async def _retrying(self, operation, queue: JobQueue):
        """Run a Redis operation, riding out outages with bounded backoff (no hot loop).
        A wiped Redis (NOGROUP) gets its stream and group recreated."""
        delay = 0.1
        while not self._stopping.is_set():
            try:
                return await operation()
            except ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                logger.warning("consumer group missing (Redis wiped?): recreating it")
                await self._quietly(queue.ensure_group)
            except (
                RedisConnectionError,
                RedisTimeoutError,
                RedisOutOfMemoryError,
                OSError,
            ) as error:
                logger.warning("redis unavailable (%s): retrying in %.1f s", error, delay)
            await self._wait_for(self._stopping, delay)
            delay = min(delay * 2, _BACKOFF_MAX)
        return None

    async def _quietly(self, operation) -> None:
        try:
            await operation()
        except (RedisConnectionError, RedisTimeoutError, OSError, ResponseError) as error:
            logger.warning("could not recreate the consumer group yet: %s", error)

    @staticmethod
    async def _first_of(*events: asyncio.Event) -> None:
        waiters = [asyncio.create_task(event.wait()) for event in events]
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()

    @staticmethod
    async def _wait_for(event: asyncio.Event, seconds: float | None = None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    # --- presence -------------------------------------------------------------------------
    def _presence(self) -> dict[str, str]:
        """Called by the lease keeper's thread at every beat: /ready's worker list."""
        moving = {"in_flight": str(len(self.runner.running)), "last_seen": str(time.time())}
        return {**self._identity, **moving}

    def _unregister(self, client: redis.Redis) -> None:
        try:
            client.zrem(self.keys.workers, self.worker_id)
            client.delete(self.keys.worker(self.worker_id))
        except redis.RedisError as error:
            logger.warning("could not unregister worker %s: %s", self.worker_id, error)
