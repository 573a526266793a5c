"""Run a PyTorch module under ONNX Runtime on CPU, exported once and cached on disk.

On this project's CPUs ONNX Runtime runs CAM++ 2.5 times and segmentation-3.0 1.8 times
faster than eager PyTorch (it fuses batch norms into convolutions and picks better conv
kernels). Export takes seconds, so the .onnx file is cached under a key made of the
module's weights, the torch version and the opset: new weights or a new torch re-export.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

logger = logging.getLogger(__name__)

OPSET = 17

# Named variable dimensions of the input and of the output, e.g. ({0: "batch"}, {0: "batch"}).
DynamicAxes = tuple[dict[int, str], dict[int, str]]


class OnnxRunner:
    """A tensor-in, tensor-out callable backed by an ONNX Runtime session (thread-safe)."""

    def __init__(self, model: bytes, threads: int) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle spinning threads would steal the cores torch needs between two runs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(inputs.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self._session.run(None, {self._input: array})[0])


def onnx_runner(
    module: nn.Module,
    example: torch.Tensor,
    axes: DynamicAxes,
    cache_dir: Path | None,
    threads: int,
) -> OnnxRunner:
    """`module` (single input, single output) as an OnnxRunner; cached when cache_dir is set."""
    module = module.eval()
    if cache_dir is None:
        return OnnxRunner(_export(module, example, axes), threads)
    path = cache_dir / f"{type(module).__name__.lower()}-{_fingerprint(module)}.onnx"
    if not path.is_file():
        _write_atomically(path, _export(module, example, axes))
        logger.info("exported to ONNX", extra={"path": str(path)})
    return OnnxRunner(path.read_bytes(), threads)


def _export(module: nn.Module, example: torch.Tensor, axes: DynamicAxes) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about its own deprecation and traced shapes.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": axes[0], "output": axes[1]},
        )
    return buffer.getvalue()


def _fingerprint(module: nn.Module) -> str:
    digest = hashlib.sha256(f"{torch.__version__}/{OPSET}".encode())
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _write_atomically(path: Path, data: bytes) -> None:
    """Workers starting together may export at once: each renames a complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    os.replace(temporary, path)
