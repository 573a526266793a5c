"""Pick and load the engine DIARIZATION_ENGINE asks for (once per process)."""

from __future__ import annotations

import logging
import os
import time

import pyannote.audio
import torch

from shared.engine.bundled import BUNDLED_MODEL_NAME, BundledParams, build_bundled_pipeline
from shared.engine.engine import DiarizationEngine
from shared.engine.official import find_pipeline_dir, load_pipeline
from shared.errors import ModelNotAvailableError
from shared.schemas.results import EngineInfo
from shared.settings import BundledPreset, EngineChoice, Settings

logger = logging.getLogger(__name__)

BUNDLED = "bundled"
OFFICIAL = "pyannote"


def load_engine(settings: Settings, bundled: BundledParams | None = None) -> DiarizationEngine:
    started = time.perf_counter()
    configure_torch(settings.torch_threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pipeline_dir = find_pipeline_dir(settings.model_path, settings.model_name)
    choice = settings.diarization_engine
    if choice is EngineChoice.PYANNOTE and pipeline_dir is None:
        raise ModelNotAvailableError(
            f"DIARIZATION_ENGINE=pyannote but {settings.model_name} is not under "
            f"{settings.model_path}: run `main.py download-model` first"
        )
    if choice is not EngineChoice.BUNDLED and pipeline_dir is not None:
        pipeline = load_pipeline(pipeline_dir, settings.model_path)
        kind, model = OFFICIAL, settings.model_name
    else:
        params = (bundled or bundled_params(settings.bundled_preset)).on_device(device)
        pipeline = build_bundled_pipeline(params, settings.onnx_cache_dir)
        kind, model = BUNDLED, BUNDLED_MODEL_NAME
    pipeline.to(device)
    info = EngineInfo(
        engine=kind, model=model, version=pyannote.audio.__version__, device=device.type
    )
    logger.info(
        "engine loaded",
        extra={"engine": kind, "model": model, "seconds": round(time.perf_counter() - started, 2)},
    )
    return DiarizationEngine(pipeline, info, settings.max_audio_duration_seconds)


def bundled_params(preset: BundledPreset) -> BundledParams:
    return BundledParams.reference() if preset is BundledPreset.REFERENCE else BundledParams()


def configure_torch(threads: int) -> None:
    """One intra-op thread per core this process may use (TORCH_THREADS overrides)."""
    if threads <= 0:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    torch.set_num_threads(threads)
