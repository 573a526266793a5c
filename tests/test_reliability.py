"""Leases, fencing, poison jobs and shutdown, with real worker processes and a real
valkey-server. The workers run the scripted test engine (tests/engines.py) so that a job
lasts exactly as long, holds the GIL as hard, or crashes as the test needs."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from shared.keys import RedisKeys
from shared.redis_client import async_client
from shared.taskstore import TaskStore
from tests.conftest import make_settings
from tests.service_helpers import Cluster, task, wait_until

LEASE = 2.0
SCAN = 0.5


@pytest.fixture
def deployment(redis_server, redis_client, tmp_path):
    def build(**overrides):
        values = {"lease_seconds": LEASE, "reclaim_interval_seconds": SCAN, **overrides}
        settings = make_settings(redis_server, tmp_path / "storage", **values)
        inbox = Path(settings.storage_base_path) / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        sf.write(
            str(inbox / "tone.wav"), 0.1 * np.sin(np.arange(32000) / 5.0).astype(np.float32), 16000
        )
        shutil.copy(inbox / "tone.wav", inbox / "poison.wav")
        return settings

    clusters: list[Cluster] = []

    def cluster(settings, **env) -> Cluster:
        clusters.append(Cluster(settings, tmp_path, redis_client, **env))
        return clusters[-1]

    yield build, cluster
    for item in clusters:
        item.stop()


def wait_status(cluster: Cluster, task_id: str, wanted: tuple[str, ...], seconds: float):
    def reached():
        record = task(cluster.client, cluster.settings, task_id)
        return record if record is not None and record.status.value in wanted else None

    try:
        return wait_until(reached, seconds, f"{task_id} to be {wanted}")
    except AssertionError:
        print(cluster.logs())
        raise


def test_kill_9_mid_job_is_finished_by_another_worker(deployment) -> None:
    build, make_cluster = deployment
    cluster = make_cluster(build(), TEST_ENGINE_SECONDS="2")
    cluster.start(2)
    task_id = cluster.submit("inbox/tone.wav")
    wait_status(cluster, task_id, ("processing",), 30)
    victim = cluster.owner(task_id)
    time.sleep(0.5)
    os.kill(victim.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    record = wait_status(cluster, task_id, ("completed", "failed"), LEASE + SCAN + 5 + 2)
    assert record.status.value == "completed"
    assert time.monotonic() - killed_at <= LEASE + SCAN + 5 + 2  # reclaim + the 2 s job
    assert record.attempt == 2 and str(victim.pid) not in record.worker
    assert cluster.terminal_statuses(task_id) == ["completed"]
    wait_until(lambda: cluster.pending() == 0, 5, "an empty pending list")


def test_job_three_leases_long_holding_the_gil_is_not_redelivered(deployment) -> None:
    # A longer lease than elsewhere. The scripted engine holds the GIL ~0.5 s at a time
    # (40x the longest stretch of the real engine: 12.6 ms on a 1-hour file), and each
    # socket call of the heartbeat thread may wait that long for it again, so one beat can
    # take seconds; a busy machine stretches it further. The lease keeps a margin above.
    lease = 6.0
    build, make_cluster = deployment
    cluster = make_cluster(
        build(lease_seconds=lease), TEST_ENGINE_SECONDS=str(3 * lease + 1), TEST_ENGINE_HOLD_GIL="1"
    )
    cluster.start(2)
    task_id = cluster.submit("inbox/tone.wav")
    record = wait_status(cluster, task_id, ("completed", "failed"), 90)
    assert record.status.value == "completed", cluster.logs()
    assert record.attempt == 1, cluster.logs()  # delivered once: the heartbeat kept the lease
    keys = RedisKeys(cluster.settings.redis_key_prefix)
    events = cluster.client.xrange(keys.task_events(task_id))
    attempts = {fields[b"attempt"] for _, fields in events if b"attempt" in fields}
    assert attempts == {b"1"}
    assert "reclaimed" not in cluster.logs()


def test_paused_worker_cannot_overwrite_or_ack(deployment) -> None:
    build, make_cluster = deployment
    cluster = make_cluster(build(), TEST_ENGINE_SECONDS="3")
    cluster.start(2)
    task_id = cluster.submit("inbox/tone.wav")
    wait_status(cluster, task_id, ("processing",), 30)
    paused = cluster.owner(task_id)
    paused.signal(signal.SIGSTOP)
    record = wait_status(cluster, task_id, ("completed",), LEASE + SCAN + 3 + 10)
    winner = record.worker
    assert str(paused.pid) not in winner and record.attempt == 2
    events_before = cluster.client.xlen(cluster.keys.task_events(task_id))
    paused.signal(signal.SIGCONT)
    wait_until(lambda: "lease of" in paused.output() or "refused" in paused.output(), 20,
               "the paused worker to notice it lost the task")  # fmt: skip
    time.sleep(LEASE)
    after = task(cluster.client, cluster.settings, task_id)
    assert (after.status.value, after.worker, after.attempt) == ("completed", winner, 2)
    assert cluster.client.xlen(cluster.keys.task_events(task_id)) == events_before
    assert cluster.terminal_statuses(task_id) == ["completed"]
    results = Path(cluster.settings.storage_base_path) / "results" / task_id
    assert [p.name for p in results.iterdir()] == [after.result_prefix.rsplit("/", 1)[-1]]
    assert cluster.pending() == 0


def test_poison_job_goes_to_dead_letters_and_others_flow(deployment) -> None:
    build, make_cluster = deployment
    settings = build(max_deliveries=2)
    cluster = make_cluster(settings, TEST_ENGINE_SECONDS="1", TEST_ENGINE_CRASH_ON="poison")
    cluster.start(2)
    poison = cluster.submit("inbox/poison.wav")
    healthy = [cluster.submit("inbox/tone.wav") for _ in range(3)]

    def all_done() -> bool:
        # a supervisor's job: bring crashed workers back
        for worker in list(cluster.workers):
            if worker.process.poll() is not None and worker.process.returncode == 17:
                cluster.workers.remove(worker)
                cluster.start(1, wait=False)
        records = [task(cluster.client, settings, t) for t in [poison, *healthy]]
        return all(r is not None and r.status.terminal for r in records)

    wait_until(all_done, 120, "every job to end")
    record = task(cluster.client, settings, poison)
    assert (record.status.value, record.error_code) == ("failed", "MAX_DELIVERIES_EXCEEDED")
    ((_, dead),) = cluster.client.xrange(cluster.keys.dead_letters)
    assert dead[b"dead_task_id"].decode() == poison and dead[b"audio"] == b"inbox/poison.wav"
    assert b"keeps stopping its worker" in dead[b"dead_reason"]
    assert [task(cluster.client, settings, t).status.value for t in healthy] == ["completed"] * 3
    assert cluster.pending() == 0


def test_sigterm_hands_a_running_job_to_another_worker(deployment) -> None:
    build, make_cluster = deployment
    cluster = make_cluster(build(drain_seconds=0.5), TEST_ENGINE_SECONDS="4")
    cluster.start(2)
    task_id = cluster.submit("inbox/tone.wav")
    wait_status(cluster, task_id, ("processing",), 30)
    leaving = cluster.owner(task_id)
    leaving.signal(signal.SIGTERM)
    assert leaving.process.wait(20) == 0
    released_at = time.monotonic()

    def taken_over() -> bool:
        record = task(cluster.client, cluster.settings, task_id)
        return str(leaving.pid) not in (record.worker or "")

    wait_until(taken_over, SCAN + 2, "another worker to take the released job")
    assert time.monotonic() - released_at <= SCAN + 2
    record = wait_status(cluster, task_id, ("completed", "failed"), 30)
    assert record.status.value == "completed"
    stages = [f.get(b"stage") for _, f in cluster.client.xrange(cluster.keys.task_events(task_id))]
    assert b"released" in stages
    assert cluster.terminal_statuses(task_id) == ["completed"]


def test_sigterm_lets_a_short_job_finish(deployment) -> None:
    build, make_cluster = deployment
    cluster = make_cluster(build(drain_seconds=30), TEST_ENGINE_SECONDS="2")
    (worker,) = cluster.start(1)
    task_id = cluster.submit("inbox/tone.wav")
    wait_status(cluster, task_id, ("processing",), 30)
    worker.signal(signal.SIGTERM)
    assert worker.process.wait(30) == 0
    record = task(cluster.client, cluster.settings, task_id)
    assert record.status.value == "completed" and str(worker.pid) in record.worker


def test_timeout_fails_a_long_job(deployment) -> None:
    build, make_cluster = deployment
    cluster = make_cluster(build(task_timeout_minutes=0.04), TEST_ENGINE_SECONDS="6")
    cluster.start(1)
    timed = cluster.submit("inbox/tone.wav")
    record = wait_status(cluster, timed, ("completed", "failed"), 30)
    assert (record.status.value, record.error_code) == ("failed", "TASK_TIMEOUT")
    assert cluster.pending() == 0


def test_delete_stops_a_running_job(deployment) -> None:
    build, make_cluster = deployment
    cluster = make_cluster(build(), TEST_ENGINE_SECONDS="8")
    cluster.start(1)
    cancelled = cluster.submit("inbox/tone.wav")
    wait_status(cluster, cancelled, ("processing",), 30)

    async def cancel() -> str:
        client = async_client(cluster.settings)
        try:
            return await TaskStore(client, cluster.settings).cancel(cancelled)
        finally:
            await client.aclose()

    assert asyncio.run(cancel()) == "requested"
    record = wait_status(cluster, cancelled, ("cancelled", "completed", "failed"), 10)
    assert record.status.value == "cancelled"
    assert cluster.terminal_statuses(cancelled) == ["cancelled"]
    assert cluster.pending() == 0
    after = cluster.submit("inbox/tone.wav")  # the worker goes on
    assert wait_status(cluster, after, ("completed", "failed"), 30).status.value == "completed"
