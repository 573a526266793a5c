"""pyannote's SpeakerDiarization, extended for the service.

`ServiceDiarization` behaves exactly like pyannote.audio's pipeline and adds:
- no PLDA needed unless the clustering is VBx (pyannote 4 loads one unconditionally);
- soft speaker-activity posteriors kept next to the hard segmentation, aggregated per
  output speaker, so each turn gets a confidence read off the model itself.
Official pipelines (config.yaml under MODEL_PATH) are instantiated as this class too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pyannote.audio import Inference
from pyannote.audio.core.plda import PLDA
from pyannote.audio.pipelines import SpeakerDiarization
from pyannote.audio.utils.powerset import Powerset
from pyannote.core import SlidingWindowFeature

from shared.errors import ModelNotAvailableError

VBX = "VBxClustering"


class MissingPLDA(PLDA):
    """Stands in for the PLDA of a pipeline whose clustering never uses one."""

    def __init__(self) -> None:  # no files to read: nothing to transform with
        self.lda_dimension = 0

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        raise ModelNotAvailableError("this pipeline was built without a PLDA")


class ServiceDiarization(SpeakerDiarization):
    def __init__(self, plda: Any = None, clustering: str = VBX, **kwargs: Any) -> None:
        if plda is None:
            if clustering == VBX:
                raise ModelNotAvailableError("VBx clustering needs a PLDA (plda/ folder)")
            plda = MissingPLDA()
        super().__init__(plda=plda, clustering=clustering, **kwargs)
        specifications = self._segmentation.model.specifications
        self._powerset: Powerset | None = None
        if specifications.powerset:
            # Keep the raw powerset posteriors: hard labels are derived in get_segmentations.
            self._powerset = Powerset(
                len(specifications.classes), specifications.powerset_max_classes
            )
            self._segmentation = Inference(
                self._segmentation.model,
                duration=self._segmentation.duration,
                step=self._segmentation.step,
                skip_aggregation=True,
                skip_conversion=True,
                batch_size=self._segmentation.batch_size,
            )

    def get_segmentations(self, file: Any, hook: Any = None) -> SlidingWindowFeature:
        """Hard segmentation as pyannote computes it, with `.soft` activity posteriors."""
        raw = super().get_segmentations(file, hook=hook)
        if self._powerset is None:
            raw.soft = raw.data
            return raw
        log_probs = torch.from_numpy(raw.data)
        hard = self._powerset.to_multilabel(log_probs).numpy()
        segmentations = SlidingWindowFeature(hard, raw.sliding_window)
        segmentations.soft = self._powerset.to_multilabel(log_probs, soft=True).numpy()
        return segmentations

    def reconstruct(
        self,
        segmentations: SlidingWindowFeature,
        hard_clusters: np.ndarray,
        count: SlidingWindowFeature,
    ) -> SlidingWindowFeature:
        """pyannote's reconstruction, plus `.activations`: per-speaker posteriors over time."""
        discrete = super().reconstruct(segmentations, hard_clusters, count)
        soft = getattr(segmentations, "soft", None)
        if soft is not None:
            discrete.activations = self._speaker_activations(
                soft, segmentations.sliding_window, hard_clusters, count
            )
        return discrete

    def _speaker_activations(
        self,
        soft: np.ndarray,
        chunks: Any,
        hard_clusters: np.ndarray,
        count: SlidingWindowFeature,
    ) -> SlidingWindowFeature:
        num_chunks, num_frames, _ = soft.shape
        num_clusters = int(np.max(hard_clusters)) + 1
        clustered = np.full((num_chunks, num_frames, num_clusters), np.nan, dtype=np.float32)
        for c, cluster in enumerate(hard_clusters):
            for k in np.unique(cluster):
                if k >= 0:
                    clustered[c, :, k] = np.max(soft[c][:, cluster == k], axis=1)
        # Average over every chunk that saw the speaker: chunks that did not are NaN, ignored.
        return Inference.aggregate(
            SlidingWindowFeature(clustered, chunks),
            count.sliding_window,
            hamming=False,
            missing=0.0,
            skip_average=False,
        )
