"""Leases kept alive from a thread of their own.

Inference is CPU-bound and can starve the event loop, so heartbeats do not depend on it:
one thread per worker process, with its own synchronous Redis connections, extends the
lease of every running attempt every quarter of a lease, refreshes the worker's presence,
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
from shared.scripts import Scripts, flat

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

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            self.stop(StopReason.TIMEOUT)
        if self._event.is_set():
            raise JobCancelledError(f"job stopped: {self.reason}")


class LeaseKeeper(threading.Thread):
    """Beats every quarter of a lease. While inference holds the GIL, each socket call of
    this thread waits for the GIL again, so a beat is one round trip: presence and every
    lease in one script. A lease survives inference that holds the GIL for stretches up
    to about a tenth of it (pyannote, torch and ONNX Runtime release it in their heavy
    calls: stretches are milliseconds, see docs/operations.md)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: RedisKeys,
        consumer: str,
        lease_seconds: float,
        presence: Callable[[], dict[str, str]],
    ) -> None:
        super().__init__(name="lease-keeper", daemon=True)
        self.client = client
        self.keys = keys
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / 4
        self._fixed_keys = [keys.jobs, keys.workers, keys.worker(consumer)]
        self._fixed_args = [keys.group, consumer, int(lease_seconds * 1000)]
        self._presence_ttl = int(lease_seconds * 3) + 1
        self.presence = presence  # the worker's fields for /ready and `main.py status`
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
            try:
                self.beat()
            except Exception:  # the thread must outlive any one beat, or every lease lapses
                logger.exception("heartbeat crashed; beating again")
            elapsed = time.monotonic() - started
            if elapsed > self.interval:
                logger.warning(
                    "heartbeat took %.1f s of a %.0f s lease: inference holding the GIL, "
                    "an overloaded machine or a slow Redis", elapsed, self.lease_seconds,
                )  # fmt: skip
            self._halt.wait(max(self.interval - elapsed, 0.05))

    def beat(self) -> None:
        with self._lock:
            attempts = list(self._attempts.values())
        try:
            answers = self._heartbeat([owner for owner, _ in attempts])
        except redis.RedisError as error:
            # Keep the jobs running: a lease outlives a short outage, and if it does not,
            # the next successful beat sees that and stops them.
            logger.warning("heartbeat failed: %s", error)
            return
        for (owner, signal), answer in zip(attempts, answers, strict=True):
            if int(answer) == 0:
                logger.warning(
                    "lease of %s lost: stopping the job", owner.task_id,
                    extra={"task_id": owner.task_id},
                )  # fmt: skip
                signal.stop(StopReason.LEASE_LOST)
            elif int(answer) == 2:
                signal.stop(StopReason.CANCELLED)

    def _heartbeat(self, owners: list[Ownership]) -> list[int]:
        keys = list(self._fixed_keys)
        args = [*self._fixed_args, time.time(), self._presence_ttl, *flat(self.presence())]
        for owner in owners:
            keys += [self.keys.lease(owner.task_id), self.keys.task(owner.task_id)]
            args += [owner.entry_id, owner.token]
        return self.scripts.heartbeat(keys=keys, args=args)
