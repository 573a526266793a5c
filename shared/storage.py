"""Where uploads and results live. Local disk under STORAGE_BASE_PATH by default.

Object keys (the same for every backend):
    uploads/<task_id><suffix>             the submitted audio
    results/<task_id>/<attempt>/<name>     files of one worker attempt; the task hash names
                                           the attempt that won, so a fenced-out worker can
                                           never overwrite the result a user downloads
Files are written to a temporary name, fsynced, then renamed: a crash leaves either the
old state or the new one, never half a file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path, PurePosixPath

from shared.errors import InvalidJobError

UPLOADS = "uploads"
RESULTS = "results"
TEMPORARY = "tmp"


def upload_key(task_id: str, suffix: str) -> str:
    return f"{UPLOADS}/{task_id}{suffix}"


def result_prefix(task_id: str, attempt: str) -> str:
    return f"{RESULTS}/{task_id}/{attempt}"


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def initialise(self) -> None:
        for folder in (UPLOADS, RESULTS, TEMPORARY):
            (self.root / folder).mkdir(parents=True, exist_ok=True)

    # --- paths ----------------------------------------------------------------------------
    def path(self, key: str) -> Path:
        """The file of `key`; keys (or absolute paths) outside the root are refused."""
        candidate = Path(key) if Path(key).is_absolute() else self.root / PurePosixPath(key)
        resolved = candidate.resolve()
        if not resolved.is_relative_to(self.root):
            raise InvalidJobError(f"audio path is outside the storage root: {key}")
        return resolved

    def key_of(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def scratch_path(self, suffix: str = "") -> Path:
        """A fresh name on the storage volume, so a finished file can be renamed into place
        atomically. The caller moves it away or deletes it."""
        folder = self.root / TEMPORARY
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{uuid.uuid4().hex}{suffix}"

    def scratch_dir(self) -> Path:
        path = self.scratch_path()
        path.mkdir()
        return path

    # --- writes ---------------------------------------------------------------------------
    def put_file(self, source: Path, key: str) -> None:
        """Move a finished local file to `key`, durably."""
        _fsync_file(source)
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        _fsync_dir(target.parent)

    def put_dir(self, source: Path, prefix: str) -> None:
        """Move a folder of finished files to `prefix`, durably, in one rename."""
        for file in source.rglob("*"):
            if file.is_file():
                _fsync_file(file)
        target = self.path(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # the same attempt committed before crashing: replace it
            shutil.rmtree(target)
        os.replace(source, target)
        _fsync_dir(target.parent)

    # --- reads ----------------------------------------------------------------------------
    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    # --- removal --------------------------------------------------------------------------
    def delete_task(self, task_id: str, upload: str | None) -> None:
        if upload and not upload.startswith(("http://", "https://")):
            self.path(upload).unlink(missing_ok=True)
        shutil.rmtree(self.path(f"{RESULTS}/{task_id}"), ignore_errors=True)

    def sweep(self, older_than: float) -> int:
        """Remove uploads, results and scratch files not modified since `older_than`."""
        removed = 0
        for folder in (UPLOADS, RESULTS, TEMPORARY):
            base = self.root / folder
            for entry in base.iterdir() if base.is_dir() else ():
                if entry.stat().st_mtime < older_than:
                    _remove(entry)
                    removed += 1
        return removed

    def usage(self) -> dict[str, int]:
        """Bytes used per top-level folder, plus the volume's free space."""
        used = {folder: _tree_size(self.root / folder) for folder in (UPLOADS, RESULTS)}
        used["free"] = shutil.disk_usage(self.root).free
        return used


def _remove(entry: Path) -> None:
    if entry.is_dir():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def _tree_size(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _fsync_file(path: Path) -> None:
    with path.open("rb") as stream:
        os.fsync(stream.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
