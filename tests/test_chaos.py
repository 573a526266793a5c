"""The chaos run (tests/chaos.py) as a test: 100 jobs, 3 workers killed at random, one
Redis crash; every job ends exactly once, none lost, statuses never go backwards."""

from __future__ import annotations

import pytest

from tests.chaos import run_chaos


@pytest.mark.slow
async def test_chaos(tmp_path) -> None:
    report = await run_chaos(tmp_path, jobs=100, workers=3, kills=3)
    print("\n".join(report.lines()))
    assert report.violations == []
    assert report.accepted == 100
    assert report.statuses == {"completed": 100}
    assert report.worker_kills == 3 and report.redis_restarts == 1
