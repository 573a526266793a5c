"""A PNG of who spoke when: one row per speaker, overlaps shaded on their own row."""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure

from shared.schemas.results import DiarizationResult

OVERLAP_ROW = "overlap"
_ROW_HEIGHT = 0.5  # inches


def render_timeline(result: DiarizationResult) -> bytes:
    labels = result.speaker_labels
    rows = [*labels, OVERLAP_ROW] if result.overlaps else labels
    # A bare Figure (no pyplot): no global state, safe from several worker threads.
    figure = Figure(figsize=(14, 1.4 + _ROW_HEIGHT * max(len(rows), 1)), dpi=100)
    _draw(figure, result, rows)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _draw(figure: Figure, result: DiarizationResult, rows: list[str]) -> None:
    axes = figure.add_subplot(1, 1, 1)
    colours = matplotlib.colormaps["tab10"]
    for index, label in enumerate(rows):
        y = len(rows) - 1 - index
        if label == OVERLAP_ROW:
            spans = [(o.start, o.end - o.start) for o in result.overlaps]
            axes.broken_barh(spans, (y - 0.35, 0.7), color="0.35", hatch="//")
            continue
        spans = [(t.start, t.duration) for t in result.turns if t.speaker == label]
        axes.broken_barh(spans, (y - 0.35, 0.7), color=colours(index % 10))
    axes.set_yticks(range(len(rows)), list(reversed(rows)))
    axes.set_xlim(0, max(result.audio.duration, 1e-3))
    axes.set_ylim(-0.6, max(len(rows), 1) - 0.4)
    axes.set_xlabel("time (s)")
    axes.set_title(f"{result.audio.filename}: {result.num_speakers} speaker(s)")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
