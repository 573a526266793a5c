"""Throughput and queue latency of the whole service: W real workers, one Redis.

    uv run python -m ops.bench.service [--minutes 5] [--jobs 6] [--workers 1 2]

For each W: a private valkey-server and W worker processes with the real (bundled) engine,
each given the same share of the machine (one torch thread per core, cores / max(W)
threads each), so that W workers are compared with W times one. All jobs (a long file of
real speech, see ops/bench/longfile.py) are XADDed at once; printed per W:
- throughput in audio-hours per hour, and its ratio to W x the single-worker figure
  (target: within 20 % up to the core count);
- dispatch latency of the jobs that found an idle worker (XADD to the start of work);
- the time each job spends writing its result files (per-speaker WAVs, ZIP, timeline PNG),
  work the job asks for, reported apart;
- the queue's share of a job beyond both (Redis transitions, events, acknowledgement):
  with dispatch, target <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from ops.bench.longfile import build_long_file, default_sources
from shared.cli.up import MAIN
from shared.embedded_redis import EmbeddedRedis
from shared.keys import RedisKeys
from shared.processes import free_port, threads_per_job
from shared.schemas.messages import TaskRecord

PREFIX = "bench"
KEYS = RedisKeys(PREFIX)


@dataclass
class Round:
    workers: int
    audio_seconds: float
    wall_seconds: float
    dispatch: list[float]
    store: list[float]
    overhead: list[float]

    @property
    def audio_hours_per_hour(self) -> float:
        return self.audio_seconds / self.wall_seconds


def _start_workers(folder: Path, port: int, count: int, threads: int) -> list[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
    env.update(
        REDIS_HOST="127.0.0.1", REDIS_PORT=str(port), REDIS_KEY_PREFIX=PREFIX,
        STORAGE_BASE_PATH=str(folder / "storage"), TORCH_THREADS=str(threads),
        LOG_LEVEL="WARNING", DIARIZATION_ENGINE="bundled", MODEL_PATH=str(folder / "models"),
    )  # fmt: skip
    command = [sys.executable, str(MAIN), "worker", "--metrics-port", "0"]
    return [subprocess.Popen(command, env=env, cwd=folder) for _ in range(count)]


def _wait(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


@dataclass(frozen=True)
class Plan:
    folder: Path
    audio: Path
    seconds: float  # of the audio
    jobs: int
    threads: int  # torch threads per worker


@contextmanager
def _cluster(plan: Plan, workers: int) -> Iterator[redis.Redis]:
    """A private valkey-server and `workers` idle workers, all stopped on exit."""
    server = EmbeddedRedis(plan.folder / f"valkey-{workers}", free_port())
    server.start()
    client = redis.Redis(host=server.host, port=server.port)
    processes = _start_workers(plan.folder, server.port, workers, plan.threads)
    try:
        _wait(lambda: client.zcard(KEYS.workers) >= workers, 300)
        yield client
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)
        server.stop()


def _run_jobs(client: redis.Redis, ids: list[str], audio: str) -> list[TaskRecord]:
    for task_id in ids:  # submitted_at: the clock starts at XADD, not when a worker reads it
        job = {"task_id": task_id, "audio": audio, "submitted_at": str(time.time())}
        client.xadd(KEYS.jobs, job)
    records: list[TaskRecord] = []

    def finished() -> bool:
        hashes = [client.hgetall(KEYS.task(task_id)) for task_id in ids]
        records[:] = [TaskRecord.from_hash(fields) for fields in hashes if fields]
        return len(records) == len(ids) and all(r.status.terminal for r in records)

    _wait(finished, 3600)
    return records


def run_round(plan: Plan, workers: int) -> Round:
    inbox = plan.folder / "storage" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    shutil.copy(plan.audio, inbox / plan.audio.name)
    with _cluster(plan, workers) as client:
        started = time.time()
        ids = [f"bench-{workers}-{n}" for n in range(plan.jobs)]
        records = _run_jobs(client, ids, f"inbox/{plan.audio.name}")
    if any(r.status.value != "completed" for r in records):
        raise SystemExit(f"a job failed: {[r.error for r in records if r.error]}")
    wall = max(r.finished_at for r in records) - started
    first = sorted(records, key=lambda r: r.started_at)[:workers]  # found an idle worker
    dispatch = [r.started_at - r.created_at for r in first]
    store = [r.summary.store_time for r in records]
    overhead = [
        (r.finished_at - r.started_at) - r.summary.processing_time - r.summary.store_time
        for r in records
    ]
    return Round(workers, plan.seconds * plan.jobs, wall, dispatch, store, overhead)


def render(rounds: list[Round]) -> str:
    single = next((r.audio_hours_per_hour for r in rounds if r.workers == 1), float("nan"))
    lines = [
        "| workers | audio-hours per hour | vs W x one | dispatch | result files | queue |",
        "|---|---|---|---|---|---|",
    ]
    for r in rounds:
        ratio = r.audio_hours_per_hour / (r.workers * single)
        dispatch = 1000 * statistics.median(r.dispatch)
        store, overhead = (1000 * statistics.median(values) for values in (r.store, r.overhead))
        lines.append(
            f"| {r.workers} | {r.audio_hours_per_hour:.1f} | {ratio:.2f} | "
            f"{dispatch:.1f} ms | {store:.0f} ms | {overhead:.0f} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ops.bench.service", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="length of each job's audio")
    parser.add_argument("--jobs", type=int, default=6, help="jobs per round")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="W of each round")
    args = parser.parse_args(argv)
    threads = threads_per_job(max(args.workers))
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        audio = folder / "speech.wav"
        seconds = build_long_file(default_sources(), args.minutes, audio)
        print(
            f"{args.jobs} jobs of {seconds / 60:.1f} min per round, "
            f"{threads} torch thread(s) per worker",
            flush=True,
        )
        plan = Plan(folder, audio, seconds, args.jobs, threads)
        rounds = [run_round(plan, workers) for workers in args.workers]
    print(render(rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
