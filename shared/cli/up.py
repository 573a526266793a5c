"""`main.py up`: Redis (embedded unless one is configured), the gateway and the workers, in
one command; Ctrl-C or SIGTERM stops all of them cleanly (workers drain, Redis flushes)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.embedded_redis import EmbeddedRedis
from shared.processes import threads_per_job
from shared.redis_client import uses_embedded
from shared.settings import Settings

logger = logging.getLogger(__name__)

MAIN = Path(__file__).resolve().parents[2] / "main.py"
_RESTART_DELAY = 2.0
_STOP_TIMEOUT = 60.0


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env)
        logger.info("started %s (pid %d)", self.name, self.process.pid)


def children(settings: Settings, workers: int, concurrency: int) -> list[Child]:
    python = sys.executable
    gateway = Child("gateway", [python, str(MAIN), "start"])
    started = [gateway]
    env = os.environ.copy()
    if not settings.torch_threads:
        # the machine's cores shared out between the jobs that run at once (no oversubscribing)
        env["TORCH_THREADS"] = str(threads_per_job(workers * concurrency))
    for index in range(workers):
        port = settings.worker_metrics_port + index if settings.worker_metrics_port else 0
        command = [python, str(MAIN), "worker", "--concurrency", str(concurrency)]
        started.append(Child(f"worker-{index}", [*command, "--metrics-port", str(port)], env))
    return started


def up(settings: Settings, workers: int, concurrency: int) -> int:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = None
    if uses_embedded(settings):
        server = EmbeddedRedis(settings.storage_base_path / "redis", settings.redis_port)
        server.start()
    processes = children(settings, workers, concurrency)
    try:
        for child in processes:
            child.start()
        _supervise(processes, stop)
    finally:
        _stop_all(processes)
        if server is not None:
            server.stop()
            logger.info("embedded valkey-server stopped")
    return 0


def _supervise(processes: list[Child], stop: threading.Event) -> None:
    """Restart a child that dies, unless it keeps dying (5 times in a minute: give up)."""
    while not stop.wait(0.5):
        for child in processes:
            if child.process is None or child.process.poll() is None:
                continue
            now = time.monotonic()
            child.restarts = [t for t in child.restarts if now - t < 60] + [now]
            if len(child.restarts) > 5:
                logger.error("%s keeps exiting: stopping everything", child.name)
                return
            logger.warning("%s exited with %s: restarting", child.name, child.process.returncode)
            time.sleep(_RESTART_DELAY)
            child.start()


def _stop_all(processes: list[Child]) -> None:
    """SIGTERM all (workers drain and hand jobs back), then wait; kill what hangs."""
    running = [c for c in processes if c.process is not None and c.process.poll() is None]
    for child in running:
        child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT
    for child in running:
        try:
            child.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in time: killing it", child.name)
            child.process.kill()
            child.process.wait()
