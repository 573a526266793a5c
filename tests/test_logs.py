"""Structured logs: JSON lines with task_id and attempt on every line about a job."""

from __future__ import annotations

import json
import logging

import numpy as np
import soundfile as sf

from shared.logs import configure_logging, job_context
from shared.settings import Settings
from tests.service_helpers import Cluster, wait_until


def test_json_and_text_formats(tmp_path) -> None:
    log_file = tmp_path / "logs" / "service.log"
    configure_logging(Settings(_env_file=None, log_file=log_file, log_level="DEBUG"))
    logger = logging.getLogger("tests.logs")
    logger.info("outside any job")
    with job_context("task-1", 2):
        logger.warning("inside %s", "a job", extra={"stage": "embeddings"})
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    outside, inside = lines[-2], lines[-1]
    assert "task_id" not in outside and outside["level"] == "INFO"
    assert inside["message"] == "inside a job"
    assert (inside["task_id"], inside["attempt"], inside["stage"]) == ("task-1", 2, "embeddings")

    configure_logging(Settings(_env_file=None, log_file=log_file, log_format="text"))
    with job_context("task-2", 1):
        logger.info("plain")
    last = log_file.read_text().splitlines()[-1]
    assert last.endswith("tests.logs: plain task_id=task-2 attempt=1")
    configure_logging(Settings(_env_file=None))


def test_a_workers_job_lines_carry_task_and_attempt(settings, redis_client, tmp_path) -> None:
    inbox = settings.storage_base_path / "inbox"
    inbox.mkdir(parents=True)
    sf.write(str(inbox / "tone.wav"), np.zeros(16000, dtype=np.float32), 16000)
    cluster = Cluster(settings, tmp_path, redis_client, TEST_ENGINE_SECONDS="0.2")
    (worker,) = cluster.start(1)
    try:
        cluster.submit("inbox/tone.wav", task_id="logged-1")
        wait_until(lambda: cluster.terminal_statuses("logged-1") == ["completed"], 30, "the job")
    finally:
        cluster.stop()
    entries = [json.loads(line) for line in worker.output().splitlines() if line.startswith("{")]
    about_job = [e for e in entries if e["message"] in ("job started", "job ended")]
    assert len(about_job) == 2
    assert all((e["task_id"], e["attempt"]) == ("logged-1", 1) for e in about_job)
    assert all(
        e["level"] in ("INFO", "WARNING", "ERROR") and e["time"].endswith("Z") for e in entries
    )
