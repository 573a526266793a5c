"""The bundled configurations: the fast default, pyannote's reference, and what runs where."""

from __future__ import annotations

import torch

from shared.engine.bundled import BundledParams
from shared.engine.loader import bundled_params
from shared.settings import BundledPreset, Settings


def test_default_is_fast_and_reference_is_pyannotes() -> None:
    fast, reference = BundledParams(), BundledParams.reference()
    assert fast.shared_frames and fast.onnx and fast.segmentation_step > 0.1
    assert not reference.shared_frames and not reference.onnx
    assert reference.segmentation_step == 0.1 and reference.max_clustered_embeddings is None


def test_onnx_runtime_is_for_cpus_only() -> None:
    assert BundledParams().on_device(torch.device("cpu")).onnx
    assert not BundledParams().on_device(torch.device("cuda")).onnx


def test_preset_setting_picks_the_parameters() -> None:
    assert Settings(_env_file=None).bundled_preset is BundledPreset.FAST
    assert bundled_params(BundledPreset.REFERENCE) == BundledParams.reference()
    assert bundled_params(BundledPreset.FAST) == BundledParams()


def test_onnx_cache_dir_none_means_no_cache_and_empty_means_default(monkeypatch) -> None:
    monkeypatch.setenv("ONNX_CACHE_DIR", "none")
    assert Settings(_env_file=None).onnx_cache_dir is None
    monkeypatch.setenv("ONNX_CACHE_DIR", "")
    default = Settings.model_fields["onnx_cache_dir"].default
    assert Settings(_env_file=None).onnx_cache_dir == default


def test_engine_runs_both_networks_under_onnx_runtime(engine) -> None:
    pipeline = engine.pipeline
    assert pipeline.shared_frames
    assert pipeline._segmentation.runner is not None
    assert pipeline._embedding.model_.frame_runner is not None
