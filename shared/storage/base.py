"""Where uploads and results live, behind one interface (local disk or S3-compatible).

Object keys are the same for every backend:
    uploads/<task_id><suffix>             the submitted audio
    results/<task_id>/<attempt>/<name>     files of one worker attempt; the task hash names
                                           the attempt that won, so a fenced-out worker can
                                           never overwrite the result a user downloads
Scratch files (uploads being received, results being written) always sit on the local
disk under STORAGE_BASE_PATH/tmp, and are moved into the store only once complete.
"""

from __future__ import annotations

import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from shared.errors import InvalidJobError

UPLOADS = "uploads"
RESULTS = "results"
TEMPORARY = "tmp"


def upload_key(task_id: str, suffix: str) -> str:
    return f"{UPLOADS}/{task_id}{suffix}"


def result_prefix(task_id: str, attempt: str) -> str:
    return f"{RESULTS}/{task_id}/{attempt}"


def checked_key(key: str) -> str:
    """A relative key without '..' segments: jobs written by others cannot escape."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or ".." in parts:
        raise InvalidJobError(f"not a storage key: {key}")
    return PurePosixPath(*parts).as_posix()


class Storage(ABC):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()  # local: scratch space (and, for local storage, the data)

    def initialise(self) -> None:
        (self.root / TEMPORARY).mkdir(parents=True, exist_ok=True)

    def scratch_path(self, suffix: str = "") -> Path:
        """A fresh local name; the caller moves the file into the store or deletes it."""
        folder = self.root / TEMPORARY
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{uuid.uuid4().hex}{suffix}"

    def scratch_dir(self) -> Path:
        path = self.scratch_path()
        path.mkdir()
        return path

    def discard_scratch(self, path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    @abstractmethod
    def put_file(self, source: Path, key: str) -> None:
        """Move a finished local file into the store at `key`, durably."""

    @abstractmethod
    def put_dir(self, source: Path, prefix: str) -> None:
        """Move a folder of finished local files under `prefix`."""

    @abstractmethod
    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A local file holding the object, for as long as the context lasts."""

    @abstractmethod
    def local_file(self, key: str) -> Path | None:
        """The object's own local file when the store is the local disk (zero-copy)."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object; raises FileNotFoundError if it is missing."""

    @abstractmethod
    def open_seekable(self, key: str) -> BinaryIO:
        """Like `open`, but seekable (to read a span of a ZIP without fetching all of it)."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under `prefix`."""

    @abstractmethod
    def sweep(self, older_than: float) -> int:
        """Remove uploads and results not modified since `older_than`; returns the count."""

    @abstractmethod
    def usage(self) -> dict[str, int]:
        """Bytes stored per top-level folder."""

    def delete_task(self, task_id: str, upload: str | None) -> None:
        """A task's files: its upload (only one the gateway stored: a file that a direct
        XADD pointed to belongs to its sender) and every attempt's results."""
        if upload and upload.startswith(f"{UPLOADS}/"):
            self.delete_prefix(checked_key(upload))
        self.delete_prefix(f"{RESULTS}/{task_id}")

    def sweep_scratch(self, older_than: float) -> int:
        """Scratch files left by a crash (uploads cut off, results never committed)."""
        removed = 0
        folder = self.root / TEMPORARY
        for entry in folder.iterdir() if folder.is_dir() else ():
            if entry.stat().st_mtime < older_than:
                self.discard_scratch(entry)
                removed += 1
        return removed


def iter_files(folder: Path) -> Iterator[Path]:
    return (path for path in sorted(folder.rglob("*")) if path.is_file())
