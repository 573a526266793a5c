"""Capped agglomerative clustering: same partition as the full one on separable data."""

from __future__ import annotations

import numpy as np
from pyannote.audio.pipelines.clustering import AgglomerativeClustering

from shared.engine.clustering import CappedAgglomerativeClustering

PARAMS = {"method": "average", "threshold": 0.5, "min_cluster_size": 5}


def _speakers(per_speaker: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three speakers' embeddings around random directions, interleaved in time."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 64))
    labels = np.tile(np.arange(3), per_speaker)
    embeddings = centres[labels] + 0.3 * rng.normal(size=(labels.size, 64))
    return embeddings, labels


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = {(int(x), int(y)) for x, y in zip(a, b, strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_capped_matches_full_clustering() -> None:
    embeddings, labels = _speakers(200)
    full = AgglomerativeClustering(metric="cosine")
    full.instantiate(PARAMS)
    capped = CappedAgglomerativeClustering(max_embeddings=90, metric="cosine")
    capped.instantiate(PARAMS)
    expected = full.cluster(embeddings.copy(), min_clusters=1, max_clusters=600)
    found = capped.cluster(embeddings.copy(), min_clusters=1, max_clusters=600)
    assert _same_partition(found, labels) and _same_partition(expected, labels)


def test_capped_honours_the_number_of_clusters() -> None:
    embeddings, _ = _speakers(100, seed=1)
    capped = CappedAgglomerativeClustering(max_embeddings=60, metric="cosine")
    capped.instantiate(PARAMS)
    found = capped.cluster(embeddings, min_clusters=2, max_clusters=2, num_clusters=2)
    assert set(found.tolist()) == {0, 1}
