"""The engine benchmark runs both configurations side by side and prints every figure it
promises; it guards the benchmark and the fast engine's accuracy, not the timings."""

from __future__ import annotations

import re
import subprocess
import sys

from ops.bench.longfile import SAMPLE_DIR
from tests.service_helpers import ROOT


def test_engine_benchmark_compares_reference_and_fast() -> None:
    command = [sys.executable, "-m", "ops.bench.engine", "--audio", str(SAMPLE_DIR / "sample.wav"),
               "--minutes", "0.5", "--runs", "1", "--sample-only"]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for config in ("reference", "fast"):
        assert re.search(rf"^{config}\s+\d+\.\d{{4}}\s+\d+\.\d{{4}}.*\d+ MiB$", out, re.M), out
    assert re.search(r"^speed-up of fast over reference: \d+\.\dx$", out, re.M), out
    der = re.search(r"^sample/sample\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    assert der is not None, out
    assert all(float(value) < 8.0 for value in der.groups()), out
