"""Redis over TLS (rediss://) with certificate verification, against a real Redis 7
(Debian's redis-server is built with TLS; .ci/run installs it)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time

import aiohttp
import numpy as np
import pytest
import redis
import soundfile as sf
from aiohttp.test_utils import TestServer

from producer.app import create_app
from shared.processes import free_port, stop_process
from shared.schemas.api import API_PREFIX
from shared.settings import Settings
from tests.service_helpers import Cluster, wait_until


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture
def certificates(tmp_path):
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it."""
    folder = tmp_path / "tls"
    folder.mkdir()
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt")
    )
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        str(extensions),
        "-out",
        str(cert),
    )
    return ca, cert, key


@pytest.fixture
def tls_redis(tmp_path, certificates):
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        if os.environ.get("CI_REQUIRE_ALL"):
            pytest.fail("redis-server (Debian package) is required in CI")
        pytest.skip("redis-server from Debian is not installed here (.ci/run installs it)")
    ca, cert, key = certificates
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(ca),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(ca))
    wait_until(lambda: _pings(client), 15, "redis-server with TLS")
    yield port, ca
    stop_process(process, 10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


async def test_gateway_and_worker_over_tls(tls_redis, tmp_path) -> None:
    port, ca = tls_redis
    settings = Settings(
        _env_file=None,
        redis_url=f"rediss://127.0.0.1:{port}/0",
        redis_tls_ca_file=ca,
        storage_base_path=tmp_path / "storage",
        worker_metrics_port=0,
        read_block_ms=500,
        reclaim_interval_seconds=1.0,
    )
    tone = tmp_path / "tone.wav"
    sf.write(str(tone), 0.1 * np.sin(np.arange(16000) / 5.0).astype(np.float32), 16000)
    client = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(ca))
    cluster = Cluster(settings, tmp_path, client, TEST_ENGINE_SECONDS="0.2")
    cluster.start(1)
    server = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
            data = aiohttp.FormData()
            data.add_field("audio_file", tone.read_bytes(), filename="tone.wav")
            async with session.post(f"{API_PREFIX}/upload", data=data) as reply:
                task_id = (await reply.json())["task_id"]
            deadline = time.monotonic() + 30
            status = {}
            while time.monotonic() < deadline and status.get("status") != "completed":
                await asyncio.sleep(0.2)
                async with session.get(f"{API_PREFIX}/status/{task_id}") as reply:
                    status = await reply.json()
            assert status["status"] == "completed", cluster.logs()
            async with session.get("/ready") as reply:
                assert (await reply.json())["ready"] is True
    finally:
        await server.close()
        cluster.stop()


async def test_an_unknown_certificate_is_refused(tls_redis, tmp_path) -> None:
    port, _ = tls_redis
    settings = Settings(
        _env_file=None,
        redis_url=f"rediss://127.0.0.1:{port}/0",
        storage_base_path=tmp_path / "storage",
        redis_socket_timeout=2.0,
    )
    server = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        # the system's CAs do not know our test CA: the connection must be refused
        async with (
            aiohttp.ClientSession() as session,
            session.get(server.make_url("/ready")) as reply,
        ):
            assert reply.status == 503 and (await reply.json())["redis"] is False
    finally:
        await server.close()
