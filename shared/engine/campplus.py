"""CAM++ speaker-embedding network (Wang et al., Interspeech 2023; 3D-Speaker, Apache-2.0).

Written here from the paper's architecture; module names follow the released checkpoints
so that `campplus_cn_en_common.pt` loads with `strict=True`. The network is split in two:
`frames()` maps fbank features to frame-level features, and `embed()` pools them (with
optional per-speaker weights) and projects to the 192-dim embedding. Diarization runs
`frames()` once per chunk and `embed()` once per speaker of that chunk.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pyannote.audio.models.blocks.pooling import StatsPool
from torch import nn


def _bn_relu(channels: int) -> nn.Sequential:
    block = nn.Sequential()
    block.add_module("batchnorm", nn.BatchNorm1d(channels))
    block.add_module("relu", nn.ReLU(inplace=True))
    return block


class _ResBlock2d(nn.Module):
    """Two 3x3 convolutions with a shortcut; strides only along frequency."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _FrontEnd(nn.Module):
    """2-D convolutional front-end ("FCM"): (B, F, T) fbank -> (B, C * F/8, T)."""

    def __init__(self, feat_dim: int = 80, channels: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(
            _ResBlock2d(channels, channels, 2), _ResBlock2d(channels, channels, 1)
        )
        self.layer2 = nn.Sequential(
            _ResBlock2d(channels, channels, 2), _ResBlock2d(channels, channels, 1)
        )
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * (feat_dim // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer2(self.layer1(out))
        out = F.relu(self.bn2(self.conv2(out)))
        batch, channels, freq, time = out.shape
        return out.reshape(batch, channels * freq, time)


class _TDNN(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(
            in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False
        )
        self.nonlinear = _bn_relu(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class _ContextAwareMask(nn.Module):
    """Local TDNN output gated by a mask from utterance- and segment-level context."""

    SEGMENT_FRAMES = 100

    def __init__(self, bn_ch: int, out_ch: int, kernel: int, dilation: int) -> None:
        super().__init__()
        padding = (kernel - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(
            bn_ch, out_ch, kernel, padding=padding, dilation=dilation, bias=False
        )
        self.linear1 = nn.Conv1d(bn_ch, bn_ch // 2, 1)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv1d(bn_ch // 2, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = x.mean(dim=-1, keepdim=True) + self._segment_means(x)
        mask = torch.sigmoid(self.linear2(self.relu(self.linear1(context))))
        return self.linear_local(x) * mask

    def _segment_means(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over consecutive 100-frame segments, spread back over their frames."""
        size = self.SEGMENT_FRAMES
        means = F.avg_pool1d(x, kernel_size=size, stride=size, ceil_mode=True)
        return means.repeat_interleave(size, dim=-1)[..., : x.shape[-1]]


class _DenseTDNNLayer(nn.Module):
    def __init__(self, in_ch: int, growth: int, bn_ch: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.nonlinear1 = _bn_relu(in_ch)
        self.linear1 = nn.Conv1d(in_ch, bn_ch, 1, bias=False)
        self.nonlinear2 = _bn_relu(bn_ch)
        self.cam_layer = _ContextAwareMask(bn_ch, growth, kernel, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class _DenseTDNNBlock(nn.Module):
    """Densely connected layers: each one's output is appended to its input."""

    def __init__(self, layers: int, in_ch: int, growth: int, kernel: int, dilation: int) -> None:
        super().__init__()
        for index in range(layers):
            layer = _DenseTDNNLayer(in_ch + index * growth, growth, 4 * growth, kernel, dilation)
            self.add_module(f"tdnnd{index + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _Transit(nn.Module):
    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.nonlinear = _bn_relu(in_ch)
        self.linear = nn.Conv1d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class _Projection(nn.Module):
    """Pooled statistics -> embedding, with a non-affine batch norm."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_ch, out_ch, 1, bias=False)
        self.nonlinear = nn.Sequential()
        self.nonlinear.add_module("batchnorm", nn.BatchNorm1d(out_ch, affine=False))

    def forward(self, stats: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(stats.unsqueeze(-1))).squeeze(-1)


class _Trunk(nn.Module):
    """TDNN + three dense blocks with transitions (the checkpoint's "xvector")."""

    # (layers, kernel, dilation) of each dense block
    BLOCKS = ((12, 3, 1), (24, 3, 2), (16, 3, 2))

    def __init__(self, in_ch: int, embedding_dim: int, init_ch: int = 128, growth: int = 32):
        super().__init__()
        self.tdnn = _TDNN(in_ch, init_ch, kernel=5, stride=2)
        channels = init_ch
        for index, (layers, kernel, dilation) in enumerate(self.BLOCKS, start=1):
            block = _DenseTDNNBlock(layers, channels, growth, kernel, dilation)
            self.add_module(f"block{index}", block)
            channels += layers * growth
            self.add_module(f"transit{index}", _Transit(channels, channels // 2))
            channels //= 2
        self.out_nonlinear = _bn_relu(channels)
        self.dense = _Projection(2 * channels, embedding_dim)
        self.channels = channels

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        x = self.tdnn(x)
        for index in range(1, len(self.BLOCKS) + 1):
            x = getattr(self, f"transit{index}")(getattr(self, f"block{index}")(x))
        return self.out_nonlinear(x)


class CAMPPlus(nn.Module):
    """CAM++, used through its two halves rather than called as a whole.

    `frames()`: fbank (B, T, 80) -> frame features; `embed()`: frame features ->
    (weighted) stats pooling -> embedding.
    """

    def __init__(self, feat_dim: int = 80, embedding_dim: int = 192) -> None:
        super().__init__()
        self.head = _FrontEnd(feat_dim)
        self.xvector = _Trunk(self.head.out_channels, embedding_dim)
        self.pool = StatsPool()
        self.embedding_dim = embedding_dim

    def frames(self, fbank: torch.Tensor) -> torch.Tensor:
        """(B, T, F) fbank -> (B, C, T') frame-level features, T' = ceil(T / 2)."""
        return self.frame_module()(fbank)

    def embed(self, frames: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """Pool frame features into embeddings.

        weights: None, (B, W) or (B, S, W) frame weights (resampled to T' frames);
        returns (B, D), or (B, S, D) for per-speaker weights.
        """
        stats = self.pool(frames, weights=weights)
        if stats.dim() == 2:
            return self.xvector.dense(stats)
        batch, speakers, dim = stats.shape
        return self.xvector.dense(stats.reshape(batch * speakers, dim)).reshape(batch, speakers, -1)

    def frame_module(self) -> nn.Module:
        """`frames()` alone as a module, the part worth exporting (e.g. to ONNX)."""
        return CAMPPlusFrames(self)


class CAMPPlusFrames(nn.Module):
    def __init__(self, network: CAMPPlus) -> None:
        super().__init__()
        self.head = network.head
        self.xvector = network.xvector

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        return self.xvector.frames(self.head(fbank.transpose(1, 2)))
