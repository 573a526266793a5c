"""Whatever other services XADD, a worker fails the job with INVALID_JOB and goes on;
repeated submissions map to one task; trimming and retention never touch live work."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import redis
import soundfile as sf
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shared.keys import RedisKeys
from shared.scripts import Scripts
from shared.storage import LocalStorage
from tests.conftest import make_settings
from tests.service_helpers import Cluster, task, wait_until

JOB_FIELDS = ["task_id", "audio", "num_speakers", "min_speakers", "max_speakers", "exclusive",
              "callback_url", "idempotency_key", "filename", "submitted_at", "owner"]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(redis_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("jobs")
    settings = make_settings(redis_server, folder / "storage", lease_seconds=5.0)
    inbox = settings.storage_base_path / "inbox"
    inbox.mkdir(parents=True)
    sf.write(
        str(inbox / "tone.wav"), 0.1 * np.sin(np.arange(16000) / 5.0).astype(np.float32), 16000
    )
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    running = Cluster(settings, folder, client, TEST_ENGINE_SECONDS="0.2")
    running.start(1)
    yield running
    running.stop()
    client.close()


def settled(cluster: Cluster) -> bool:
    """Every entry delivered and acknowledged."""
    groups = cluster.client.xinfo_groups(cluster.keys.jobs)
    lag = next(int(g["lag"] or 0) for g in groups if g["name"].decode() == cluster.keys.group)
    return lag == 0 and cluster.pending() == 0


def assert_worker_alive(cluster: Cluster) -> None:
    assert all(w.process.poll() is None for w in cluster.workers), cluster.logs()
    check = cluster.submit("inbox/tone.wav")
    wait_until(lambda: cluster.terminal_statuses(check) == ["completed"], 30, "a valid job")


@pytest.mark.parametrize(
    "fields",
    [
        {"num_speakers": "2"},  # no audio
        {"audio": "inbox/tone.wav", "num_speakers": "two"},
        {"audio": "inbox/tone.wav", "exclusive": "maybe"},
        {"audio": "inbox/tone.wav", "min_speakers": "5", "max_speakers": "2"},
        {"audio": "../../../etc/passwd"},
        {"audio": "/etc/passwd"},
        {"audio": "inbox/missing.wav"},
        {"audio": "inbox/tone.wav", "task_id": "bad id with spaces"},
        {"audio": "x" * 5000},
        {"\x00\xff": b"\xff\xfe\x00"},
    ],
    ids=[
        "no-audio",
        "not-a-number",
        "not-a-bool",
        "min-above-max",
        "escape",
        "outside",
        "missing-file",
        "bad-task-id",
        "huge",
        "binary",
    ],
)
def test_bad_entries_fail_fast_with_invalid_job(cluster, fields) -> None:
    entry = cluster.client.xadd(cluster.keys.jobs, fields).decode()
    wait_until(lambda: settled(cluster), 20, "the entry to be handled")
    record = task(cluster.client, cluster.settings, entry)
    assert record is not None, cluster.logs()
    assert (record.status.value, record.error_code) == ("failed", "INVALID_JOB")
    assert record.error
    assert_worker_alive(cluster)


_text = st.text(max_size=40) | st.binary(max_size=40)
_entries = st.lists(
    st.dictionaries(st.sampled_from(JOB_FIELDS) | _text, _text, min_size=1, max_size=6),
    min_size=1,
    max_size=4,
)


@given(entries=_entries)
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_garbage_never_kills_a_worker(cluster, entries) -> None:
    ids = [cluster.client.xadd(cluster.keys.jobs, fields).decode() for fields in entries]
    wait_until(lambda: settled(cluster), 20, "the garbage to be handled")
    assert all(w.process.poll() is None for w in cluster.workers), cluster.logs()
    for entry in ids:
        record = task(cluster.client, cluster.settings, entry)
        assert record is None or record.status.terminal


def test_worker_survives_the_garbage(cluster) -> None:
    assert_worker_alive(cluster)


def test_repeated_xadd_maps_to_one_task(cluster) -> None:
    first = cluster.submit("inbox/tone.wav", idempotency_key="order-7")
    second = cluster.submit("inbox/tone.wav", idempotency_key="order-7")
    same_id = [cluster.submit("inbox/tone.wav", task_id="mine-1") for _ in range(2)]
    wait_until(lambda: settled(cluster), 30, "the entries to be handled")
    assert task(cluster.client, cluster.settings, first).status.value == "completed"
    assert task(cluster.client, cluster.settings, second) is None  # skipped as a repeat
    assert cluster.client.get(cluster.keys.idempotency("-", "order-7")).decode() == first
    record = task(cluster.client, cluster.settings, "mine-1")
    assert record.status.value == "completed" and record.entry_id == same_id[0]
    assert cluster.terminal_statuses("mine-1") == ["completed"]


def test_trim_keeps_every_unacknowledged_entry(redis_client) -> None:
    keys = RedisKeys(f"trim-{time.time_ns()}")
    scripts = Scripts(redis_client)
    ids = [redis_client.xadd(keys.jobs, {"n": str(i)}).decode() for i in range(6)]
    redis_client.xgroup_create(keys.jobs, keys.group, id="0")
    redis_client.xreadgroup(keys.group, "c", {keys.jobs: ">"}, count=4)
    redis_client.xack(keys.jobs, keys.group, ids[0], ids[1], ids[3])

    def remaining() -> list[str]:
        return [entry.decode() for entry, _ in redis_client.xrange(keys.jobs)]

    assert scripts.trim(keys=[keys.jobs], args=[keys.group]) == 2
    assert remaining() == ids[2:]  # pending ids[2] and everything after it stay
    redis_client.xack(keys.jobs, keys.group, ids[2])
    scripts.trim(keys=[keys.jobs], args=[keys.group])
    assert remaining() == ids[4:]  # never delivered: kept
    redis_client.delete(keys.jobs)


def test_retention_sweep_removes_only_old_files(tmp_path) -> None:
    storage = LocalStorage(tmp_path)
    storage.initialise()
    old, new = tmp_path / "uploads" / "old.wav", tmp_path / "uploads" / "new.wav"
    results = tmp_path / "results" / "old-task"
    results.mkdir()
    for path in (old, new, results / "result.zip"):
        path.write_bytes(b"x")
    week_ago = time.time() - 8 * 86400
    for path in (old, results):
        os.utime(path, (week_ago, week_ago))
    assert storage.sweep(time.time() - 7 * 86400) == 2
    assert [p.name for p in Path(tmp_path / "uploads").iterdir()] == ["new.wav"]
    assert not results.exists()


def test_callbacks_to_private_addresses_are_not_sent(cluster) -> None:
    """No CALLBACK_ALLOWED_HOSTS here: a loopback receiver must never be called."""
    import asyncio

    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from shared.processes import free_port

    calls: list[str] = []

    async def scenario() -> None:
        async def hook(request: web.Request) -> web.Response:
            calls.append(request.path)
            return web.Response()

        app = web.Application()
        app.router.add_post("/hook", hook)
        server = TestServer(app, host="127.0.0.1", port=free_port())
        await server.start_server()
        try:
            entry = cluster.submit("inbox/tone.wav", callback_url=str(server.make_url("/hook")))
            await asyncio.to_thread(
                wait_until, lambda: cluster.terminal_statuses(entry) == ["completed"], 30, "the job"
            )
            await asyncio.sleep(2)
        finally:
            await server.close()

    asyncio.run(scenario())
    assert calls == []
    assert "callback to http://127.0.0.1" in cluster.logs() and "refused" in cluster.logs()
