"""Real inference with the bundled engine on pyannote's 2-speaker sample."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pyannote.core import Segment, Timeline
from pyannote.database.util import load_rttm

from shared.errors import ErrorCode, InvalidParametersError, JobCancelledError
from shared.evaluation import Reference, score, to_annotation
from shared.schemas.results import DiarizationOptions
from tests.audio_factory import speech, write


@pytest.fixture(scope="module")
def reference(sample_rttm: Path) -> Reference:
    return Reference("sample", load_rttm(str(sample_rttm))["sample"], Timeline([Segment(0, 30)]))


def test_sample_has_two_speakers_and_low_der(sample_result, reference) -> None:
    assert sample_result.num_speakers == 2
    assert sample_result.engine.engine == "bundled"
    assert sample_result.uri == "sample"
    der = score(reference, to_annotation(sample_result, "sample")).der
    assert der <= 0.08


def test_result_is_consistent(sample_result) -> None:
    result = sample_result
    assert result.audio.duration == pytest.approx(30.0, abs=0.01)
    assert result.real_time_factor == pytest.approx(result.processing_time / 30.0, rel=0.01)
    assert [s.speaker for s in result.speakers] == ["SPEAKER_00", "SPEAKER_01"]
    for summary in result.speakers:
        own = [t for t in result.turns if t.speaker == summary.speaker]
        assert summary.num_turns == len(own)
        assert summary.total_duration == pytest.approx(sum(t.duration for t in own), abs=0.01)
    assert all(0 <= t.start < t.end <= 30.0 for t in result.turns)
    # overlap regions are where two speakers' turns intersect
    for region in result.overlaps:
        middle = (region.start + region.end) / 2
        active = {t.speaker for t in result.turns if t.start <= middle <= t.end}
        assert active == set(region.speakers)
    assert len(result.overlaps) >= 1


def test_confidence_comes_from_the_model(sample_result) -> None:
    """Long clean turns are confident; the confidence is not a function of duration alone."""
    turns = sample_result.turns
    assert all(0.0 <= t.confidence <= 1.0 for t in turns)
    long_turns = [t for t in turns if t.duration > 2.0]
    assert min(t.confidence for t in long_turns) > 0.8
    ranked_by_duration = [t.confidence for t in sorted(turns, key=lambda t: t.duration)]
    assert ranked_by_duration != sorted(ranked_by_duration)


def test_speaker_hints(engine, sample_wav) -> None:
    one = engine.diarize_file(sample_wav, DiarizationOptions(num_speakers=1))
    assert one.num_speakers == 1
    capped = engine.diarize_file(sample_wav, DiarizationOptions(max_speakers=1))
    assert capped.num_speakers == 1
    three = engine.diarize_file(sample_wav, DiarizationOptions(min_speakers=3))
    assert three.num_speakers == 3


def test_one_speaker_hints_skip_the_embeddings(engine, sample_wav, monkeypatch) -> None:
    """With one speaker allowed there is nothing to cluster: CAM++ never runs."""
    model = engine.pipeline._embedding.model_

    def fail(*args, **kwargs):
        raise AssertionError("the embedding network ran")

    monkeypatch.setattr(model, "frames", fail)
    for options in (DiarizationOptions(num_speakers=1), DiarizationOptions(max_speakers=1)):
        result = engine.diarize_file(sample_wav, options)
        assert result.num_speakers == 1 and result.turns


def test_exclusive_output_has_no_overlapping_turns(engine, sample_wav) -> None:
    result = engine.diarize_file(sample_wav, DiarizationOptions(exclusive=True))
    assert result.num_speakers == 2
    turns = sorted(result.turns, key=lambda t: t.start)
    for before, after in itertools.pairwise(turns):
        assert after.start >= before.end - 1e-3
    assert result.overlaps  # the audio's overlaps are still reported


def test_progress_is_monotonic_and_cancellable(engine, sample_wav) -> None:
    seen: list[tuple[str, float]] = []
    engine.diarize_file(
        sample_wav, DiarizationOptions(), on_progress=lambda s, p: seen.append((s, p))
    )
    percents = [p for _, p in seen]
    assert percents == sorted(percents) and percents[-1] >= 95
    assert {"segmentation", "embeddings"} <= {stage for stage, _ in seen}

    def stop_at_embeddings() -> None:
        if seen_now and seen_now[-1][0] == "embeddings":
            raise JobCancelledError("stopped by the test")

    seen_now: list[tuple[str, float]] = []
    with pytest.raises(JobCancelledError):
        engine.diarize_file(
            sample_wav,
            DiarizationOptions(),
            on_progress=lambda s, p: seen_now.append((s, p)),
            check_cancelled=stop_at_embeddings,
        )
    assert seen_now[-1][0] == "embeddings"


def test_silence_gives_zero_speakers(engine, tmp_path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(16000 * 12, dtype=np.float32), 16000)
    result = engine.diarize_file(path, DiarizationOptions())
    assert result.num_speakers == 0
    assert result.turns == [] and result.speakers == []


def test_other_rates_and_channels(engine, sample_wav, tmp_path) -> None:
    path = write(tmp_path / "sample_44k_stereo.m4a", speech(sample_wav, 30.0, 44_100, 2), 44_100)
    result = engine.diarize_file(path, DiarizationOptions())
    assert result.num_speakers == 2
    assert result.uri == "sample_44k_stereo"
    assert result.audio.original_sample_rate == 44_100


def test_very_short_audio(engine, sample_wav, tmp_path) -> None:
    path = write(tmp_path / "short.wav", speech(sample_wav, 12.0, 16_000, 1)[-8000:], 16_000)
    result = engine.diarize_file(path, DiarizationOptions())
    assert result.audio.duration == pytest.approx(0.5)
    assert result.num_speakers <= 1


@pytest.mark.parametrize(
    "options",
    [
        {"min_speakers": 3, "max_speakers": 2},
        {"num_speakers": 0},
        {"num_speakers": "two"},
        {"num_speakers": 4, "max_speakers": 2},
        {"speakers": 2},
    ],
)
def test_bad_options_are_rejected(options) -> None:
    with pytest.raises(InvalidParametersError) as caught:
        DiarizationOptions.parse(options)
    assert caught.value.code is ErrorCode.INVALID_PARAMETERS
