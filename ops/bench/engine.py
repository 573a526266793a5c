"""Speed, memory and accuracy of the bundled engine: reference and fast side by side.

    uv run python -m ops.bench.engine [--audio FILE ...] [--minutes N] [--runs K]
                                      [--config NAME ...] [--sample-only]

Builds one long file of real speech (pyannote's sample and the clips under
../shared/eval, cycled up to N minutes, or the files given), then runs each configuration
in its own fresh process (peaks of memory do not mix): K timed runs of the long file
(decode + diarize), then DER on the sample and on every evaluation set with a reference.
Timings share the machine with whatever else runs on it: medians over K runs are shown.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from ops.bench.configs import CONFIGS
from ops.bench.longfile import EVAL_DIR, REPO_ROOT, build_long_file, default_sources

DEFAULT_CONFIGS = ["reference", "fast"]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sources = args.audio or default_sources()
    eval_dir = EVAL_DIR if EVAL_DIR.is_dir() and not args.sample_only else None
    with tempfile.TemporaryDirectory() as folder:
        long_file = Path(folder) / "long.wav"
        seconds = build_long_file(sources, args.minutes, long_file)
        print(f"long file: {seconds / 60:.1f} min from {len(sources)} source file(s)", flush=True)
        reports = []
        for name in args.config or DEFAULT_CONFIGS:
            reports.append(_run_worker(name, long_file, args.runs, eval_dir))
            print(f"  {name}: done", flush=True)
    print(render(reports, seconds))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ops.bench.engine", description=__doc__.split("\n")[0])
    parser.add_argument("--audio", type=Path, nargs="+", help="real audio to build the file from")
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the long file")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per configuration")
    parser.add_argument(
        "--config",
        action="append",
        choices=sorted(CONFIGS),
        help=f"configuration to run (repeatable; default: {' and '.join(DEFAULT_CONFIGS)})",
    )
    parser.add_argument(
        "--sample-only", action="store_true", help="DER on pyannote's sample only, not ../shared"
    )
    return parser


def _run_worker(name: str, audio: Path, runs: int, eval_dir: Path | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "ops.bench.worker", name, str(audio), str(runs)]
    if eval_dir is not None:
        command += ["--eval-dir", str(eval_dir)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-4000:]}")
    return orjson.loads(done.stdout.strip().splitlines()[-1])


def render(reports: list[dict[str, Any]], seconds: float) -> str:
    lines = [
        f"{'config':<30}{'RTF median':>11}  {'runs (RTF)':<24}{'load s':>7}{'peak RSS':>11}",
    ]
    for report in reports:
        rtfs = [run / seconds for run in report["runs_s"]]
        runs = " ".join(f"{rtf:.4f}" for rtf in rtfs)
        lines.append(
            f"{report['config']:<30}{statistics.median(rtfs):>11.4f}  {runs:<24}"
            f"{report['load_s']:>7.1f}{report['peak_rss_mib']:>7.0f} MiB"
        )
    lines += [*_speed_ups(reports), "", *_der_table(reports)]
    return "\n".join(lines)


def _speed_ups(reports: list[dict[str, Any]]) -> list[str]:
    base = reports[0]
    lines = []
    for report in reports[1:]:
        ratio = statistics.median(base["runs_s"]) / statistics.median(report["runs_s"])
        lines.append(f"speed-up of {report['config']} over {base['config']}: {ratio:.1f}x")
    return lines


def _der_table(reports: list[dict[str, Any]]) -> list[str]:
    rows = [
        (f"{dataset}/{uri}", dataset, uri)
        for dataset, files in reports[0]["der"].items()
        for uri in files
    ]
    width = max(len(name) for name, _, _ in rows) + 2
    columns = [max(len(r["config"]), 7) + 2 for r in reports]
    header = "DER %".ljust(width) + "".join(
        r["config"].rjust(c) for r, c in zip(reports, columns, strict=True)
    )
    lines = [header]
    for name, dataset, uri in rows:
        values = (100 * r["der"][dataset][uri] for r in reports)
        cells = "".join(f"{v:.2f}".rjust(c) for v, c in zip(values, columns, strict=True))
        lines.append(name.ljust(width) + cells)
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
