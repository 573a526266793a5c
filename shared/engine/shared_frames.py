"""Speaker embeddings from one pass of CAM++ over the file, pooled per (chunk, speaker).

pyannote runs the embedding network once per (chunk, speaker): with 10 s chunks every
`step` seconds, each second of audio goes through it (10 / step) x speakers times. Here
the network runs once over consecutive, non-overlapping blocks as long as a chunk, and
each chunk pools the frames of the blocks it spans under each local speaker's mask.

A chunk that coincides with a block gets pyannote's embedding exactly. A chunk straddling
two blocks reads frames computed in each block's context (fbank mean, the network's
context-aware masks): a close, not identical, embedding. The last block ends at the end
of the file rather than being padded with silence, so it sees only real audio.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pyannote.core import SlidingWindowFeature

from shared.engine.embedding import CAMPPlusEmbedding

# pyannote's hook, bound to a step: hook(artefact, total=..., completed=...)
ProgressHook = Callable[..., None]


@dataclass(frozen=True)
class BlockPlan:
    """Blocks of the file on the grid of frame slots (one slot = one frame hop)."""

    num_samples: int
    block: int  # samples per block (one chunk's duration)
    hop: int  # samples per frame slot

    @property
    def slots_per_block(self) -> int:
        return self.block // self.hop

    @property
    def num_blocks(self) -> int:
        return max(1, math.ceil(self.num_samples / self.block))

    @property
    def num_slots(self) -> int:
        return math.ceil(self.num_samples / self.hop)

    def start(self, k: int) -> int:
        """First sample of block k: the last one ends at the file's end when it can."""
        if k < self.num_blocks - 1 or self.num_samples <= self.block:
            return k * self.block
        return (self.num_samples - self.block) // self.hop * self.hop

    def frame_index(self, k: int, num_frames: int) -> torch.Tensor:
        """Frame of block k for each slot the block owns (its last frame repeats if short)."""
        first = k * self.slots_per_block
        last = min(first + self.slots_per_block, self.num_slots)
        local = torch.arange(first, last) - self.start(k) // self.hop
        return local.clamp(0, num_frames - 1)


class _FrameBuffer:
    """Frame features on the slot grid, for the blocks still needed."""

    def __init__(self) -> None:
        self.first_slot = 0
        self.data: torch.Tensor | None = None  # (C, slots)

    @property
    def end_slot(self) -> int:
        return self.first_slot + (0 if self.data is None else self.data.shape[1])

    def append(self, frames: torch.Tensor) -> None:
        self.data = frames if self.data is None else torch.cat([self.data, frames], dim=1)

    def drop_before(self, slot: int) -> None:
        if self.data is not None and slot > self.first_slot:
            self.data = self.data[:, slot - self.first_slot :]
            self.first_slot = slot

    def read(self, first: int, count: int) -> torch.Tensor:
        """(C, count) frames from slot `first`; zeros past the end of the file."""
        assert self.data is not None
        local = self.data[:, first - self.first_slot : first - self.first_slot + count]
        return F.pad(local, (0, count - local.shape[1]))


def shared_frame_embeddings(
    model: CAMPPlusEmbedding,
    waveform: torch.Tensor,
    segmentations: SlidingWindowFeature,
    batch_size: int,
    hook: ProgressHook | None = None,
) -> np.ndarray:
    """(num_chunks, num_speakers, dimension) embeddings; NaN for speakers never active.

    waveform: (1, num_samples) at the model's sample rate; batch_size: blocks per pass.
    """
    run = _SharedFramePass(model, waveform, segmentations)
    num_blocks = run.plan.num_blocks
    total = math.ceil(num_blocks / batch_size)
    for index, first in enumerate(range(0, num_blocks, batch_size), 1):
        run.extend(range(first, min(first + batch_size, num_blocks)))
        run.embed_ready(batch_size)
        if hook is not None:
            hook(None, total=total, completed=index)
    return run.embeddings


class _SharedFramePass:
    """State of one file's pass: blocks run so far, and chunks embedded so far."""

    def __init__(
        self, model: CAMPPlusEmbedding, waveform: torch.Tensor, segmentations: SlidingWindowFeature
    ) -> None:
        self.model = model
        self.waveform = waveform
        rate = model.hparams.sample_rate
        chunks = segmentations.sliding_window
        self.plan = BlockPlan(waveform.shape[1], round(chunks.duration * rate), model.frame_hop)
        self.masks = np.nan_to_num(segmentations.data, nan=0.0).astype(np.float32)
        num_chunks, _, num_speakers = self.masks.shape
        self.first_slots = [
            round(chunks[c].start * rate / self.plan.hop) for c in range(num_chunks)
        ]
        self.embeddings = np.full(
            (num_chunks, num_speakers, model.dimension), np.nan, dtype=np.float32
        )
        self.buffer = _FrameBuffer()
        self.num_frames = 0  # frames per block, known after the first pass
        self.done = 0  # chunks embedded so far

    def extend(self, blocks: range) -> None:
        """Run the network on `blocks` and append their frames to the buffer."""
        plan = self.plan
        windows = torch.stack([_window(self.waveform, plan.start(k), plan.block) for k in blocks])
        frames = self.model.frames(windows)
        self.num_frames = frames.shape[2]
        for k, block_frames in zip(blocks, frames, strict=True):
            self.buffer.append(block_frames[:, plan.frame_index(k, self.num_frames)])

    def embed_ready(self, batch_size: int) -> None:
        """Embed every chunk whose frames are all in, then forget frames no chunk needs."""
        ready = self._ready()
        for group in range(self.done, ready, batch_size):
            selection = range(group, min(group + batch_size, ready))
            self.embeddings[selection.start : selection.stop] = self._pool(selection)
        self.done = ready
        if ready < len(self.first_slots):
            self.buffer.drop_before(self.first_slots[ready])
        else:
            self.buffer.drop_before(self.buffer.end_slot)

    def _ready(self) -> int:
        """Index after the last chunk whose frames are all in the buffer."""
        if self.buffer.end_slot >= self.plan.num_slots:
            return len(self.first_slots)  # every block is in: the rest reads zeros past the end
        ready = self.done
        limit = self.buffer.end_slot - self.num_frames
        while ready < len(self.first_slots) and self.first_slots[ready] <= limit:
            ready += 1
        return ready

    def _pool(self, selection: range) -> np.ndarray:
        """Embeddings of the chunks in `selection`, one per local speaker."""
        count = self.num_frames
        starts = torch.tensor([self.first_slots[c] for c in selection])
        frames = torch.stack([self.buffer.read(int(first), count) for first in starts])
        weights = torch.from_numpy(self.masks[selection.start : selection.stop]).transpose(1, 2)
        weights = F.interpolate(weights, size=count, mode="nearest")
        # frames past the end of the file are padding: they weigh nothing
        inside = (starts[:, None] + torch.arange(count)) < self.plan.num_slots
        weights = weights * inside[:, None, :]
        embeddings = self.model.network.embed(frames, weights).numpy()
        embeddings[weights.sum(dim=2).numpy() == 0] = np.nan
        return embeddings


def _window(waveform: torch.Tensor, start: int, length: int) -> torch.Tensor:
    """(1, length) samples from `start`, zero-padded only for a file shorter than a block."""
    piece = waveform[:, start : start + length]
    return F.pad(piece, (0, length - piece.shape[1]))
