"""One configuration in a fresh process, so that its peak memory is its own.

    python -m ops.bench.worker CONFIG AUDIO RUNS [--eval-dir DIR]

Prints one JSON object: load time, processing time of each run of AUDIO (decode +
diarize), peak RSS after those runs, then DER on the sample and on each evaluation set.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from pyannote.core import Segment, Timeline
from pyannote.database.util import load_rttm

from ops.bench.configs import CONFIGS
from ops.bench.longfile import SAMPLE_DIR
from shared import evaluation
from shared.engine.engine import DiarizationEngine
from shared.engine.loader import load_engine
from shared.schemas.results import DiarizationOptions
from shared.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ops.bench.worker")
    parser.add_argument("config", choices=sorted(CONFIGS))
    parser.add_argument("audio", type=Path)
    parser.add_argument("runs", type=int)
    parser.add_argument("--eval-dir", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = Settings(diarization_engine="bundled", _env_file=None)
    engine = load_engine(settings, CONFIGS[args.config])
    report: dict[str, Any] = {"config": args.config, "load_s": time.perf_counter() - started}
    report["runs_s"] = [_timed_run(engine, args.audio) for _ in range(args.runs)]
    # ru_maxrss is in KiB on Linux
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report["der"] = _accuracy(engine, args.eval_dir)
    sys.stdout.write(orjson.dumps(report).decode() + "\n")
    return 0


def _timed_run(engine: DiarizationEngine, audio: Path) -> float:
    started = time.perf_counter()
    engine.diarize_file(audio, DiarizationOptions())
    return time.perf_counter() - started


def _accuracy(engine: DiarizationEngine, eval_dir: Path | None) -> dict[str, dict[str, float]]:
    """DER (fraction) per file and overall, for the sample and each set with a reference.rttm."""
    sample = evaluation.Reference(
        "sample",
        load_rttm(str(SAMPLE_DIR / "sample.rttm"))["sample"],
        Timeline([Segment(0, 30)]),
    )
    sets = {"sample": _score(engine, SAMPLE_DIR, [sample])}
    for rttm in sorted(eval_dir.glob("*/reference.rttm")) if eval_dir else []:
        uem = rttm.with_name("reference.uem")
        references = evaluation.load_references(rttm, uem if uem.is_file() else None)
        sets[rttm.parent.name] = _score(engine, rttm.parent, references)
    return sets


def _score(
    engine: DiarizationEngine, audio_dir: Path, references: list[evaluation.Reference]
) -> dict[str, float]:
    scores = []
    for reference in references:
        audio = evaluation.find_audio(audio_dir, reference.uri)
        if audio is None:
            continue
        scores.append(evaluation.score_file(engine, reference, audio))
    total = evaluation.overall(scores)
    return {**{s.uri: s.der for s in scores}, "overall": total.der}


if __name__ == "__main__":
    raise SystemExit(main())
