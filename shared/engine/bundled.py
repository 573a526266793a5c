"""The bundled pipeline: segmentation-3.0 + CAM++ + agglomerative clustering, no download."""

from __future__ import annotations

from dataclasses import dataclass

from pyannote.audio import Model

from shared.engine.embedding import CAMPPlusEmbedding
from shared.engine.pipeline import ServiceDiarization
from shared.engine.weights import bundled_weights

BUNDLED_MODEL_NAME = "bundled/segmentation-3.0+campplus"


@dataclass(frozen=True)
class BundledParams:
    """Hyper-parameters of the bundled pipeline (see README for how they were tuned)."""

    # window step as a fraction of the 10 s segmentation window
    segmentation_step: float = 0.1
    # linkage of the agglomerative clustering over cosine distances
    method: str = "average"
    # distance at which the dendrogram is cut
    threshold: float = 0.4
    # clusters with fewer embeddings are merged into their nearest large cluster
    min_cluster_size: int = 12
    # gaps shorter than this (seconds) inside one speaker's speech are filled
    min_duration_off: float = 0.0
    segmentation_batch_size: int = 32
    embedding_batch_size: int = 32

    def instantiated(self) -> dict[str, dict[str, float | int | str]]:
        return {
            "segmentation": {"min_duration_off": self.min_duration_off},
            "clustering": {
                "method": self.method,
                "threshold": self.threshold,
                "min_cluster_size": self.min_cluster_size,
            },
        }


def build_bundled_pipeline(params: BundledParams | None = None) -> ServiceDiarization:
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
    )
    pipeline.instantiate(params.instantiated())
    return pipeline
