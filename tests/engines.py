"""Engines for queue-mechanics tests only (selected with the worker's hidden
--engine-factory flag): they do no diarization, they behave like one in the ways that
stress the queue: long, GIL-holding, crashing.

Behaviour from the environment of the worker process:
    TEST_ENGINE_SECONDS   how long each job works (default 1)
    TEST_ENGINE_HOLD_GIL  "1": work in C calls that hold the GIL ~0.5 s each, far worse
                          than real inference (its longest stretch: ~13 ms); otherwise sleep
    TEST_ENGINE_CRASH_ON  jobs whose file name contains this kill their worker (os._exit)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from shared.audio import probe
from shared.schemas.results import (
    DiarizationOptions,
    DiarizationResult,
    EngineInfo,
    SpeakerSummary,
    SpeakerTurn,
)
from shared.settings import Settings

_GIL_CHUNK = 30_000_000  # sum(range(n)) runs ~0.5 s in C without releasing the GIL


class ScriptedEngine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.seconds = float(os.environ.get("TEST_ENGINE_SECONDS", "1"))
        self.hold_gil = os.environ.get("TEST_ENGINE_HOLD_GIL") == "1"
        self.crash_on = os.environ.get("TEST_ENGINE_CRASH_ON")
        self.info = EngineInfo(engine="scripted", model="test", version="0", device="cpu")

    def diarize_file(self, path: Path, options: DiarizationOptions, *, filename=None,
                     on_progress=None, check_cancelled=None) -> DiarizationResult:  # fmt: skip
        name = filename or path.name
        audio = probe(path, self.settings.max_audio_duration_seconds, name)
        started = time.perf_counter()
        steps = max(int(self.seconds / 0.5), 1)
        for step in range(steps):
            if self.crash_on and self.crash_on in name and step == steps // 2:
                os._exit(17)
            if self.hold_gil:
                sum(range(_GIL_CHUNK))
            else:
                time.sleep(self.seconds / steps)
            if check_cancelled is not None:
                check_cancelled()
            if on_progress is not None:
                on_progress("embeddings", 100.0 * (step + 1) / steps)
        elapsed = time.perf_counter() - started
        turn = SpeakerTurn(
            start=0.0, end=round(audio.duration, 3), speaker="SPEAKER_00", confidence=0.9
        )
        summary = SpeakerSummary(
            speaker="SPEAKER_00", total_duration=turn.end, num_turns=1, percentage=100.0
        )
        return DiarizationResult(
            uri=Path(name).stem, audio=audio, engine=self.info, options=options, num_speakers=1,
            speakers=[summary], turns=[turn], overlaps=[], processing_time=elapsed,
            real_time_factor=elapsed / audio.duration,
        )  # fmt: skip


def create(settings: Settings) -> ScriptedEngine:
    return ScriptedEngine(settings)
