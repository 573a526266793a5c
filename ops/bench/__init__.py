"""Benchmarks: `python -m ops.bench.engine` measures the bundled engine's speed and accuracy."""
