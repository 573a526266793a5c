"""Running the real service in tests: settings as environment, worker and gateway processes,
and waiting on Redis state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis

from shared.keys import RedisKeys
from shared.processes import stop_process
from shared.schemas.messages import TaskRecord
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment that makes a child read the same settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS_")}
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, list):
            text = ",".join(value)
        elif hasattr(value, "get_secret_value"):
            text = value.get_secret_value()
        else:
            text = str(value)
        env[name.upper()] = text
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_until(condition: Callable[[], object], seconds: float, what: str) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def task(client: redis.Redis, settings: Settings, task_id: str) -> TaskRecord | None:
    fields = client.hgetall(RedisKeys(settings.redis_key_prefix).task(task_id))
    return TaskRecord.from_hash(fields) if fields else None


class ServiceProcess:
    """A `main.py` command running as a child process, its output kept in a log file."""

    def __init__(self, args: list[str], settings: Settings, log: Path, **env: str) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(MAIN), *args],
            cwd=log.parent,
            env=environment(settings, **env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            stop_process(self.process, timeout)
        self._log.close()
        return self.process.returncode


def start_worker(
    settings: Settings, log: Path, *args: str, engine_factory: str | None = None, **env: str
) -> ServiceProcess:
    command = ["worker", "--metrics-port", "0", *args]
    if engine_factory:
        command += ["--engine-factory", engine_factory]
    return ServiceProcess(command, settings, log, **env)


def wait_for_workers(
    client: redis.Redis, settings: Settings, count: int, seconds: float = 120
) -> None:
    keys = RedisKeys(settings.redis_key_prefix)
    wait_until(
        lambda: client.zcard(keys.workers) >= count, seconds, f"{count} worker(s) to register"
    )


class Cluster:
    """Worker processes of one deployment, running the scripted test engine."""

    ENGINE = "tests.engines:create"

    def __init__(self, settings: Settings, folder: Path, client: redis.Redis, **env: str) -> None:
        self.settings = settings
        self.folder = folder
        self.client = client
        self.env = env
        self.keys = RedisKeys(settings.redis_key_prefix)
        self.workers: list[ServiceProcess] = []

    def start(self, count: int = 1, wait: bool = True) -> list[ServiceProcess]:
        started = []
        for _ in range(count):
            log = self.folder / f"worker-{len(self.workers)}.log"
            worker = start_worker(self.settings, log, engine_factory=self.ENGINE, **self.env)
            self.workers.append(worker)
            started.append(worker)
        if wait:
            alive = sum(1 for w in self.workers if w.process.poll() is None)
            wait_for_workers(self.client, self.settings, alive, seconds=60)
        return started

    def owner(self, task_id: str) -> ServiceProcess:
        """The worker process whose consumer currently runs a task (by the pid in its id)."""
        record = task(self.client, self.settings, task_id)
        assert record is not None and record.worker
        pid = int(record.worker.rsplit("-", 2)[-2])
        return next(w for w in self.workers if w.pid == pid)

    def submit(self, audio: str, **fields: str) -> str:
        return self.client.xadd(self.keys.jobs, {"audio": audio, **fields}).decode()

    def terminal_statuses(self, task_id: str) -> list[str]:
        events = self.client.xrange(self.keys.task_events(task_id))
        ended = ("completed", "failed", "cancelled")
        return [f[b"status"].decode() for _, f in events if f[b"status"].decode() in ended]

    def pending(self) -> int:
        return int(self.client.xpending(self.keys.jobs, self.keys.group)["pending"])

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {w.log_path.name}\n{w.output()[-4000:]}" for w in self.workers)
