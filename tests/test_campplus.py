"""The CAM++ network: the released weights load, and its embeddings tell speakers apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shared.audio import decode
from shared.engine.embedding import CAMPPlusEmbedding
from shared.engine.weights import bundled_weights

# Single-speaker stretches of pyannote's sample (from sample.rttm).
SPEAKER_A = [(11.1, 14.4), (18.7, 21.4)]
SPEAKER_B = [(14.8, 17.9), (22.0, 27.8)]


@pytest.fixture(scope="module")
def model() -> CAMPPlusEmbedding:
    return CAMPPlusEmbedding.from_weights(bundled_weights().embedding)


@pytest.fixture(scope="module")
def waveform(sample_wav: Path) -> torch.Tensor:
    return torch.from_numpy(decode(sample_wav, 3600).samples)


def _clip(waveform: torch.Tensor, start: float, end: float) -> torch.Tensor:
    return waveform[int(start * 16000) : int(end * 16000)][None, None]


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b).item())


def test_embeddings_separate_the_two_speakers(model, waveform) -> None:
    with torch.inference_mode():
        a1, a2 = (model(_clip(waveform, *span)) for span in SPEAKER_A)
        b1, b2 = (model(_clip(waveform, *span)) for span in SPEAKER_B)
    assert a1.shape == (1, 192)
    same = min(_cosine(a1, a2), _cosine(b1, b2))
    different = max(_cosine(a1, b1), _cosine(a1, b2), _cosine(a2, b1), _cosine(a2, b2))
    assert same > different + 0.15


def test_masks_select_the_speaker(model, waveform) -> None:
    """One 10 s window with both speakers: a mask on each one's frames yields that
    speaker's embedding, as pyannote's pipeline relies on."""
    window = _clip(waveform, 10.0, 20.0)
    frames = 500
    times = np.linspace(10.0, 20.0, frames, endpoint=False)
    mask_a = torch.from_numpy(((times > 11.1) & (times < 14.4)).astype(np.float32))
    mask_b = torch.from_numpy(((times > 14.8) & (times < 17.8)).astype(np.float32))
    with torch.inference_mode():
        masked_a = model(window, weights=mask_a[None])
        masked_b = model(window, weights=mask_b[None])
        clean_a = model(_clip(waveform, *SPEAKER_A[1]))
        clean_b = model(_clip(waveform, *SPEAKER_B[1]))
    assert _cosine(masked_a, clean_a) > _cosine(masked_a, clean_b)
    assert _cosine(masked_b, clean_b) > _cosine(masked_b, clean_a)


def test_per_speaker_weights_match_one_call_per_speaker(model, waveform) -> None:
    """(B, S, W) weights run the network once and pool per speaker: same numbers as S calls."""
    windows = torch.cat([_clip(waveform, 5.0, 15.0), _clip(waveform, 15.0, 25.0)])
    weights = torch.rand(2, 3, 589).round()
    with torch.inference_mode():
        joint = model(windows, weights=weights)
        separate = torch.stack([model(windows, weights=weights[:, s]) for s in range(3)], dim=1)
    assert joint.shape == (2, 3, 192)
    torch.testing.assert_close(joint, separate, rtol=1e-4, atol=1e-4)
