"""Chaos run: many short jobs through the gateway while workers are killed (SIGKILL) and
Redis itself is killed and restarted; then every invariant is checked.

    uv run python -m tests.chaos --jobs 100 --workers 3 --kills 3

Workers run the scripted test engine (jobs of a fraction of a second), so the run is
about the queue, not inference. Uploads that meet a 503 are retried with the same
Idempotency-Key, as a careful client would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import numpy as np
import redis
import soundfile as sf
from aiohttp.test_utils import TestServer

from producer.app import create_app
from shared.embedded_redis import EmbeddedRedis
from shared.processes import free_port
from shared.schemas.api import API_PREFIX
from shared.settings import Settings
from tests.service_helpers import Cluster, task, wait_until

_RANK = {"queued": 0, "processing": 1, "completed": 2, "failed": 2, "cancelled": 2}


@dataclass
class Report:
    accepted: int = 0
    refused: int = 0
    worker_kills: int = 0
    redis_restarts: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    redelivered: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"jobs accepted          {self.accepted}",
            f"uploads refused (503)  {self.refused} (retried with the same Idempotency-Key)",
            f"workers killed -9      {self.worker_kills}",
            f"redis restarts         {self.redis_restarts}",
            f"terminal statuses      {dict(sorted(self.statuses.items()))}",
            f"jobs redelivered       {self.redelivered}",
            f"invariant violations   {len(self.violations)}",
            f"wall time              {self.seconds:.1f} s",
        ]


def _settings(server: EmbeddedRedis, root: Path) -> Settings:
    return Settings(
        _env_file=None, redis_host=server.host, redis_port=server.port,
        storage_base_path=root / "storage", worker_metrics_port=0, lease_seconds=2.0,
        reclaim_interval_seconds=0.5, read_block_ms=500, max_deliveries=6,
        redis_socket_timeout=2.0, max_queue_length=0, max_active_tasks_per_client=0,
        max_uploads_per_hour=0,
    )  # fmt: skip


async def _upload(session: aiohttp.ClientSession, audio: bytes, key: str, report: Report) -> str:
    while True:
        data = aiohttp.FormData()
        data.add_field("audio_file", audio, filename="tone.wav")
        try:
            async with session.post(
                f"{API_PREFIX}/upload", data=data, headers={"Idempotency-Key": key}
            ) as reply:
                if reply.status in (200, 202):
                    return (await reply.json())["task_id"]
                report.refused += 1
                delay = float(reply.headers.get("Retry-After", "1"))
        except aiohttp.ClientError:
            report.refused += 1
            delay = 1.0
        await asyncio.sleep(min(delay, 1.0))


async def _submit_all(url: str, jobs: int, audio: bytes, report: Report) -> list[str]:
    async with aiohttp.ClientSession(base_url=url) as session:
        tasks = []
        for index in range(jobs):
            tasks.append(asyncio.create_task(_upload(session, audio, f"chaos-{index}", report)))
            await asyncio.sleep(0.12)
        return await asyncio.gather(*tasks)


async def _disrupt(cluster: Cluster, server: EmbeddedRedis, kills: int, report: Report) -> None:
    """Kill workers at random moments (replacing each), and crash Redis once midway."""
    chaos = random.Random(7)
    moments = sorted(chaos.uniform(1.0, 12.0) for _ in range(kills))
    redis_at = chaos.uniform(4.0, 8.0)
    started = time.monotonic()
    pending = [("worker", m) for m in moments] + [("redis", redis_at)]
    for kind, moment in sorted(pending, key=lambda item: item[1]):
        await asyncio.sleep(max(moment - (time.monotonic() - started), 0))
        if kind == "redis":
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
            await asyncio.sleep(1.5)
            await asyncio.to_thread(server.start)
            report.redis_restarts += 1
            continue
        alive = [w for w in cluster.workers if w.process.poll() is None]
        victim = chaos.choice(alive)
        os.kill(victim.pid, signal.SIGKILL)
        report.worker_kills += 1
        cluster.start(1, wait=False)


def _check(cluster: Cluster, task_ids: list[str], report: Report) -> None:
    if len(set(task_ids)) != len(task_ids):
        report.violations.append("two uploads with different keys got the same task")
    for task_id in task_ids:
        record = task(cluster.client, cluster.settings, task_id)
        if record is None:
            report.violations.append(f"{task_id}: lost")
            continue
        report.statuses[record.status.value] = report.statuses.get(record.status.value, 0) + 1
        report.redelivered += record.attempt > 1
        events = [
            f[b"status"].decode()
            for _, f in cluster.client.xrange(cluster.keys.task_events(task_id))
        ]
        terminal = [status for status in events if _RANK[status] == 2]
        if len(terminal) != 1:
            report.violations.append(f"{task_id}: terminal statuses {terminal}")
        ranks = [_RANK[status] for status in events]
        if ranks != sorted(ranks):
            report.violations.append(f"{task_id}: statuses went backwards: {events}")
    if cluster.pending():
        report.violations.append(f"{cluster.pending()} entries still pending")


async def run_chaos(root: Path, jobs: int = 100, workers: int = 3, kills: int = 3) -> Report:
    report = Report()
    server = EmbeddedRedis(root / "valkey", free_port())
    server.start()
    settings = _settings(server, root)
    client = redis.Redis(host=server.host, port=server.port)
    cluster = Cluster(settings, root, client, TEST_ENGINE_SECONDS="0.5")
    tone = root / "tone.wav"
    sf.write(str(tone), 0.1 * np.sin(np.arange(8000) / 5.0).astype(np.float32), 16000)
    gateway = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    started = time.monotonic()
    try:
        cluster.start(workers)
        await gateway.start_server()
        submitting = _submit_all(str(gateway.make_url("")), jobs, tone.read_bytes(), report)
        task_ids, _ = await asyncio.gather(submitting, _disrupt(cluster, server, kills, report))
        report.accepted = len(set(task_ids))

        def all_ended() -> bool:
            return all(
                (r := task(client, settings, t)) is not None and r.status.terminal for t in task_ids
            )

        await asyncio.to_thread(wait_until, all_ended, 180, "every accepted job to end")
        report.seconds = time.monotonic() - started
        _check(cluster, task_ids, report)
    finally:
        await gateway.close()
        cluster.stop()
        server.stop()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = asyncio.run(run_chaos(Path(folder), args.jobs, args.workers, args.kills))
    print("\n".join(report.lines()))
    for violation in report.violations:
        print(f"VIOLATION {violation}")
    raise SystemExit(1 if report.violations else 0)


if __name__ == "__main__":
    main()
