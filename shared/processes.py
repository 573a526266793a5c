"""Child processes of the CLI, the benchmarks and the tests: cores, ports, stopping."""

from __future__ import annotations

import os
import socket
import subprocess


def threads_per_job(jobs: int) -> int:
    """The cores of this process shared out between `jobs` running at once (at least 1)."""
    return max(1, len(os.sched_getaffinity(0)) // max(jobs, 1))


def free_port() -> int:
    """A loopback TCP port free right now (another process may take it later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
