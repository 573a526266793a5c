"""Leases kept alive from a thread of their own.

Inference is CPU-bound and can starve the event loop, so heartbeats do not depend on it:
one thread per worker process, with its own synchronous Redis connections, extends the
lease of every running attempt every third of a lease, refreshes the worker's presence,
and tells each attempt to stop when its lease is lost or its user cancelled it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

import redis

from consumer.queue import Ownership
from shared.errors import JobCancelledError
from shared.keys import RedisKeys
from shared.scripts import Scripts

logger = logging.getLogger(__name__)


class StopReason(StrEnum):
    LEASE_LOST = "lease lost"
    CANCELLED = "cancelled by user"
    TIMEOUT = "timed out"
    SHUTDOWN = "worker shutting down"


class StopSignal:
    """Set from any thread; checked by inference at every pyannote hook call."""

    def __init__(self, deadline: float) -> None:
        self._event = threading.Event()
        self.reason: StopReason | None = None
        self.deadline = deadline  # time.monotonic() past which the job times out

    def stop(self, reason: StopReason) -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            self.stop(StopReason.TIMEOUT)
        if self._event.is_set():
            raise JobCancelledError(f"job stopped: {self.reason}")


class LeaseKeeper(threading.Thread):
    def __init__(
        self,
        client: redis.Redis,
        keys: RedisKeys,
        consumer: str,
        lease_seconds: float,
        presence: Callable[[redis.Redis], None],
    ) -> None:
        super().__init__(name="lease-keeper", daemon=True)
        self.client = client
        self.keys = keys
        self.consumer = consumer
        self.lease_ms = int(lease_seconds * 1000)
        self.interval = lease_seconds / 3
        self.presence = presence
        self.scripts = Scripts(client)
        self._attempts: dict[str, tuple[Ownership, StopSignal]] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def track(self, owner: Ownership, signal: StopSignal) -> None:
        with self._lock:
            self._attempts[owner.task_id] = (owner, signal)

    def forget(self, owner: Ownership) -> None:
        with self._lock:
            self._attempts.pop(owner.task_id, None)

    def halt(self) -> None:
        self._halt.set()

    def run(self) -> None:
        while not self._halt.is_set():
            started = time.monotonic()
            self.beat()
            self._halt.wait(max(self.interval - (time.monotonic() - started), 0.05))

    def beat(self) -> None:
        with self._lock:
            attempts = list(self._attempts.values())
        for owner, signal in attempts:
            self._extend(owner, signal)
        try:
            self.presence(self.client)
        except redis.RedisError as error:
            logger.warning("could not refresh worker presence: %s", error)

    def _extend(self, owner: Ownership, signal: StopSignal) -> None:
        try:
            answer = int(
                self.scripts.heartbeat(
                    keys=[
                        self.keys.jobs,
                        self.keys.lease(owner.task_id),
                        self.keys.task(owner.task_id),
                    ],
                    args=[
                        self.keys.group,
                        owner.entry_id,
                        self.consumer,
                        owner.token,
                        self.lease_ms,
                    ],
                )
            )
        except redis.RedisError as error:
            # Keep the job running: the lease outlives a short outage, and if it does not,
            # the next successful beat sees that and stops the job.
            logger.warning(
                "heartbeat for %s failed: %s",
                owner.task_id,
                error,
                extra={"task_id": owner.task_id},
            )
            return
        if answer == 0:
            logger.warning(
                "lease of %s lost: stopping the job",
                owner.task_id,
                extra={"task_id": owner.task_id},
            )
            signal.stop(StopReason.LEASE_LOST)
        elif answer == 2:
            signal.stop(StopReason.CANCELLED)
