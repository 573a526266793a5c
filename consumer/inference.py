"""The part of a job that runs in the executor thread: diarize, then store the result."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shared.export.bundle import write_bundle, zip_directory
from shared.export.files import METADATA_FILE, RESULT_FILE, RTTM_FILE, TIMELINE_FILE, ZIP_FILE
from shared.schemas.results import DiarizationOptions, DiarizationResult, EngineInfo
from shared.storage import Storage

BUNDLE_DIR = "bundle"
# Besides the ZIP, these bundle files are kept on their own for ?format= downloads.
_LOOSE_FILES = (METADATA_FILE, RESULT_FILE, RTTM_FILE, TIMELINE_FILE)


@dataclass(frozen=True)
class StoredResult:
    result: DiarizationResult
    store_time: float  # seconds writing and storing the result files, after the engine


class Engine(Protocol):
    """What a worker needs from an engine (the real one: shared.engine.DiarizationEngine)."""

    info: EngineInfo

    def diarize_file(
        self,
        path: Path,
        options: DiarizationOptions,
        *,
        filename: str | None = None,
        on_progress: Callable[[str, float], None] | None = None,
        check_cancelled: Callable[[], None] | None = None,
    ) -> DiarizationResult: ...


def diarize_and_store(
    *,
    engine: Engine,
    storage: Storage,
    audio: Path,
    filename: str,
    options: DiarizationOptions,
    prefix: str,
    on_progress: Callable[[str, float], None],
    check: Callable[[], None],
) -> StoredResult:
    """Run the engine, write the result files, move them under `prefix` in one rename."""
    result = engine.diarize_file(
        audio, options, filename=filename, on_progress=on_progress, check_cancelled=check
    )
    started = time.perf_counter()
    folder = storage.scratch_dir()
    try:
        bundle = folder / BUNDLE_DIR
        write_bundle(audio, result, bundle)
        zip_directory(bundle, folder / ZIP_FILE)
        for name in _LOOSE_FILES:
            (bundle / name).rename(folder / name)
        shutil.rmtree(bundle)
        check()  # stopped meanwhile (lease lost, cancelled): store nothing
        storage.put_dir(folder, prefix)
    finally:
        storage.discard_scratch(folder)
    return StoredResult(result, time.perf_counter() - started)
