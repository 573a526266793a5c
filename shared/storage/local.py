"""Storage on the local disk under STORAGE_BASE_PATH (one machine, or a shared volume).

Files are written to a scratch name, fsynced, then renamed: a crash leaves either the old
state or the new one, never half a file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from shared.errors import InvalidJobError
from shared.storage.base import RESULTS, TEMPORARY, UPLOADS, Storage, checked_key, iter_files


class LocalStorage(Storage):
    def initialise(self) -> None:
        for folder in (UPLOADS, RESULTS, TEMPORARY):
            (self.root / folder).mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file of `key`. Absolute paths (direct XADD jobs) must lie inside the root."""
        if Path(key).is_absolute():
            candidate = Path(key).resolve()
        else:
            candidate = (self.root / PurePosixPath(checked_key(key))).resolve()
        if not candidate.is_relative_to(self.root):
            raise InvalidJobError(f"audio path is outside the storage root: {key}")
        return candidate

    def put_file(self, source: Path, key: str) -> None:
        _fsync_file(source)
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        _fsync_dir(target.parent)

    def put_dir(self, source: Path, prefix: str) -> None:
        for file in iter_files(source):
            _fsync_file(file)
        target = self.path(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # the same attempt committed before crashing: replace it
            shutil.rmtree(target)
        os.replace(source, target)
        _fsync_dir(target.parent)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise InvalidJobError(f"audio not found in storage: {key}")
        yield path

    def local_file(self, key: str) -> Path | None:
        path = self.path(key)
        return path if path.is_file() else None

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def open_seekable(self, key: str) -> BinaryIO:
        return self.open(key)

    def delete_prefix(self, prefix: str) -> None:
        target = self.path(prefix)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)

    def sweep(self, older_than: float) -> int:
        removed = 0
        for folder in (UPLOADS, RESULTS):
            base = self.root / folder
            for entry in base.iterdir() if base.is_dir() else ():
                if entry.stat().st_mtime < older_than:
                    self.discard_scratch(entry)
                    removed += 1
        return removed + self.sweep_scratch(older_than)

    def usage(self) -> dict[str, int]:
        used = {folder: _tree_size(self.root / folder) for folder in (UPLOADS, RESULTS)}
        used["free"] = shutil.disk_usage(self.root).free
        return used


def _tree_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in iter_files(folder)) if folder.is_dir() else 0


def _fsync_file(path: Path) -> None:
    with path.open("rb") as stream:
        os.fsync(stream.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
