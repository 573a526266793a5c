"""pyannote's SpeakerDiarization, extended for the service.

`ServiceDiarization` behaves exactly like pyannote.audio's pipeline and adds:
- no PLDA needed unless the clustering is VBx (pyannote 4 loads one unconditionally);
- soft speaker-activity posteriors kept next to the hard segmentation, aggregated per
  output speaker, so each turn gets a confidence read off the model itself;
- optionally, CAM++ embeddings from one network pass over the file (`shared_frames`),
  a cap on the embeddings fed to agglomerative clustering, and accelerated runners
  (ONNX Runtime) for the segmentation model;
- no embeddings at all when the caller allows one speaker only: there is nothing to cluster.
Official pipelines (config.yaml under MODEL_PATH) are instantiated as this class too, with
none of the options on.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import partial
from typing import Any

import numpy as np
import torch
from pyannote.audio import Inference
from pyannote.audio.core.plda import PLDA
from pyannote.audio.pipelines import SpeakerDiarization
from pyannote.audio.pipelines.clustering import AgglomerativeClustering
from pyannote.audio.utils.powerset import Powerset
from pyannote.core import SlidingWindowFeature

from shared.engine.clustering import CappedAgglomerativeClustering
from shared.engine.embedding import CAMPPlusEmbedding
from shared.engine.shared_frames import shared_frame_embeddings
from shared.errors import ModelNotAvailableError

VBX = "VBxClustering"
AGGLOMERATIVE = "AgglomerativeClustering"

# (B, C, N) chunks -> model output, replacing a model's own forward pass.
Runner = Callable[[torch.Tensor], torch.Tensor]

# Set for the duration of one apply() whose hints allow a single speaker. A context
# variable, not an attribute: several threads may run the same pipeline at once.
_ONE_SPEAKER: ContextVar[bool] = ContextVar("one_speaker", default=False)


class MissingPLDA(PLDA):
    """Stands in for the PLDA of a pipeline whose clustering never uses one."""

    def __init__(self) -> None:  # no files to read: nothing to transform with
        self.lda_dimension = 0

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        raise ModelNotAvailableError("this pipeline was built without a PLDA")


class RunnerInference(Inference):
    """pyannote's Inference, whose forward pass can be handed to a faster runner."""

    runner: Runner | None = None

    def infer(self, chunks: torch.Tensor) -> np.ndarray:
        if self.runner is None:
            return super().infer(chunks)
        with torch.inference_mode():
            return self.conversion(self.runner(chunks)).numpy()


class ServiceDiarization(SpeakerDiarization):
    def __init__(
        self,
        plda: Any = None,
        clustering: str = VBX,
        shared_frames: bool = False,
        max_clustered_embeddings: int | None = None,
        **kwargs: Any,
    ) -> None:
        if plda is None:
            if clustering == VBX:
                raise ModelNotAvailableError("VBx clustering needs a PLDA (plda/ folder)")
            plda = MissingPLDA()
        super().__init__(plda=plda, clustering=clustering, **kwargs)
        self.shared_frames = shared_frames
        if max_clustered_embeddings is not None and clustering == AGGLOMERATIVE:
            self.clustering = CappedAgglomerativeClustering(
                max_clustered_embeddings, metric=self._embedding.metric
            )
        self._powerset = self._raw_powerset()
        # Raw powerset posteriors are kept (hard labels are derived in get_segmentations),
        # and the forward pass can be handed to a runner (see set_segmentation_runner).
        self._segmentation = RunnerInference(
            self._segmentation.model,
            duration=self._segmentation.duration,
            step=self._segmentation.step,
            skip_aggregation=True,
            skip_conversion=True,
            batch_size=self._segmentation.batch_size,
        )

    def _raw_powerset(self) -> Powerset | None:
        specifications = self._segmentation.model.specifications
        if not specifications.powerset:
            return None
        return Powerset(len(specifications.classes), specifications.powerset_max_classes)

    def set_segmentation_runner(self, runner: Runner | None) -> None:
        """Run the segmentation model through `runner` (None: the model itself)."""
        self._segmentation.runner = runner

    def apply(self, file: Any, *args: Any, **kwargs: Any) -> Any:
        """pyannote's apply; embeddings are skipped when the hints allow one speaker only
        and the clustering would not look at them (agglomerative clustering returns at once;
        VBx does not)."""
        one_speaker = kwargs.get("num_speakers") == 1 or kwargs.get("max_speakers") == 1
        one_speaker = one_speaker and isinstance(self.clustering, AgglomerativeClustering)
        token = _ONE_SPEAKER.set(one_speaker)
        try:
            return super().apply(file, *args, **kwargs)
        finally:
            _ONE_SPEAKER.reset(token)

    def get_embeddings(
        self,
        file: Any,
        binary_segmentations: SlidingWindowFeature,
        exclude_overlap: bool = False,
        hook: Any = None,
    ) -> np.ndarray:
        model = self._embedding.model_ if hasattr(self._embedding, "model_") else None
        num_chunks, _, num_speakers = binary_segmentations.data.shape
        if _ONE_SPEAKER.get():
            # pyannote clusters nothing when one speaker is allowed: any finite vectors do,
            # and zeros are what it reports for a speaker without an embedding.
            if hook is not None:
                hook("embeddings", None, total=1, completed=1)
            return np.zeros((num_chunks, num_speakers, self._embedding.dimension), np.float32)
        fast = self.shared_frames and isinstance(model, CAMPPlusEmbedding)
        if not fast or exclude_overlap or self.training:
            return super().get_embeddings(file, binary_segmentations, exclude_overlap, hook)
        waveform, _ = self._audio(file)
        step_hook = None if hook is None else partial(hook, "embeddings")
        return shared_frame_embeddings(
            model, waveform, binary_segmentations, self.embedding_batch_size, step_hook
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
