"""Memory of the gateway while a large upload streams through it.

    uv run python -m ops.bench.upload [--size-mb 500] [--runs 3]

Starts a private valkey-server and a gateway (`main.py start`) in fresh processes, builds a
WAV file of the given size, uploads it K times and samples the gateway's resident memory
every 10 ms: prints the growth over its idle level (median and worst over the runs) and
the upload rate. Target (issue 5): growth <= 50 MiB for 500 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import numpy as np
import psutil
import soundfile as sf

from shared.cli.up import MAIN
from shared.embedded_redis import EmbeddedRedis
from shared.processes import free_port, stop_process
from shared.schemas.api import API_PREFIX

MIB = 1024 * 1024


def build_wav(path: Path, size_mb: int) -> None:
    """A 48 kHz stereo 16-bit WAV of about `size_mb` megabytes (noise: content is not read)."""
    frames = size_mb * 1_000_000 // 4
    block = (np.random.default_rng(0).standard_normal((48_000, 2)) * 0.05).astype(np.float32)
    with sf.SoundFile(str(path), "w", 48_000, 2, subtype="PCM_16") as out:
        for start in range(0, frames, len(block)):
            out.write(block[: min(len(block), frames - start)])


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def finish(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


async def _upload(url: str, path: Path) -> int:
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with path.open("rb") as stream:  # streamed by aiohttp, never read whole
            data = aiohttp.FormData()
            data.add_field("audio_file", stream, filename=path.name)
            async with session.post(f"{url}{API_PREFIX}/upload", data=data) as reply:
                await reply.read()
                return reply.status


def measure(url: str, pid: int, path: Path) -> tuple[int, float]:
    """(peak RSS growth in bytes, seconds) of one upload."""
    idle = psutil.Process(pid).memory_info().rss
    sampler = RssSampler(pid)
    sampler.start()
    started = time.perf_counter()
    status = asyncio.run(_upload(url, path))
    elapsed = time.perf_counter() - started
    peak = sampler.finish()
    if status != 202:
        raise SystemExit(f"upload answered HTTP {status}")
    return peak - idle, elapsed


def _gateway(folder: Path, redis_port: int, api_port: int, size_mb: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "API_"))}
    env.update(
        REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_port), API_PORT=str(api_port),
        STORAGE_BASE_PATH=str(folder / "storage"), MAX_FILE_SIZE_MB=str(size_mb + 50),
        MAX_UPLOADS_PER_HOUR="0", MAX_ACTIVE_TASKS_PER_CLIENT="0", LOG_LEVEL="WARNING",
    )  # fmt: skip
    command = [sys.executable, str(MAIN), "start"]
    return subprocess.Popen(command, env=env, cwd=folder)


def _wait_until_up(url: str) -> None:
    async def ping() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(f"{url}/health") as reply:
                return reply.status == 200
        except aiohttp.ClientError:
            return False

    for _ in range(300):
        if asyncio.run(ping()):
            return
        time.sleep(0.1)
    raise SystemExit("the gateway did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ops.bench.upload", description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=500, help="size of the uploaded file")
    parser.add_argument("--runs", type=int, default=3, help="uploads to measure")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        audio = folder / "big.wav"
        build_wav(audio, args.size_mb)
        server = EmbeddedRedis(folder / "valkey", free_port())
        server.start()
        api_port = free_port()
        gateway = _gateway(folder, server.port, api_port, args.size_mb)
        url = f"http://127.0.0.1:{api_port}"
        try:
            _wait_until_up(url)
            # the first upload also loads the audio libraries: it counts, as for a fresh gateway
            results = [measure(url, gateway.pid, audio) for _ in range(args.runs)]
        finally:
            stop_process(gateway, 30)
            server.stop()
    size = args.size_mb * 1_000_000 / MIB
    growths = [growth / MIB for growth, _ in results]
    rates = [size / seconds for _, seconds in results]
    print(f"upload of {size:.0f} MiB through the gateway, {args.runs} runs")
    print(
        f"  gateway RSS growth over idle: first upload {growths[0]:.1f} MiB, "
        f"median {statistics.median(growths):.1f} MiB, worst {max(growths):.1f} MiB "
        "(target <= 50)"
    )
    print(f"  upload rate: median {statistics.median(rates):.0f} MiB/s")
    return 0 if max(growths) <= 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
