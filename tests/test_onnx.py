"""ONNX Runtime and PyTorch agree on both networks; exports are cached and keyed by weights."""

from __future__ import annotations

import pytest
import torch
from pyannote.audio import Model

from shared.engine.embedding import CAMPPlusEmbedding
from shared.engine.onnx import OnnxRunner, onnx_runner
from shared.engine.weights import bundled_weights

WINDOW = 160_000  # 10 s at 16 kHz
BATCH = ({0: "batch"}, {0: "batch"})
FRAMES = ({0: "batch", 1: "time"}, {0: "batch", 2: "frames"})


@pytest.fixture(scope="module")
def embedding() -> CAMPPlusEmbedding:
    return CAMPPlusEmbedding.from_weights(bundled_weights().embedding)


@pytest.fixture(scope="module")
def frames_runner(embedding, tmp_path_factory) -> OnnxRunner:
    fbank = torch.zeros(2, 998, 80)
    cache = tmp_path_factory.mktemp("onnx")
    return onnx_runner(embedding.network.frame_module(), fbank, FRAMES, cache, 2)


@pytest.fixture(scope="module")
def speech(sample_wav) -> torch.Tensor:
    from shared.audio import decode

    samples = torch.from_numpy(decode(sample_wav, 3600).samples)
    return torch.stack([samples[start : start + WINDOW] for start in (0, 80_000, 160_000)])[:, None]


def test_campplus_frames_agree(embedding, frames_runner, speech) -> None:
    fbank = embedding.compute_fbank(speech)
    with torch.inference_mode():
        expected = embedding.network.frames(fbank)
        # another length than the export's example: the time axis is dynamic
        shorter = embedding.network.frames(fbank[:, :700])
    torch.testing.assert_close(frames_runner(fbank), expected, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(frames_runner(fbank[:, :700]), shorter, rtol=1e-3, atol=1e-3)


def test_embeddings_agree_through_the_model(embedding, frames_runner, speech) -> None:
    weights = torch.rand(3, 2, 589).round()
    with torch.inference_mode():
        expected = embedding(speech, weights=weights)
        embedding.frame_runner = frames_runner
        try:
            accelerated = embedding(speech, weights=weights)
        finally:
            embedding.frame_runner = None
    torch.testing.assert_close(accelerated, expected, rtol=1e-3, atol=1e-3)


def test_segmentation_agrees(speech) -> None:
    model = Model.from_pretrained(str(bundled_weights().segmentation)).eval()
    runner = onnx_runner(model, torch.zeros(2, 1, WINDOW), BATCH, None, 2)
    with torch.inference_mode():
        expected = model(speech)
    torch.testing.assert_close(runner(speech), expected, rtol=1e-3, atol=1e-3)


def test_export_is_cached_per_weights(tmp_path) -> None:
    example = torch.zeros(1, 8)
    module = torch.nn.Linear(8, 4)
    first = onnx_runner(module, example, BATCH, tmp_path, 1)
    (cached,) = tmp_path.glob("*.onnx")
    stamp = cached.stat().st_mtime_ns
    again = onnx_runner(module, example, BATCH, tmp_path, 1)
    assert cached.stat().st_mtime_ns == stamp  # read back, not exported again
    torch.testing.assert_close(again(example + 1), first(example + 1))
    with torch.no_grad():
        module.bias.add_(1.0)  # new weights: a new export, next to the old one
    changed = onnx_runner(module, example, BATCH, tmp_path, 1)
    assert len(list(tmp_path.glob("*.onnx"))) == 2
    torch.testing.assert_close(changed(example), module(example).detach())
