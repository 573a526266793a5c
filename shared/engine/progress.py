"""pyannote's hook, turned into percent progress, cancellation points and captured artefacts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pyannote.core import SlidingWindowFeature

from shared.engine.assemble import SpeakerActivity

ProgressCallback = Callable[[str, float], None]
CancelCheck = Callable[[], None]

# Share of the run each step covers, in percent; embeddings dominate the cost.
_STEP_SPANS: dict[str, tuple[float, float]] = {
    "segmentation": (0.0, 30.0),
    "speaker_counting": (30.0, 30.0),
    "embeddings": (30.0, 90.0),
    "discrete_diarization": (95.0, 95.0),
}


class RunObserver:
    """The `hook` of one pipeline run.

    pyannote calls it after every batch and every step: it reports progress, lets the
    caller stop the run by raising from `check_cancelled`, and keeps the per-speaker
    activations that `ServiceDiarization.reconstruct` attaches to the discrete diarization.
    """

    def __init__(
        self, on_progress: ProgressCallback | None, check_cancelled: CancelCheck | None
    ) -> None:
        self._on_progress = on_progress
        self._check_cancelled = check_cancelled
        self._last_percent = -1.0
        self.activity: SpeakerActivity | None = None

    def __call__(
        self,
        step: str,
        artefact: Any,
        file: Any = None,
        total: int | None = None,
        completed: int | None = None,
    ) -> None:
        if self._check_cancelled is not None:
            self._check_cancelled()
        if step == "discrete_diarization" and isinstance(artefact, SlidingWindowFeature):
            self._capture(artefact)
        span = _STEP_SPANS.get(step)
        if span is None:
            return
        low, high = span
        fraction = completed / total if total and completed is not None else 1.0
        self.report(step, low + (high - low) * min(max(fraction, 0.0), 1.0))

    def report(self, stage: str, percent: float) -> None:
        """Forward progress, never backwards and at most once per whole percent."""
        percent = round(percent, 0)
        if self._on_progress is None or percent <= self._last_percent:
            return
        self._last_percent = percent
        self._on_progress(stage, percent)

    def _capture(self, discrete: SlidingWindowFeature) -> None:
        activations = getattr(discrete, "activations", None)
        if activations is None:
            return
        # pyannote names the active columns SPEAKER_00, SPEAKER_01... in column order.
        active = np.nan_to_num(discrete.data, nan=0.0).max(axis=0) > 0
        self.activity = SpeakerActivity(activations, [int(c) for c in np.flatnonzero(active)])
