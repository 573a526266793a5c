"""Service settings, read once from the environment and `.env` (pydantic-settings).

Every variable of the service this one replaces keeps its name and meaning.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class EngineChoice(StrEnum):
    AUTO = "auto"
    BUNDLED = "bundled"
    PYANNOTE = "pyannote"


class BundledPreset(StrEnum):
    FAST = "fast"
    REFERENCE = "reference"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- HTTP gateway -------------------------------------------------------------------
    # Interface the gateway binds; 0.0.0.0 so a container port mapping reaches it.
    api_host: str = "0.0.0.0"
    # Port of the gateway.
    api_port: int = Field(default=8000, ge=1, le=65535)

    # --- Redis ----------------------------------------------------------------------------
    # Full URL (redis://, rediss:// or unix://); wins over the REDIS_* parts when set.
    redis_url: str | None = None
    # Host of an external Redis; unset (with REDIS_URL unset) means the embedded server.
    redis_host: str | None = None
    # Port of the Redis server (external or embedded).
    redis_port: int = Field(default=6379, ge=1, le=65535)
    # ACL user name for Redis 6+ (empty: the default user).
    redis_username: str | None = None
    # Redis password; masked in every output.
    redis_password: SecretStr | None = None
    # Database holding streams, task hashes and everything else of this service.
    redis_db_main: int = Field(default=0, ge=0)
    # Accepted for compatibility with the Celery service (its broker db); unused here.
    redis_db_broker: int = Field(default=1, ge=0)
    # Accepted for compatibility with the Celery service (its result db); unused here.
    redis_db_backend: int = Field(default=2, ge=0)

    # --- Storage and limits ---------------------------------------------------------------
    # Root for uploads, results and the embedded Redis' data.
    storage_base_path: Path = Path("./storage")
    # Largest accepted upload, in megabytes.
    max_file_size_mb: int = Field(default=500, ge=1)
    # Longest accepted audio, in seconds (4 hours).
    max_audio_duration_seconds: float = Field(default=4 * 3600.0, gt=0)
    # File extensions accepted for upload (comma-separated in the environment).
    supported_formats: Annotated[list[str], NoDecode] = [
        "wav",
        "flac",
        "ogg",
        "mp3",
        "m4a",
        "aac",
        "mp4",
        "webm",
        "opus",
    ]
    # Jobs a single worker process runs at once (its default --concurrency).
    max_concurrent_tasks: int = Field(default=1, ge=1)
    # A job running longer than this fails with TASK_TIMEOUT.
    task_timeout_minutes: float = Field(default=60.0, gt=0)
    # Task records and result files older than this are removed.
    result_retention_days: float = Field(default=7.0, gt=0)

    # --- Diarization engine ---------------------------------------------------------------
    # auto: an official pipeline under MODEL_PATH if present, else the bundled one.
    diarization_engine: EngineChoice = EngineChoice.AUTO
    # Official pipeline to load from MODEL_PATH (and to fetch with download-model).
    model_name: str = "pyannote/speaker-diarization-community-1"
    # Folder of downloaded pipelines, one sub-folder per model ("org--name").
    model_path: Path = Path("./models")
    # Torch intra-op threads for inference; 0 means one per available core.
    torch_threads: int = Field(default=0, ge=0)
    # Bundled engine: fast (shared CAM++ frames, ONNX Runtime on CPU, 5 s step) or
    # reference (pyannote's own way: 1 s step, one PyTorch embedding per chunk and speaker).
    bundled_preset: BundledPreset = BundledPreset.FAST
    # Where the bundled engine caches its models exported to ONNX, shared by every worker
    # and working directory of the user (empty: export in memory at every start, seconds).
    onnx_cache_dir: Path | None = Path.home() / ".cache" / "diarization-service" / "onnx"
    # pyannote.audio telemetry; off unless a user opts in.
    pyannote_metrics_enabled: bool = False

    # --- Logging --------------------------------------------------------------------------
    # Log level name (DEBUG, INFO, WARNING, ERROR).
    log_level: str = "INFO"
    # Also write logs to this file when set.
    log_file: Path | None = None

    @field_validator("supported_formats", mode="before")
    @classmethod
    def _split_formats(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower().lstrip(".") for part in value.split(",") if part.strip()]
        return value

    @field_validator("onnx_cache_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        return value.upper()

    @property
    def max_file_size_bytes(self) -> int:
        return self.max_file_size_mb * 1024 * 1024


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own `Settings` instead)."""
    return Settings()
