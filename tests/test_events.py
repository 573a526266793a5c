"""Live progress over Server-Sent Events (GET /events/{task_id}): a real gateway on
loopback, a real valkey-server, and real worker processes where a task must move."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from producer.app import create_app
from shared.keys import RedisKeys
from shared.processes import free_port
from shared.schemas.api import API_PREFIX
from tests.conftest import make_settings
from tests.service_helpers import Cluster

KEEPALIVE = 0.2
KEY_A, KEY_B = "key-alpha-0123456789", "key-bravo-9876543210"


async def serve(settings) -> TestServer:
    server = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await server.start_server()
    return server


@pytest.fixture
def quick(redis_server, tmp_path):
    return make_settings(redis_server, tmp_path / "storage", sse_keepalive_seconds=KEEPALIVE)


@pytest.fixture
async def http(quick):
    server = await serve(quick)
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session
    await server.close()


async def upload(http, path: Path, headers: dict[str, str] | None = None) -> str:
    data = aiohttp.FormData()
    data.add_field("audio_file", await asyncio.to_thread(path.read_bytes), filename=path.name)
    async with http.post(f"{API_PREFIX}/upload", data=data, headers=headers) as reply:
        assert reply.status == 202, await reply.text()
        return (await reply.json())["task_id"]


async def frames(reply: aiohttp.ClientResponse) -> AsyncIterator[list[str]]:
    """The lines of each SSE frame (an event, a comment, the retry hint), as they come."""
    assert reply.status == 200 and reply.content_type == "text/event-stream"
    block: list[str] = []
    async for raw in reply.content:
        line = raw.decode().rstrip("\n")
        if line:
            block.append(line)
        elif block:
            yield block
            block = []


def event(frame: list[str]) -> tuple[str, dict] | None:
    fields = dict(line.split(": ", 1) for line in frame if not line.startswith(":"))
    return (fields["id"], json.loads(fields["data"])) if "data" in fields else None


async def all_events(http, task_id: str, **headers: str) -> list[tuple[str, dict]]:
    """Every event of a stream that ends by itself (the test times out if it does not)."""
    async with http.get(f"{API_PREFIX}/events/{task_id}", headers=headers) as reply:
        return [e async for frame in frames(reply) if (e := event(frame))]


async def cancelled_task(http, sample_wav) -> tuple[str, list[tuple[str, dict]]]:
    task_id = await upload(http, sample_wav)
    async with http.delete(f"{API_PREFIX}/{task_id}") as reply:
        assert reply.status == 200
    return task_id, await all_events(http, task_id)


async def test_unknown_task_and_bad_last_event_id(http, sample_wav) -> None:
    async with http.get(f"{API_PREFIX}/events/no-such-task") as reply:
        assert reply.status == 404 and reply.content_type == "application/json"
        assert (await reply.json())["error_code"] == "TASK_NOT_FOUND"
    task_id = await upload(http, sample_wav)
    for bad in ("yesterday", "1-2-3", "99999999999999999999-0"):  # the last: over 64 bits
        headers = {"Last-Event-ID": bad}
        async with http.get(f"{API_PREFIX}/events/{task_id}", headers=headers) as reply:
            assert (reply.status, (await reply.json())["error_code"]) == (400, "INVALID_PARAMETERS")


async def test_a_waiting_task_keeps_alive_then_ends_with_its_last_event(http, sample_wav) -> None:
    task_id = await upload(http, sample_wav)  # no worker: it stays queued
    seen: list[list[str]] = []
    async with http.get(f"{API_PREFIX}/events/{task_id}") as reply:
        assert reply.headers["Cache-Control"] == "no-cache"
        stream = frames(reply)
        async for frame in stream:
            seen.append(frame)
            if seen.count([": keep-alive"]) == 3:
                break
        started = time.monotonic()
        async with http.delete(f"{API_PREFIX}/{task_id}") as cancel:
            assert cancel.status == 200
        seen += [frame async for frame in stream]  # ends: the server closes the stream
        assert time.monotonic() - started < 5
    assert seen[0] == ["retry: 2000"]
    queued, cancelled = event(seen[1]), event(seen[-1])
    assert queued[1]["status"] == "queued" and queued[1]["task_id"] == task_id
    assert cancelled[1]["status"] == "cancelled"
    assert seen[2:-1] == [[": keep-alive"]] * (len(seen) - 3)  # nothing else in between


async def test_last_event_id_replays_only_later_events(http, sample_wav) -> None:
    task_id, events = await cancelled_task(http, sample_wav)
    assert [data["status"] for _, data in events] == ["queued", "cancelled"]
    (queued_id, _), (cancelled_id, _) = events
    assert await all_events(http, task_id, **{"Last-Event-ID": queued_id}) == events[1:]
    # everything seen already, and the task has ended: the stream closes at once
    started = time.monotonic()
    assert await all_events(http, task_id, **{"Last-Event-ID": cancelled_id}) == []
    assert time.monotonic() - started < 2 * KEEPALIVE


async def test_a_running_job_resumed_mid_way_misses_nothing(
    quick, http, sample_wav, redis_client, tmp_path
) -> None:
    cluster = Cluster(quick, tmp_path, redis_client, TEST_ENGINE_SECONDS="3")
    cluster.start(1)
    try:
        task_id = await upload(http, sample_wav)
        first: list[tuple[str, dict]] = []
        async with http.get(f"{API_PREFIX}/events/{task_id}") as reply:
            async for frame in frames(reply):
                if e := event(frame):
                    first.append(e)
                if e and e[1]["status"] == "processing" and e[1]["progress"] > 0:
                    break  # drop the connection mid-way, as a flaky network would
        rest = await all_events(http, task_id, **{"Last-Event-ID": first[-1][0]})
    finally:
        cluster.stop()
    events = first + rest
    stored = redis_client.xrange(RedisKeys(quick.redis_key_prefix).task_events(task_id))
    assert [entry_id for entry_id, _ in events] == [e.decode() for e, _ in stored]
    statuses = [data["status"] for _, data in events]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    progress = [data["progress"] for _, data in events if data["status"] == "processing"]
    assert len(set(progress)) >= 3 and progress == sorted(progress)
    assert events[-1][1]["summary"]["num_speakers"] == 1


async def test_events_honour_api_keys(redis_server, tmp_path, sample_wav) -> None:
    settings = make_settings(redis_server, tmp_path / "storage", api_keys=[KEY_A, KEY_B])
    server = await serve(settings)
    alpha = {"X-API-Key": KEY_A}
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as http:
            task_id = await upload(http, sample_wav, alpha)
            path = f"{API_PREFIX}/events/{task_id}"
            async with http.get(path) as reply:
                assert (reply.status, (await reply.json())["error_code"]) == (401, "UNAUTHORIZED")
            async with http.get(path, headers={"X-API-Key": KEY_B}) as reply:
                assert (reply.status, (await reply.json())["error_code"]) == (404, "TASK_NOT_FOUND")
            # the page's EventSource cannot send headers: its key comes as a cookie
            cookie = {"Cookie": f"diarization_api_key={KEY_A}"}
            for headers in (alpha, cookie):
                async with http.get(path, headers=headers) as reply:
                    first = await anext(e async for f in frames(reply) if (e := event(f)))
                    assert first[1]["status"] == "queued"
            # a cookie never authorises a change (no cross-site request can make one)
            async with http.delete(f"{API_PREFIX}/{task_id}", headers=cookie) as reply:
                assert reply.status == 401
    finally:
        await server.close()


async def test_watchers_share_one_blocking_connection(http, quick, sample_wav, redis_client):
    task_ids = [await upload(http, sample_wav) for _ in range(3)]
    replies = [
        await http.get(f"{API_PREFIX}/events/{task_ids[n % 3]}") for n in range(30)
    ]  # a browser tab each
    streams = [frames(reply) for reply in replies]
    for stream in streams:  # every watcher has its history, and the hub is following
        assert await anext(stream) == ["retry: 2000"]
        assert event(await anext(stream))[1]["status"] == "queued"
    await asyncio.sleep(1.5 * quick.read_block_ms / 1000)
    blocked = [c for c in redis_client.client_list() if c["cmd"] == "xread"]
    assert len(blocked) == 1
    for task_id in task_ids:
        async with http.delete(f"{API_PREFIX}/{task_id}") as reply:
            assert reply.status == 200
    for stream in streams:  # each ends with the cancellation of its own task
        ends = [e for f in [f async for f in stream] if (e := event(f))]
        assert [data["status"] for _, data in ends] == ["cancelled"]
    for reply in replies:
        reply.release()


async def test_a_stopping_gateway_ends_open_streams(quick, sample_wav) -> None:
    server = await serve(quick)
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as http:
        task_id = await upload(http, sample_wav)
        async with http.get(f"{API_PREFIX}/events/{task_id}") as reply:
            stream = frames(reply)
            await anext(stream)
            assert event(await anext(stream))[1]["status"] == "queued"
            started = time.monotonic()
            await server.close()  # a browser watching must not hold a restart up
            assert time.monotonic() - started < 5
            assert [f async for f in stream if event(f)] == []
