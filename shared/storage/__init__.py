"""Uploads and results: local disk (default) or an S3-compatible bucket (STORAGE_BACKEND)."""

from __future__ import annotations

from shared.settings import Settings
from shared.storage.base import RESULTS, UPLOADS, Storage, result_prefix, upload_key
from shared.storage.local import LocalStorage


def open_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        from shared.storage.s3 import S3Storage

        return S3Storage(settings.storage_base_path, settings)
    return LocalStorage(settings.storage_base_path)


__all__ = [
    "RESULTS",
    "UPLOADS",
    "LocalStorage",
    "Storage",
    "open_storage",
    "result_prefix",
    "upload_key",
]
