"""How long the real engine keeps other threads of its worker waiting for the GIL.

    uv run python -m ops.bench.gil [--minutes 10] [--audio FILE ...]

The lease keeper is a thread of the worker (consumer/lease.py): each of its socket calls
waits for the GIL again, so a lease is safe while inference never holds the GIL for more
than a small fraction of LEASE_SECONDS. This runs the default engine on a long file of
real speech while a probe thread sleeps 1 ms in a loop, and prints how late the probe
woke (median, 99.9th percentile, worst): the longest stretch inference held the GIL.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from ops.bench.longfile import build_long_file, default_sources
from shared.engine.loader import load_engine
from shared.schemas.results import DiarizationOptions
from shared.settings import Settings


class _Probe(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="gil-probe", daemon=True)
        self.wakeups: list[float] = []
        self.halted = threading.Event()

    def run(self) -> None:
        while not self.halted.is_set():
            started = time.perf_counter()
            time.sleep(0.001)
            self.wakeups.append(time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ops.bench.gil", description=__doc__.split("\n")[0])
    parser.add_argument("--audio", type=Path, nargs="+", help="real audio to build the file from")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the long file")
    args = parser.parse_args(argv)
    engine = load_engine(Settings(diarization_engine="bundled", _env_file=None))
    with tempfile.TemporaryDirectory() as folder:
        audio = Path(folder) / "long.wav"
        seconds = build_long_file(args.audio or default_sources(), args.minutes, audio)
        probe = _Probe()
        probe.start()
        started = time.perf_counter()
        engine.diarize_file(audio, DiarizationOptions())
        elapsed = time.perf_counter() - started
        probe.halted.set()
        probe.join()
    waits = sorted(probe.wakeups)
    median, tail = waits[len(waits) // 2], waits[int(len(waits) * 0.999)]
    print(
        f"{seconds / 60:.1f} min of audio in {elapsed:.1f} s; a 1 ms sleep in another thread "
        f"took: median {1000 * median:.1f} ms, 99.9th percentile {1000 * tail:.1f} ms, "
        f"worst {1000 * waits[-1]:.1f} ms ({len(waits)} samples)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
