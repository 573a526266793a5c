"""End to end: the actual CLI processes, as a user runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from pyannote.database.util import load_rttm

MAIN = Path(__file__).resolve().parents[1] / "main.py"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODEL_PATH": str(cwd / "models"), "DIARIZATION_ENGINE": "auto"}
    return subprocess.run(
        [sys.executable, str(MAIN), *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_diarize_writes_rttm_and_json(sample_wav: Path, tmp_path: Path) -> None:
    done = run_cli(
        "diarize", str(sample_wav), "--rttm", "out.rttm", "--json", "out.json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "engine: bundled" in done.stderr
    assert "2 speaker(s)" in done.stdout
    annotations = load_rttm(str(tmp_path / "out.rttm"))
    assert list(annotations) == ["sample"]  # file id = the audio's stem
    assert len(annotations["sample"].labels()) == 2
    result = orjson.loads((tmp_path / "out.json").read_bytes())
    assert result["num_speakers"] == 2


def test_evaluate_reports_der(sample_wav: Path, sample_rttm: Path, tmp_path: Path) -> None:
    done = run_cli(
        "evaluate", "--audio-dir", str(sample_wav.parent), "--rttm", str(sample_rttm), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    row = re.search(r"^sample\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%", done.stdout, re.M)
    total = re.search(r"^TOTAL\s+([\d.]+)%", done.stdout, re.M)
    assert row and total, done.stdout
    der, missed, false_alarm, confusion = (float(x) for x in row.groups())
    assert der <= 8.0
    assert der == pytest.approx(missed + false_alarm + confusion, abs=0.05)
    assert float(total.group(1)) == der


def test_split_audio_writes_the_old_layout(sample_wav: Path, tmp_path: Path) -> None:
    done = run_cli(
        "split-audio",
        "--input",
        str(sample_wav),
        "--output-dir",
        "out",
        "--num-speakers",
        "2",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["speaker_0", "speaker_1"]
    assert (out / "speaker_0" / "segment_001.wav").is_file()
    assert (out / "speaker_0.wav").is_file() and (out / "metadata.json").is_file()


def test_bad_input_gets_its_error_code(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("not audio at all\n" * 10)
    done = run_cli("diarize", "notes.wav", cwd=tmp_path)
    assert done.returncode == 2
    assert "error [INVALID_AUDIO_FORMAT]" in done.stderr


def test_bad_options_get_their_error_code(sample_wav: Path, tmp_path: Path) -> None:
    done = run_cli(
        "diarize", str(sample_wav), "--min-speakers", "3", "--max-speakers", "2", cwd=tmp_path
    )
    assert done.returncode == 2
    assert "error [INVALID_PARAMETERS]" in done.stderr
