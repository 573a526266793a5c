"""The result bundle: per-speaker audio, metadata.json, JSON, RTTM, timeline PNG, and its ZIP."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from shared.export.files import METADATA_FILE, RESULT_FILE, RTTM_FILE, TIMELINE_FILE
from shared.export.formats import to_json, to_rttm
from shared.export.segments import write_speaker_audio
from shared.export.timeline import render_timeline
from shared.schemas.results import BundleMetadata, DiarizationResult


def write_bundle(source: Path, result: DiarizationResult, out_dir: Path) -> BundleMetadata:
    """Write every file of the bundle under `out_dir` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    speakers = write_speaker_audio(source, result, out_dir)
    (out_dir / RESULT_FILE).write_bytes(to_json(result))
    (out_dir / RTTM_FILE).write_text(to_rttm(result), encoding="utf-8")
    (out_dir / TIMELINE_FILE).write_bytes(render_timeline(result))
    metadata = BundleMetadata(
        uri=result.uri,
        audio=result.audio,
        engine=result.engine,
        num_speakers=result.num_speakers,
        speakers=speakers,
        overlaps=result.overlaps,
        processing_time=result.processing_time,
        real_time_factor=result.real_time_factor,
        files={"result": RESULT_FILE, "rttm": RTTM_FILE, "timeline": TIMELINE_FILE},
    )
    (out_dir / METADATA_FILE).write_bytes(to_json(metadata))
    return metadata


def zip_directory(folder: Path, destination: Path) -> None:
    """ZIP `folder`'s files (relative names) into `destination`, atomically.

    WAV is stored as is (PCM barely compresses); text and PNG are deflated.
    """
    partial = destination.with_name(f".{destination.name}.partial")
    with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            method = zipfile.ZIP_STORED if path.suffix == ".wav" else zipfile.ZIP_DEFLATED
            archive.write(path, path.relative_to(folder).as_posix(), compress_type=method)
    with partial.open("rb") as stream:
        os.fsync(stream.fileno())
    partial.replace(destination)
