"""Common package of the diarization service: settings, schemas, storage, audio, engine."""

__version__ = "0.1.0"
