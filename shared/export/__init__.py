"""Writers of a `DiarizationResult`: JSON, RTTM, per-speaker audio, ZIP and timeline PNG."""
