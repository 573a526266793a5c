"""The configurations the benchmark can compare: the two presets and single levers."""

from __future__ import annotations

from dataclasses import replace

from shared.engine.bundled import BundledParams

CONFIGS: dict[str, BundledParams] = {
    # pyannote's way: 1 s step, one PyTorch embedding per (chunk, speaker)
    "reference": BundledParams.reference(),
    # the default of the service
    "fast": BundledParams(),
    # levers one at a time, on top of the reference
    "reference+shared-frames": replace(BundledParams.reference(), shared_frames=True),
    "reference+shared-frames+onnx": replace(
        BundledParams.reference(), shared_frames=True, onnx=True
    ),
    # the fast configuration without ONNX Runtime (what a CPU-only PyTorch install gets)
    "fast-torch": replace(BundledParams(), onnx=False),
}
