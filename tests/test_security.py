"""API keys and tenancy, per-client limits, callback targets, a full disk."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from producer.app import create_app
from shared.callback_policy import CallbackPolicy, check_callback_url
from shared.errors import InvalidParametersError
from shared.processes import free_port
from shared.schemas.api import API_PREFIX
from tests.conftest import make_settings

KEY_A, KEY_B = "key-alpha-0123456789", "key-bravo-9876543210"


async def gateway(settings):
    server = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await server.start_server()
    return server


def form(path: Path) -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("audio_file", path.read_bytes(), filename=path.name)
    return data


@pytest.fixture
async def keyed(redis_server, tmp_path):
    hashed_b = "sha256:" + hashlib.sha256(KEY_B.encode()).hexdigest()  # stored hashed
    settings = make_settings(redis_server, tmp_path / "storage", api_keys=[KEY_A, hashed_b])
    server = await gateway(settings)
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session
    await server.close()


async def test_api_keys_are_required(keyed, sample_wav) -> None:
    async with keyed.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
        assert (reply.status, (await reply.json())["error_code"]) == (401, "UNAUTHORIZED")
    bad = {"X-API-Key": "nope"}
    async with keyed.get(f"{API_PREFIX}/status/x", headers=bad) as reply:
        assert reply.status == 401
    async with keyed.get("/health") as reply:  # liveness stays open
        assert reply.status == 200


async def test_each_key_sees_only_its_own_tasks(keyed, sample_wav) -> None:
    alpha = {"X-API-Key": KEY_A}
    bravo = {"Authorization": f"Bearer {KEY_B}"}
    async with keyed.post(f"{API_PREFIX}/upload", data=form(sample_wav), headers=alpha) as reply:
        assert reply.status == 202
        task_id = (await reply.json())["task_id"]
    async with keyed.get(f"{API_PREFIX}/status/{task_id}", headers=alpha) as reply:
        assert reply.status == 200
    for method, path in (("GET", f"status/{task_id}"), ("GET", f"download/{task_id}"),
                         ("GET", f"metadata/{task_id}"), ("DELETE", task_id)):  # fmt: skip
        async with keyed.request(method, f"{API_PREFIX}/{path}", headers=bravo) as reply:
            assert (reply.status, (await reply.json())["error_code"]) == (404, "TASK_NOT_FOUND")
    async with keyed.post(f"{API_PREFIX}/upload", data=form(sample_wav), headers=bravo) as reply:
        assert reply.status == 202  # the hashed key works too
    # the same Idempotency-Key under two keys: two tasks (keys are scoped by tenant)
    for headers in (alpha, bravo):
        async with keyed.post(f"{API_PREFIX}/upload", data=form(sample_wav),
                              headers={**headers, "Idempotency-Key": "same"}) as reply:  # fmt: skip
            assert reply.status == 202


async def test_per_client_limits(redis_server, tmp_path, sample_wav) -> None:
    settings = make_settings(
        redis_server, tmp_path / "storage", max_uploads_per_hour=3, max_active_tasks_per_client=2
    )
    server = await gateway(settings)
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
            ids = []
            for _ in range(2):
                async with session.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
                    ids.append((await reply.json())["task_id"])
            async with session.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
                body = await reply.json()
                assert (reply.status, body["error_code"]) == (429, "TOO_MANY_TASKS")
                assert int(reply.headers["Retry-After"]) > 0
            async with session.delete(f"{API_PREFIX}/{ids[0]}") as reply:  # frees a slot
                assert reply.status == 200
            async with session.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
                assert reply.status == 202
            async with session.delete(f"{API_PREFIX}/{ids[1]}") as reply:
                assert reply.status == 200
            async with session.post(f"{API_PREFIX}/upload", data=form(sample_wav)) as reply:
                body = await reply.json()
                assert (reply.status, body["error_code"]) == (429, "RATE_LIMITED")
                assert 3000 < int(reply.headers["Retry-After"]) <= 3600
    finally:
        await server.close()


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/", "not a url"],
)
def test_callback_urls_must_be_plain_http(url) -> None:
    with pytest.raises(InvalidParametersError):
        check_callback_url(url)


def test_callback_policy_refuses_private_targets() -> None:
    policy = CallbackPolicy([])
    private = ["127.0.0.1", "10.1.2.3", "192.168.0.5", "172.16.0.1", "169.254.169.254", "::1",
               "fe80::1", "::ffff:127.0.0.1", "100.64.0.1", "0.0.0.0", "224.0.0.1"]  # fmt: skip
    for address in private:
        assert not policy.allows("example.com", address), address
    assert policy.allows("example.com", "93.184.216.34")
    assert policy.allows("example.com", "2606:2800:220:1:248:1893:25c8:1946")
    allowed = CallbackPolicy(["hooks.internal", "10.0.0.0/8"])
    assert allowed.allows("hooks.internal", "192.168.1.1")
    assert allowed.allows("other", "10.9.9.9") and not allowed.allows("other", "192.168.1.1")


async def test_private_callback_is_refused_at_upload_time_only_if_malformed(
    keyed, sample_wav
) -> None:
    data = form(sample_wav)
    data.add_field("callback_url", "gopher://127.0.0.1/")
    async with keyed.post(f"{API_PREFIX}/upload", data=data, headers={"X-API-Key": KEY_A}) as reply:
        assert (reply.status, (await reply.json())["error_code"]) == (400, "INVALID_PARAMETERS")


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB filesystem (tmpfs) as the storage root."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, f"this test needs to mount a tmpfs (root): {done.stderr}"
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


async def test_full_disk_answers_507_and_keeps_nothing(
    redis_server, redis_client, tiny_disk, sample_wav, tmp_path
) -> None:
    settings = make_settings(redis_server, tiny_disk)
    big = tmp_path / "big.wav"
    big.write_bytes(sample_wav.read_bytes() * 3)  # ~2.9 MB: does not fit
    server = await gateway(settings)
    try:
        url = server.make_url(f"{API_PREFIX}/upload")
        async with aiohttp.ClientSession() as session, session.post(url, data=form(big)) as reply:
            body = await reply.json()
    finally:
        await server.close()
    assert (reply.status, body["error_code"]) == (507, "STORAGE_FULL")
    assert [p for p in tiny_disk.rglob("*") if p.is_file()] == []
    from shared.keys import RedisKeys

    assert redis_client.xlen(RedisKeys(settings.redis_key_prefix).jobs) == 0
