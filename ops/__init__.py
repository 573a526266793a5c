"""Operational tooling (benchmarks); not imported by the service."""
