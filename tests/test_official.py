"""Official-pipeline layout: download (from a local stand-in for the hub) and offline load.

The hub cannot be reached here, so the "hub" is a folder of repositories built from the
bundled weights: a pipeline whose config references one model by repository id and keeps
another in its own sub-folder, as pyannote's 3.1 and community-1 pipelines do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import lightning
import pytest
import torch
import yaml
from pyannote.audio import __version__ as pyannote_version

from shared.engine.embedding import CAMPPlusEmbedding
from shared.engine.loader import load_engine
from shared.engine.official import (
    download_pipeline,
    find_pipeline_dir,
    folder_name,
    hub_references,
)
from shared.engine.weights import bundled_weights
from shared.errors import ModelNotAvailableError
from shared.schemas.results import DiarizationOptions
from shared.settings import Settings

PIPELINE = "acme/test-diarization"
SEGMENTATION = "acme/segmentation"


def _save_pyannote_checkpoint(model: CAMPPlusEmbedding, path: Path) -> None:
    """The file layout pyannote's Model.from_pretrained reads (a Lightning checkpoint)."""
    checkpoint = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    weights = bundled_weights()
    segmentation = root / folder_name(SEGMENTATION)
    segmentation.mkdir()
    shutil.copy(weights.segmentation, segmentation / "pytorch_model.bin")
    pipeline = root / folder_name(PIPELINE)
    _save_pyannote_checkpoint(
        CAMPPlusEmbedding.from_weights(weights.embedding),
        pipeline / "embedding" / "pytorch_model.bin",
    )
    config = {
        "dependencies": {"pyannote.audio": pyannote_version},
        "pipeline": {
            "name": "pyannote.audio.pipelines.SpeakerDiarization",
            "params": {
                "segmentation": SEGMENTATION,
                "embedding": "$model/embedding",
                "clustering": "AgglomerativeClustering",
                "segmentation_batch_size": 16,
                "embedding_batch_size": 16,
            },
        },
        "params": {
            "segmentation": {"min_duration_off": 0.0},
            "clustering": {"method": "average", "threshold": 0.4, "min_cluster_size": 12},
        },
    }
    (pipeline / "config.yaml").write_text(yaml.safe_dump(config))
    return root


def _local_fetch(hub: Path):
    def fetch(repo_id: str, destination: Path, token: str | None) -> None:
        assert token == "hf_test"
        shutil.copytree(hub / folder_name(repo_id), destination, dirs_exist_ok=True)

    return fetch


def test_references_of_a_31_style_config() -> None:
    config = {
        "pipeline": {
            "params": {
                "segmentation": "pyannote/segmentation-3.0",
                "embedding": "pyannote/wespeaker-voxceleb-resnet34-LM",
                "plda": {
                    "checkpoint": "pyannote/speaker-diarization-community-1",
                    "subfolder": "plda",
                },
                "clustering": "AgglomerativeClustering",
                "local": "$model/embedding",
            }
        }
    }
    assert hub_references(config) == [
        "pyannote/segmentation-3.0",
        "pyannote/speaker-diarization-community-1",
        "pyannote/wespeaker-voxceleb-resnet34-LM",
    ]


def test_download_then_load_offline(hub: Path, tmp_path: Path, sample_wav: Path) -> None:
    models = tmp_path / "models"
    folders = download_pipeline(PIPELINE, models, "hf_test", fetch=_local_fetch(hub))
    assert folders == [models / "acme--test-diarization", models / "acme--segmentation"]
    assert (models / "acme--test-diarization" / "embedding" / "pytorch_model.bin").is_file()
    assert find_pipeline_dir(models, PIPELINE) == folders[0]

    settings = Settings(_env_file=None, model_path=models, model_name=PIPELINE)  # engine=auto
    engine = load_engine(settings)
    assert (engine.info.engine, engine.info.model) == ("pyannote", PIPELINE)
    result = engine.diarize_file(sample_wav, DiarizationOptions())
    assert result.num_speakers == 2
    assert result.engine.engine == "pyannote"
    assert max(t.confidence for t in result.turns) > 0.8


def test_missing_referenced_model_is_reported(hub: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(hub / folder_name(PIPELINE), models / folder_name(PIPELINE))
    settings = Settings(_env_file=None, model_path=models, model_name=PIPELINE)
    with pytest.raises(ModelNotAvailableError, match=SEGMENTATION):
        load_engine(settings)


def test_engine_selection(tmp_path: Path) -> None:
    empty = Settings(_env_file=None, model_path=tmp_path, diarization_engine="pyannote")
    with pytest.raises(ModelNotAvailableError, match="download-model"):
        load_engine(empty)
    auto = load_engine(Settings(_env_file=None, model_path=tmp_path))
    assert auto.info.engine == "bundled"
