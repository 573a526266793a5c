"""Storage in an S3-compatible bucket (AWS S3, MinIO, Ceph...), for gateways and workers
that do not share a disk. boto3 is imported here only, so local deployments never pay
for it."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from shared.errors import InvalidJobError
from shared.settings import Settings
from shared.storage.base import RESULTS, UPLOADS, Storage, checked_key, iter_files

_DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys
_RANGE_BYTES = 1 << 20  # one ranged GET per MiB read from a seekable object


class S3Storage(Storage):
    def __init__(self, root: Path, settings: Settings) -> None:
        import boto3
        from botocore.config import Config

        super().__init__(root)
        secret = settings.s3_secret_access_key
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60
            ),
        )
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_key_prefix
        self._missing = self.client.exceptions.ClientError

    def _key(self, key: str) -> str:
        return f"{self.prefix}{checked_key(key)}"

    def initialise(self) -> None:
        super().initialise()
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except self._missing:
            self.client.create_bucket(Bucket=self.bucket)

    def put_file(self, source: Path, key: str) -> None:
        self.client.upload_file(str(source), self.bucket, self._key(key))
        source.unlink(missing_ok=True)

    def put_dir(self, source: Path, prefix: str) -> None:
        for file in iter_files(source):
            relative = file.relative_to(source).as_posix()
            self.client.upload_file(str(file), self.bucket, f"{self._key(prefix)}/{relative}")
        shutil.rmtree(source, ignore_errors=True)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.scratch_path(PurePosixPath(key).suffix)
        try:
            self.client.download_file(self.bucket, self._key(key), str(path))
        except self._missing as error:
            path.unlink(missing_ok=True)
            raise InvalidJobError(f"audio not found in the bucket: {key}") from error
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    def local_file(self, key: str) -> Path | None:
        return None

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except self._missing as error:
            raise FileNotFoundError(key) from error

    def open_seekable(self, key: str) -> BinaryIO:
        try:
            size = self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except self._missing as error:
            raise FileNotFoundError(key) from error
        ranged = _RangedObject(self.client, self.bucket, self._key(key), size)
        return io.BufferedReader(ranged, buffer_size=_RANGE_BYTES)

    def delete_prefix(self, prefix: str) -> None:
        """The object named `prefix`, and every object 'inside' it (prefix + '/')."""
        key = self._key(prefix)
        self.client.delete_object(Bucket=self.bucket, Key=key)
        self._delete([item["Key"] for item in self._list(f"{key}/")])

    def sweep(self, older_than: float) -> int:
        stale = [
            item["Key"]
            for folder in (UPLOADS, RESULTS)
            for item in self._list(f"{self.prefix}{folder}/")
            if item["LastModified"].timestamp() < older_than
        ]
        self._delete(stale)
        return len(stale) + self.sweep_scratch(older_than)

    def usage(self) -> dict[str, int]:
        return {
            folder: sum(item["Size"] for item in self._list(f"{self.prefix}{folder}/"))
            for folder in (UPLOADS, RESULTS)
        }

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            yield from page.get("Contents", [])

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})


class _RangedObject(io.RawIOBase):
    """A seekable view of one object: each read is a ranged GET (buffer it)."""

    def __init__(self, client: Any, bucket: str, key: str, size: int) -> None:
        super().__init__()
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(base + offset, 0)
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or not len(buffer):
            return 0
        last = min(self._position + len(buffer), self._size) - 1
        reply = self._client.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{last}"
        )
        data = reply["Body"].read()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
