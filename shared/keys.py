"""Every Redis key and stream name the service uses, defined once (see docs/streams.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedisKeys:
    """Names under one prefix, so several deployments can share a Redis database."""

    prefix: str = "diarization"

    @property
    def jobs(self) -> str:
        """Stream of jobs (one entry per submitted task), read by the consumer group."""
        return f"{self.prefix}:jobs"

    @property
    def group(self) -> str:
        """Consumer group of the workers on the jobs stream."""
        return f"{self.prefix}:workers"

    @property
    def events(self) -> str:
        """Stream of every task's status events, for other services to follow."""
        return f"{self.prefix}:events"

    @property
    def dead_letters(self) -> str:
        """Stream of jobs given up on (poison jobs), with the reason."""
        return f"{self.prefix}:dead"

    @property
    def workers(self) -> str:
        """Sorted set: worker id -> last heartbeat (unix seconds)."""
        return f"{self.prefix}:workers:alive"

    def worker(self, worker_id: str) -> str:
        """Hash describing one live worker (engine, host, pid, metrics port); expires."""
        return f"{self.prefix}:worker:{worker_id}"

    def task(self, task_id: str) -> str:
        """Hash holding one task's status, progress, result locations and errors."""
        return f"{self.prefix}:task:{task_id}"

    def task_events(self, task_id: str) -> str:
        """Stream of one task's events (what the SSE endpoint replays and follows)."""
        return f"{self.prefix}:task-events:{task_id}"

    def lease(self, task_id: str) -> str:
        """Fencing token of the worker attempt that currently owns a task."""
        return f"{self.prefix}:lease:{task_id}"

    def idempotency(self, owner: str, key: str) -> str:
        """Idempotency-Key -> task id, per API key owner."""
        return f"{self.prefix}:idem:{owner}:{key}"

    def uploads(self, client: str) -> str:
        """Sorted set: task id -> upload time, of one client's uploads in the last hour."""
        return f"{self.prefix}:rate:{client}"

    def active(self, client: str) -> str:
        """Set of one client's unfinished task ids (removed as each task ends)."""
        return f"{self.prefix}:active:{client}"

    @property
    def task_pattern(self) -> str:
        """SCAN pattern matching every task hash (and nothing else)."""
        return f"{self.prefix}:task:*"
