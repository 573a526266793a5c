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
