"""The shared-frames embedding path against pyannote's one pass per (chunk, speaker)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from pyannote.core import SlidingWindow, SlidingWindowFeature

from shared.audio import decode
from shared.engine.bundled import BundledParams, build_bundled_pipeline
from shared.engine.pipeline import ServiceDiarization
from shared.engine.shared_frames import BlockPlan

RATE = 16_000
NUM_FRAMES = 589  # segmentation-3.0's frames per 10 s chunk


@pytest.fixture(scope="module")
def waveform(sample_wav: Path) -> torch.Tensor:
    return torch.from_numpy(decode(sample_wav, 3600).samples)[None]


@pytest.fixture(scope="module")
def pipeline() -> ServiceDiarization:
    return build_bundled_pipeline(replace(BundledParams(), onnx=False))


def _masks(num_samples: int, step: float, seed: int = 0) -> SlidingWindowFeature:
    """Random speaker masks over pyannote's chunks of a file; some speakers stay silent,
    and nobody speaks past the end of the file (where pyannote pads with zeros)."""
    window = SlidingWindow(start=0.0, duration=10.0, step=step)
    num_chunks = max(1, int(np.ceil((num_samples / RATE - 10.0) / step)) + 1)
    rng = np.random.default_rng(seed)
    masks = (rng.random((num_chunks, NUM_FRAMES, 3)) < 0.4).astype(np.float32)
    masks[::2, :, 2] = 0.0
    times = window[0].start + np.arange(NUM_FRAMES) * 10.0 / NUM_FRAMES
    for c in range(num_chunks):
        masks[c, window[c].start + times >= num_samples / RATE] = 0.0
    return SlidingWindowFeature(masks, window)


def _both_paths(
    pipeline: ServiceDiarization, waveform: torch.Tensor, masks: SlidingWindowFeature
) -> tuple[np.ndarray, np.ndarray]:
    file = {"waveform": waveform, "sample_rate": RATE, "uri": "test"}
    with torch.inference_mode():
        pipeline.shared_frames = False
        pyannote = pipeline.get_embeddings(file, masks)
        pipeline.shared_frames = True
        shared = pipeline.get_embeddings(file, masks)
    return pyannote, shared


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@pytest.mark.parametrize("seconds", [30.0, 8.0])
def test_chunks_on_block_boundaries_match_pyannote(pipeline, waveform, seconds) -> None:
    """Chunks that do not overlap are the blocks themselves: the same embeddings."""
    clip = waveform[:, : int(seconds * RATE)]
    masks = _masks(clip.shape[1], step=10.0)
    pyannote, shared = _both_paths(pipeline, clip, masks)
    silent = masks.data.sum(axis=1) == 0
    assert np.isnan(shared[silent]).all()
    np.testing.assert_allclose(shared[~silent], pyannote[~silent], rtol=1e-3, atol=1e-3)


def test_overlapping_chunks_are_close_to_pyannote(pipeline, waveform) -> None:
    """At the fast step, chunks straddling two blocks read frames of both: close enough."""
    clip = waveform[:, : 27 * RATE]  # not a whole number of blocks
    masks = _masks(clip.shape[1], step=5.0)
    pyannote, shared = _both_paths(pipeline, clip, masks)
    active = masks.data.sum(axis=1) > 0
    similarity = _cosine(shared[active], pyannote[active])
    assert similarity.min() > 0.8 and np.median(similarity) > 0.95
    # the first chunk is the first block
    np.testing.assert_allclose(shared[0][active[0]], pyannote[0][active[0]], rtol=1e-3, atol=1e-3)


def test_batch_size_does_not_change_the_result(pipeline, waveform) -> None:
    masks = _masks(waveform.shape[1], step=2.5, seed=1)
    file = {"waveform": waveform, "sample_rate": RATE, "uri": "test"}
    results = []
    pipeline.shared_frames = True
    for batch_size in (1, 32):
        pipeline.embedding_batch_size = batch_size
        with torch.inference_mode():
            results.append(pipeline.get_embeddings(file, masks))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4, atol=1e-4)


def test_block_plan_keeps_the_last_block_inside_the_file() -> None:
    plan = BlockPlan(num_samples=25 * RATE + 100, block=10 * RATE, hop=320)
    assert plan.num_blocks == 3
    assert [plan.start(k) for k in range(3)] == [0, 10 * RATE, 15 * RATE]
    # the last block owns the slots from 20 s on, read 5 s into its window
    index = plan.frame_index(2, num_frames=499)
    assert index[0] == 250 and len(index) == plan.num_slots - 1000
    short = BlockPlan(num_samples=3 * RATE, block=10 * RATE, hop=320)
    assert short.num_blocks == 1 and short.start(0) == 0
