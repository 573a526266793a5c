"""The upload benchmark as a regression guard on memory (not on time): a 100 MB upload
must not grow the gateway by more than the 50 MiB the 500 MB target allows."""

from __future__ import annotations

import subprocess
import sys

from tests.service_helpers import ROOT


def test_upload_streams_without_growing_the_gateway() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops.bench.upload", "--size-mb", "100", "--runs", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gateway RSS growth over idle" in done.stdout
