"""Engine commands: diarize, split-audio, evaluate, download-model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from shared.settings import get_settings

if TYPE_CHECKING:
    from shared.engine.engine import DiarizationEngine
    from shared.evaluation import Score
    from shared.schemas.results import DiarizationOptions, DiarizationResult


def register(commands: argparse._SubParsersAction) -> None:
    diarize = commands.add_parser("diarize", help="diarize one audio file")
    diarize.add_argument("audio", type=Path, help="audio file (wav, flac, mp3, m4a, ...)")
    diarize.add_argument("--rttm", type=Path, help="write the turns as RTTM here")
    diarize.add_argument("--json", type=Path, help="write the full result as JSON here")
    diarize.add_argument("--zip", type=Path, help="write the result bundle (ZIP) here")
    diarize.add_argument("--png", type=Path, help="write the timeline picture here")
    _add_options(diarize)
    diarize.set_defaults(handler=diarize_command)

    split = commands.add_parser("split-audio", help="cut each speaker's audio into a folder")
    split.add_argument("--input", required=True, type=Path, help="audio file")
    split.add_argument("--output-dir", required=True, type=Path, help="folder to write into")
    _add_options(split)
    split.set_defaults(handler=split_audio_command)

    evaluate = commands.add_parser("evaluate", help="DER against reference RTTM")
    evaluate.add_argument("--audio-dir", required=True, type=Path, help="folder of <uri>.wav")
    evaluate.add_argument("--rttm", required=True, type=Path, help="reference RTTM")
    evaluate.add_argument("--uem", type=Path, help="scored regions (UEM); default: all")
    evaluate.set_defaults(handler=evaluate_command)

    download = commands.add_parser("download-model", help="fetch an official pipeline")
    download.add_argument("--auth-token", required=True, help="Hugging Face access token")
    download.add_argument("--model-name", help="pipeline repository (default: MODEL_NAME)")
    download.add_argument("--output-dir", type=Path, help="default: MODEL_PATH")
    download.set_defaults(handler=download_model_command)


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num-speakers", type=int, help="exact number of speakers")
    parser.add_argument("--min-speakers", type=int, help="at least this many speakers")
    parser.add_argument("--max-speakers", type=int, help="at most this many speakers")
    parser.add_argument(
        "--exclusive", action="store_true", help="one speaker at a time (no overlaps)"
    )


def _options(args: argparse.Namespace) -> DiarizationOptions:
    from shared.schemas.results import DiarizationOptions

    return DiarizationOptions.parse(
        {
            "num_speakers": args.num_speakers,
            "min_speakers": args.min_speakers,
            "max_speakers": args.max_speakers,
            "exclusive": args.exclusive,
        }
    )


def _load_engine() -> DiarizationEngine:
    from shared.engine.loader import load_engine

    engine = load_engine(get_settings())
    print(
        f"engine: {engine.info.engine} ({engine.info.model}) on {engine.info.device}",
        file=sys.stderr,
    )
    return engine


def _run_with_progress(
    engine: DiarizationEngine, audio: Path, options: DiarizationOptions
) -> DiarizationResult:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(audio.name, total=100)

        def update(stage: str, percent: float) -> None:
            progress.update(task, completed=percent, description=f"{audio.name}: {stage}")

        return engine.diarize_file(audio, options, on_progress=update)


def diarize_command(args: argparse.Namespace) -> int:
    options = _options(args)
    result = _run_with_progress(_load_engine(), args.audio, options)
    if args.zip:
        _write_zip_and_copies(args, result)
    else:
        _write_outputs(args, result)
    _print_summary(result)
    return 0


def _write_outputs(args: argparse.Namespace, result: DiarizationResult) -> None:
    from shared.export.formats import to_json, to_rttm
    from shared.export.timeline import render_timeline

    if args.rttm:
        args.rttm.write_text(to_rttm(result), encoding="utf-8")
    if args.json:
        args.json.write_bytes(to_json(result))
    if args.png:
        args.png.write_bytes(render_timeline(result))


def _write_zip_and_copies(args: argparse.Namespace, result: DiarizationResult) -> None:
    """Write the bundle once; --rttm/--json/--png are copies of its files."""
    import shutil
    import tempfile

    from shared.export.bundle import write_bundle, zip_directory
    from shared.export.files import RESULT_FILE, RTTM_FILE, TIMELINE_FILE

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_bundle(args.audio, result, folder)
        for target, file in (
            (args.rttm, RTTM_FILE),
            (args.json, RESULT_FILE),
            (args.png, TIMELINE_FILE),
        ):
            if target:
                shutil.copyfile(folder / file, target)
        zip_directory(folder, args.zip)


def split_audio_command(args: argparse.Namespace) -> int:
    from shared.export.bundle import write_bundle

    result = _run_with_progress(_load_engine(), args.input, _options(args))
    metadata = write_bundle(args.input, result, args.output_dir)
    _print_summary(result)
    for speaker in metadata.speakers:
        print(f"{speaker.folder}/: {len(speaker.segments)} segments, track {speaker.track}")
    return 0


def _print_summary(result: DiarizationResult) -> None:
    print(
        f"{result.uri}: {result.num_speakers} speaker(s), {len(result.turns)} turns, "
        f"{result.audio.duration:.1f} s of audio in {result.processing_time:.1f} s "
        f"(real-time factor {result.real_time_factor:.3f})"
    )
    for summary in result.speakers:
        print(f"  {summary.speaker}: {summary.total_duration:.1f} s in {summary.num_turns} turns")


def evaluate_command(args: argparse.Namespace) -> int:
    from shared import evaluation

    engine = _load_engine()
    scores = []
    print(f"{'file':<14}{'DER':>8}{'missed':>9}{'false al.':>11}{'confusion':>11}")
    for reference in evaluation.load_references(args.rttm, args.uem):
        audio = evaluation.find_audio(args.audio_dir, reference.uri)
        if audio is None:
            print(f"{reference.uri:<14} no audio file in {args.audio_dir}", file=sys.stderr)
            return 2
        scores.append(evaluation.score_file(engine, reference, audio))
        _print_score(scores[-1])
    _print_score(evaluation.overall(scores))
    return 0


def _print_score(score: Score) -> None:
    print(
        f"{score.uri:<14}{score.der:>8.2%}{score.share(score.missed):>9.2%}"
        f"{score.share(score.false_alarm):>11.2%}{score.share(score.confusion):>11.2%}"
    )


def download_model_command(args: argparse.Namespace) -> int:
    from shared.engine.official import download_pipeline

    settings = get_settings()
    name = args.model_name or settings.model_name
    output_dir = args.output_dir or settings.model_path
    for folder in download_pipeline(name, output_dir, args.auth_token):
        print(f"downloaded {folder}")
    print(f"set MODEL_PATH={output_dir} MODEL_NAME={name} (DIARIZATION_ENGINE=auto picks it up)")
    return 0
