"""Several hosts: two workers with separate storage roots and a gateway with a third one,
sharing Redis and an S3-compatible store (moto's standalone server: a real HTTP S3)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import aiohttp
import boto3
import pytest
from aiohttp.test_utils import TestServer

from producer.app import create_app
from shared.processes import free_port, stop_process
from shared.schemas.api import API_PREFIX
from tests.conftest import make_settings
from tests.service_helpers import start_worker, task, wait_for_workers, wait_until

CREDENTIALS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            urllib.request.urlopen(url, timeout=1)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    wait_until(answering, 30, "moto's S3 server")
    yield url
    stop_process(process, 10)
    log.close()


def host_settings(redis_server, root: Path, endpoint: str, bucket: str):
    return make_settings(
        redis_server, root / "storage", storage_backend="s3", s3_endpoint_url=endpoint,
        s3_bucket=bucket, **CREDENTIALS,
    )  # fmt: skip


def bucket_keys(endpoint: str, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def local_files(settings) -> list[Path]:
    return [p for p in settings.storage_base_path.rglob("*") if p.is_file()]


async def test_two_hosts_share_only_redis_and_the_bucket(
    redis_server, redis_client, s3_endpoint, tmp_path, sample_wav
) -> None:
    bucket = f"diarization-{os.getpid()}"
    gateway_settings = host_settings(redis_server, tmp_path / "gateway", s3_endpoint, bucket)
    prefix = gateway_settings.redis_key_prefix
    hosts = [
        host_settings(redis_server, tmp_path / f"host{i}", s3_endpoint, bucket).model_copy(
            update={"redis_key_prefix": prefix}
        )
        for i in range(2)
    ]
    workers = [
        start_worker(settings, tmp_path / f"worker{i}.log") for i, settings in enumerate(hosts)
    ]
    server = TestServer(create_app(gateway_settings), host="127.0.0.1", port=free_port())
    try:
        await asyncio.to_thread(wait_for_workers, redis_client, gateway_settings, 2)
        await server.start_server()
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
            task_ids = [await _upload(session, sample_wav) for _ in range(4)]

            def ended() -> bool:
                return all(
                    task(redis_client, gateway_settings, t).status.terminal for t in task_ids
                )

            await asyncio.to_thread(wait_until, ended, 300, "the four tasks")
            records = [task(redis_client, gateway_settings, t) for t in task_ids]
            assert [r.status.value for r in records] == ["completed"] * 4
            assert len({r.worker for r in records}) == 2  # both hosts worked
            async with session.get(f"{API_PREFIX}/download/{task_ids[0]}") as reply:
                archive = zipfile.ZipFile(io.BytesIO(await reply.read()))
            assert "speaker_1/segment_001.wav" in archive.namelist()
            track = archive.read("speaker_0.wav")
            audio_url = f"{API_PREFIX}/audio/{task_ids[0]}?file=speaker_0.wav"
            async with session.get(audio_url) as reply:
                assert reply.status == 200 and await reply.read() == track
            async with session.get(audio_url, headers={"Range": "bytes=100-4099"}) as reply:
                assert reply.status == 206 and await reply.read() == track[100:4100]
            async with session.get(f"{API_PREFIX}/download/{task_ids[0]}?format=json") as reply:
                assert (await reply.json())["num_speakers"] == 2
            async with session.get(f"{API_PREFIX}/metadata/{task_ids[0]}") as reply:
                assert len((await reply.json())["speakers"]) == 2
            keys = bucket_keys(s3_endpoint, bucket)
            assert sum(k.startswith("uploads/") for k in keys) == 4
            assert all(any(k.startswith(f"results/{t}/") for k in keys) for t in task_ids)
            async with session.delete(f"{API_PREFIX}/{task_ids[0]}") as reply:
                assert (await reply.json())["status"] == "deleted"
            assert not [k for k in bucket_keys(s3_endpoint, bucket) if task_ids[0] in k]
    finally:
        await server.close()
        for worker in workers:
            worker.stop()
    for settings in (gateway_settings, *hosts):  # nothing kept locally but scratch space
        assert local_files(settings) == []


async def _upload(session: aiohttp.ClientSession, path: Path) -> str:
    data = aiohttp.FormData()
    data.add_field("audio_file", await asyncio.to_thread(path.read_bytes), filename=path.name)
    async with session.post(f"{API_PREFIX}/upload", data=data) as reply:
        assert reply.status == 202, await reply.text()
        return (await reply.json())["task_id"]
