"""JSON, RTTM, ZIP and PNG written for the sample open and agree with each other."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import orjson
import pytest
import soundfile as sf
from matplotlib import image
from pyannote.database.util import load_rttm

from shared.export.bundle import write_bundle, zip_directory
from shared.export.files import METADATA_FILE, RTTM_FILE, TIMELINE_FILE
from shared.export.formats import to_json, to_rttm
from shared.export.timeline import render_timeline
from shared.schemas.results import BundleMetadata, DiarizationResult
from tests.audio_factory import speech, write


@pytest.fixture(scope="module")
def archive(sample_result, sample_wav, tmp_path_factory) -> zipfile.ZipFile:
    folder = tmp_path_factory.mktemp("bundle")
    write_bundle(sample_wav, sample_result, folder)
    destination = tmp_path_factory.mktemp("zip") / "result.zip"
    zip_directory(folder, destination)
    return zipfile.ZipFile(destination)


def test_json_round_trips(sample_result) -> None:
    assert DiarizationResult.model_validate(orjson.loads(to_json(sample_result))) == sample_result


def test_rttm_matches_turns(sample_result, tmp_path: Path) -> None:
    path = tmp_path / "out.rttm"
    path.write_text(to_rttm(sample_result))
    annotation = load_rttm(str(path))["sample"]  # file id is the audio's stem
    read_back = sorted(
        (round(s.start, 3), round(s.end, 3), label)
        for s, _, label in annotation.itertracks(yield_label=True)
    )
    expected = sorted((t.start, t.end, t.speaker) for t in sample_result.turns)
    assert [(pytest.approx(a), pytest.approx(b), c) for a, b, c in read_back] == expected


def test_zip_layout_matches_result(archive, sample_result) -> None:
    names = set(archive.namelist())
    metadata = BundleMetadata.model_validate(orjson.loads(archive.read(METADATA_FILE)))
    assert metadata.num_speakers == sample_result.num_speakers == len(metadata.speakers)
    assert {RTTM_FILE, TIMELINE_FILE, "result.json", METADATA_FILE} <= names
    turns = sorted((t.start, t.end, t.speaker) for t in sample_result.turns)
    listed = sorted((s.start, s.end, s.speaker) for sp in metadata.speakers for s in sp.segments)
    assert listed == turns
    for index, speaker in enumerate(metadata.speakers):
        assert speaker.folder == f"speaker_{index}"
        assert [s.file for s in speaker.segments] == [
            f"speaker_{index}/segment_{n:03d}.wav" for n in range(1, len(speaker.segments) + 1)
        ]
        assert all(s.file in names for s in speaker.segments)
    assert archive.read(RTTM_FILE).decode() == to_rttm(sample_result)


def test_segment_audio_is_the_original_cut_at_the_turns(archive, sample_result, sample_wav) -> None:
    original, rate = sf.read(str(sample_wav), dtype="float32")
    metadata = BundleMetadata.model_validate(orjson.loads(archive.read(METADATA_FILE)))
    for speaker in metadata.speakers:
        total = 0
        for segment in speaker.segments:
            audio, segment_rate = sf.read(io.BytesIO(archive.read(segment.file)), dtype="float32")
            first = round(segment.start * rate)
            assert segment_rate == rate
            assert len(audio) == round(segment.end * rate) - first
            np.testing.assert_allclose(audio, original[first : first + len(audio)], atol=1e-4)
            total += len(audio)
        track, _ = sf.read(io.BytesIO(archive.read(speaker.track)), dtype="float32")
        assert len(track) == total


def test_timeline_png_is_a_real_picture(archive, sample_result) -> None:
    picture = image.imread(io.BytesIO(archive.read(TIMELINE_FILE)), format="png")
    height, width, _ = picture.shape
    assert width == 1400 and height > 150
    assert picture[..., :3].std() > 0.05  # not blank
    assert render_timeline(sample_result)[:8] == b"\x89PNG\r\n\x1a\n"


def test_cutting_keeps_rate_and_channels(sample_result, sample_wav, tmp_path: Path) -> None:
    stereo = write(tmp_path / "sample.flac", speech(sample_wav, 30.0, 44_100, 2), 44_100)
    metadata = write_bundle(stereo, sample_result, tmp_path / "out")
    first = metadata.speakers[0].segments[-1]
    info = sf.info(str(tmp_path / "out" / first.file))
    assert (info.samplerate, info.channels) == (44_100, 2)
    assert info.duration == pytest.approx(first.end - first.start, abs=1e-3)
