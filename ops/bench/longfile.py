"""A long benchmark file made of real speech: clips decoded and laid end to end, repeated."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from itertools import cycle
from pathlib import Path

import soundfile as sf

from shared.audio import TARGET_SAMPLE_RATE, decode

REPO_ROOT = Path(__file__).resolve().parents[2]
# Real recordings shared next to the repository (never copied into it).
EVAL_DIR = REPO_ROOT.parent / "shared" / "eval"
SAMPLE_DIR = Path(importlib.util.find_spec("pyannote.audio").submodule_search_locations[0]) / (
    "sample"
)
_MAX_CLIP_SECONDS = 4 * 3600.0


def default_sources() -> list[Path]:
    """pyannote's sample, then every clip under ../shared/eval (when it is there)."""
    clips = sorted(EVAL_DIR.rglob("*.wav")) if EVAL_DIR.is_dir() else []
    return [SAMPLE_DIR / "sample.wav", *clips]


def build_long_file(sources: list[Path], minutes: float, output: Path) -> float:
    """Write `minutes` of the sources, cycled, as 16 kHz mono PCM; returns its seconds."""
    wanted = round(minutes * 60 * TARGET_SAMPLE_RATE)
    written = 0
    with sf.SoundFile(
        str(output), "w", samplerate=TARGET_SAMPLE_RATE, channels=1, subtype="PCM_16"
    ) as out:
        for samples in _clips(sources):
            piece = samples[: wanted - written]
            out.write(piece)
            written += piece.size
            if written >= wanted:
                break
    return written / TARGET_SAMPLE_RATE


def _clips(sources: list[Path]) -> Iterator:
    decoded = [decode(path, _MAX_CLIP_SECONDS).samples for path in sources]
    if not any(clip.size for clip in decoded):
        raise ValueError("the benchmark sources hold no audio")
    return cycle(decoded)
