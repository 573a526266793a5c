"""The engine the worker and the CLI call: audio file in, `DiarizationResult` out."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import torch

from shared.audio import decode
from shared.engine.assemble import RunOutput, assemble
from shared.engine.pipeline import ServiceDiarization
from shared.engine.progress import CancelCheck, ProgressCallback, RunObserver
from shared.schemas.results import DiarizationOptions, DiarizationResult, EngineInfo


class DiarizationEngine:
    """One loaded pipeline; `diarize_file` may run from several threads at once."""

    def __init__(self, pipeline: ServiceDiarization, info: EngineInfo, max_duration: float):
        self.pipeline = pipeline
        self.info = info
        self.max_duration = max_duration

    def diarize_file(
        self,
        path: Path,
        options: DiarizationOptions,
        *,
        filename: str | None = None,
        on_progress: ProgressCallback | None = None,
        check_cancelled: CancelCheck | None = None,
    ) -> DiarizationResult:
        started = time.perf_counter()
        audio = decode(path, self.max_duration, filename)
        observer = RunObserver(on_progress, check_cancelled)
        observer.report("decoding", 0.0)
        file = {
            "waveform": torch.from_numpy(audio.samples).unsqueeze(0),
            "sample_rate": audio.info.sample_rate,
            "uri": Path(audio.info.filename).stem,
        }
        with torch.inference_mode(), warnings.catch_warnings():
            # pyannote warns when the speaker count falls outside the hints: the result
            # reports the count it found, which is all a user can act on.
            warnings.simplefilter("ignore")
            output = self.pipeline(
                file,
                num_speakers=options.num_speakers,
                min_speakers=options.min_speakers,
                max_speakers=options.max_speakers,
                hook=observer,
            )
        run = RunOutput(
            diarization=output.speaker_diarization,
            exclusive=output.exclusive_speaker_diarization,
            activity=observer.activity,
        )
        elapsed = time.perf_counter() - started
        return assemble(run, audio.info, self.info, options, elapsed)
