"""CAM++ as a pyannote.audio `Model`: waveforms (+ per-speaker masks) in, embeddings out."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from pyannote.audio import Model
from pyannote.audio.core.task import Problem, Resolution, Specifications
from torchaudio.compliance import kaldi

from shared.engine.campplus import CAMPPlus

# (B, T, F) fbank -> (B, C, T') frame features: the network's own, or an accelerated copy.
FrameRunner = Callable[[torch.Tensor], torch.Tensor]
# Kaldi's default frame shift (10 ms); the network's first TDNN halves the frame rate.
_FBANK_SHIFT_SECONDS = 0.01
_NETWORK_STRIDE = 2


class CAMPPlusEmbedding(Model):
    """Speaker embeddings from 80-bin Kaldi fbank with per-utterance mean normalisation.

    `forward(waveforms, weights)` honours pyannote's frame masks through weighted statistics
    pooling: weights (B, W) give one embedding per waveform, weights (B, S, W) give one per
    speaker of each waveform while the network itself runs once per waveform.
    `frame_runner`, when set (e.g. an ONNX Runtime session), replaces the network's frame
    features; pooling and projection stay in PyTorch.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        num_channels: int = 1,
        num_mel_bins: int = 80,
        embedding_dim: int = 192,
        chunk_duration: float = 10.0,
    ) -> None:
        super().__init__(sample_rate=sample_rate, num_channels=num_channels)
        self.save_hyperparameters("num_mel_bins", "embedding_dim", "chunk_duration")
        self.network = CAMPPlus(feat_dim=num_mel_bins, embedding_dim=embedding_dim)
        self._fbank = partial(
            kaldi.fbank,
            num_mel_bins=num_mel_bins,
            sample_frequency=sample_rate,
            dither=0.0,
        )
        self.specifications = Specifications(
            problem=Problem.REPRESENTATION,
            resolution=Resolution.CHUNK,
            duration=chunk_duration,
        )
        self.frame_runner: FrameRunner | None = None

    @classmethod
    def from_weights(cls, path: Path) -> CAMPPlusEmbedding:
        """Build the model around a released CAM++ state dict (e.g. 3D-Speaker's)."""
        model = cls()
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.network.load_state_dict(state, strict=True)
        return model.eval()

    @property
    def dimension(self) -> int:
        return self.network.embedding_dim

    @property
    def frame_hop(self) -> int:
        """Samples between two consecutive frame features."""
        return round(self.hparams.sample_rate * _FBANK_SHIFT_SECONDS) * _NETWORK_STRIDE

    def compute_fbank(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(B, 1, N) waveforms -> (B, T, F) mean-normalised log-mel filterbanks."""
        features = torch.vmap(self._fbank)(waveforms)
        return features - features.mean(dim=1, keepdim=True)

    def frames(self, waveforms: torch.Tensor) -> torch.Tensor:
        """(B, 1, N) waveforms -> (B, C, T') frame features, before pooling."""
        fbank = self.compute_fbank(waveforms)
        runner = self.frame_runner or self.network.frames
        return runner(fbank)

    def forward(self, waveforms: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        return self.network.embed(self.frames(waveforms), weights)
