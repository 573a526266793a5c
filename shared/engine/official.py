"""Official pyannote pipelines: download them with what they reference, load them offline.

Layout under MODEL_PATH, one folder per Hugging Face repository, "/" spelled "--":

    models/pyannote--speaker-diarization-3.1/config.yaml     (the pipeline)
    models/pyannote--segmentation-3.0/pytorch_model.bin       (a model it references)
    models/pyannote--wespeaker-voxceleb-resnet34-LM/...

`$model/<sub>` entries of a config point inside the pipeline's own folder (community-1
keeps its models there); `org/name` entries point to sibling folders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pyannote.audio import Pipeline
from pyannote.audio.core.pipeline import expand_subfolders

from shared.engine.pipeline import ServiceDiarization
from shared.errors import ModelNotAvailableError

CONFIG_FILE = "config.yaml"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SERVICE_PIPELINE = f"{ServiceDiarization.__module__}.{ServiceDiarization.__name__}"

# (repo_id, destination folder, token) -> files of that repository in the folder
Fetcher = Callable[[str, Path, str | None], None]


def folder_name(repo_id: str) -> str:
    return repo_id.replace("/", "--")


def find_pipeline_dir(model_path: Path, model_name: str) -> Path | None:
    """The downloaded pipeline for `model_name`, or MODEL_PATH itself if it is one."""
    for candidate in (model_path / folder_name(model_name), model_path):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    return None


def hub_references(config: dict[str, Any]) -> list[str]:
    """Repository ids a pipeline config loads its models from ("$model/..." excluded)."""
    params = config.get("pipeline", {}).get("params", {})
    return sorted({value for _, _, value in _walk_references(params)})


def download_pipeline(
    model_name: str, output_dir: Path, token: str | None, fetch: Fetcher | None = None
) -> list[Path]:
    """Fetch a pipeline and every model it references into the layout above."""
    fetch = fetch or _fetch_from_hub
    pipeline_dir = output_dir / folder_name(model_name)
    fetch(model_name, pipeline_dir, token)
    config_file = pipeline_dir / CONFIG_FILE
    if not config_file.is_file():
        raise ModelNotAvailableError(f"{model_name} has no {CONFIG_FILE}: not a pipeline")
    folders = [pipeline_dir]
    for repo_id in hub_references(_read_config(config_file)):
        folders.append(output_dir / folder_name(repo_id))
        fetch(repo_id, folders[-1], token)
    return folders


def load_pipeline(pipeline_dir: Path, models_root: Path) -> ServiceDiarization:
    """Instantiate a downloaded pipeline from disk alone (no hub access, no token)."""
    config = _read_config(pipeline_dir / CONFIG_FILE)
    expand_subfolders(config, pipeline_dir)
    params = config.setdefault("pipeline", {}).setdefault("params", {})
    for container, key, repo_id in list(_walk_references(params)):
        local = models_root / folder_name(repo_id)
        if not local.is_dir():
            raise ModelNotAvailableError(
                f"{pipeline_dir.name} needs {repo_id}, not found at {local}: "
                "run `main.py download-model` with a Hugging Face token"
            )
        container[key] = str(local)
    config["pipeline"]["name"] = _SERVICE_PIPELINE
    pipeline = Pipeline.from_pretrained(config)
    if pipeline is None:
        raise ModelNotAvailableError(f"could not load the pipeline in {pipeline_dir}")
    return pipeline


def _read_config(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        config = yaml.safe_load(stream)
    if not isinstance(config, dict):
        raise ModelNotAvailableError(f"{path} is not a pipeline configuration")
    return config


def _walk_references(node: Any) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(container, key, repo_id) for every hub repository named inside `node`."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if isinstance(value, str) and _REPO_ID.match(value) and not Path(value).exists():
            yield node, key, value
        elif isinstance(value, dict):
            checkpoint = value.get("checkpoint")
            if isinstance(checkpoint, str) and _REPO_ID.match(checkpoint):
                yield value, "checkpoint", checkpoint
            else:
                yield from _walk_references(value)


def _fetch_from_hub(repo_id: str, destination: Path, token: str | None) -> None:
    from huggingface_hub import snapshot_download

    destination.mkdir(parents=True, exist_ok=True)
    snapshot_download(repo_id=repo_id, local_dir=destination, token=token)
