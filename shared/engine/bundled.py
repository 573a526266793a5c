"""The bundled pipeline: segmentation-3.0 + CAM++ + agglomerative clustering, no download."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from pyannote.audio import Model

from shared.engine.embedding import CAMPPlusEmbedding
from shared.engine.onnx import onnx_runner
from shared.engine.pipeline import ServiceDiarization
from shared.engine.weights import bundled_weights

BUNDLED_MODEL_NAME = "bundled/segmentation-3.0+campplus"


@dataclass(frozen=True)
class BundledParams:
    """Hyper-parameters of the bundled pipeline.

    The defaults are the fast configuration (docs/performance.md says how each was chosen);
    `reference()` is pyannote's own way of running the same models.
    """

    # window step as a fraction of the 10 s segmentation window (2.5 s: each second is
    # segmented 4 times instead of 10; DER on ami-train unchanged, see docs/performance.md)
    segmentation_step: float = 0.25
    # linkage of the agglomerative clustering over cosine distances
    method: str = "average"
    # distance at which the dendrogram is cut
    threshold: float = 0.4
    # clusters with fewer embeddings are merged into their nearest large cluster; 5 chunks
    # 2.5 s apart span about as much speech as the reference's 12 chunks 1 s apart
    min_cluster_size: int = 5
    # gaps shorter than this (seconds) inside one speaker's speech are filled
    min_duration_off: float = 0.0
    # windows per network pass; on CPU, larger batches are no faster and each window costs
    # memory (segmentation: ~25 MB of SincNet features, CAM++: ~45 MB of activations)
    segmentation_batch_size: int = 4
    embedding_batch_size: int = 4
    # CAM++ runs once over 10 s blocks of the file, pooled per (chunk, speaker); False:
    # once per (chunk, speaker), as pyannote does
    shared_frames: bool = True
    # past this many embeddings, clustering runs on an even subset (None: never)
    max_clustered_embeddings: int | None = 4000
    # run both networks under ONNX Runtime on CPU (PyTorch stays the GPU path)
    onnx: bool = True

    @classmethod
    def reference(cls) -> BundledParams:
        """pyannote's defaults: 1 s step, one PyTorch embedding per (chunk, speaker)."""
        return cls(
            segmentation_step=0.1,
            min_cluster_size=12,
            segmentation_batch_size=32,
            embedding_batch_size=32,
            shared_frames=False,
            max_clustered_embeddings=None,
            onnx=False,
        )

    def on_device(self, device: torch.device) -> BundledParams:
        """These parameters as they apply on `device`: ONNX Runtime is for CPUs only."""
        return self if device.type == "cpu" else replace(self, onnx=False)

    def instantiated(self) -> dict[str, dict[str, float | int | str]]:
        return {
            "segmentation": {"min_duration_off": self.min_duration_off},
            "clustering": {
                "method": self.method,
                "threshold": self.threshold,
                "min_cluster_size": self.min_cluster_size,
            },
        }


def build_bundled_pipeline(
    params: BundledParams | None = None, onnx_cache: Path | None = None
) -> ServiceDiarization:
    """The pipeline for `params`; exported ONNX models are cached under `onnx_cache`."""
    params = params or BundledParams()
    weights = bundled_weights()
    segmentation = Model.from_pretrained(str(weights.segmentation))
    embedding = CAMPPlusEmbedding.from_weights(weights.embedding)
    pipeline = ServiceDiarization(
        segmentation=segmentation,
        segmentation_step=params.segmentation_step,
        embedding=embedding,
        clustering="AgglomerativeClustering",
        segmentation_batch_size=params.segmentation_batch_size,
        embedding_batch_size=params.embedding_batch_size,
        shared_frames=params.shared_frames,
        max_clustered_embeddings=params.max_clustered_embeddings,
    )
    pipeline.instantiate(params.instantiated())
    if params.onnx:
        _use_onnx_runtime(pipeline, segmentation, embedding, onnx_cache)
    return pipeline


def _use_onnx_runtime(
    pipeline: ServiceDiarization,
    segmentation: Model,
    embedding: CAMPPlusEmbedding,
    cache: Path | None,
) -> None:
    threads = torch.get_num_threads()
    window = round(segmentation.specifications.duration * segmentation.hparams.sample_rate)
    batch = {0: "batch"}
    pipeline.set_segmentation_runner(
        onnx_runner(segmentation, torch.zeros(2, 1, window), (batch, batch), cache, threads)
    )
    fbank = embedding.compute_fbank(torch.zeros(2, 1, window))
    embedding.frame_runner = onnx_runner(
        embedding.network.frame_module(),
        fbank,
        ({0: "batch", 1: "time"}, {0: "batch", 2: "frames"}),
        cache,
        threads,
    )
