"""The service benchmark runs end to end (real workers, real engine) and reports every
figure; it guards the benchmark itself, not the timings (those live in docs/performance.md)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.service_helpers import ROOT


def test_service_benchmark_reports_each_round() -> None:
    command = [sys.executable, "-m", "ops.bench.service",
               "--minutes", "0.5", "--jobs", "2", "--workers", "1", "2"]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    pattern = r"^\| (\d) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) ms \| (\d+) ms \| (\d+) ms \|$"
    rows = re.findall(pattern, done.stdout, re.MULTILINE)
    assert [row[0] for row in rows] == ["1", "2"], done.stdout
    single = rows[0]
    assert float(single[1]) > 0 and single[2] == "1.00"
    assert all(int(row[4]) > 0 for row in rows)  # result files take time of their own
