"""Service settings, read once from the environment and `.env` (pydantic-settings).

Every variable of the service this one replaces keeps its name and meaning.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

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
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        env_ignore_empty=True,  # "REDIS_URL=" in a .env means unset, not ""
    )

    # --- HTTP gateway -------------------------------------------------------------------
    # Interface the gateway binds; 0.0.0.0 so a container port mapping reaches it.
    api_host: str = "0.0.0.0"
    # Port of the gateway.
    api_port: int = Field(default=8000, ge=1, le=65535)
    # Seconds between keep-alive comments on a quiet live-progress (SSE) stream, so that
    # proxies which drop idle connections keep it open and a gone client is noticed.
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)

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
    # rediss:// only: CA bundle that signed the server's certificate (default: system CAs).
    redis_tls_ca_file: Path | None = None
    # rediss:// only: client certificate and key, for servers that require client auth.
    redis_tls_cert_file: Path | None = None
    redis_tls_key_file: Path | None = None
    # Prefix of every key and stream, so deployments can share a database.
    redis_key_prefix: str = Field(default="diarization", pattern=r"^[A-Za-z0-9_.-]+$")
    # Seconds a Redis command may take before the connection is considered broken.
    redis_socket_timeout: float = Field(default=10.0, gt=0)
    # Connections per process in the pool (blocking pool: callers wait for a free one).
    redis_max_connections: int = Field(default=32, ge=4)

    # --- Access -----------------------------------------------------------------------------
    # API keys (comma-separated): plain keys, or "sha256:<hex digest>" so none is stored in
    # clear. Set: every /api/v1 call needs one (X-API-Key or Bearer) and sees only its tasks.
    api_keys: Annotated[list[SecretStr], NoDecode] = []
    # Unfinished (queued or running) tasks one client may have at once; 0 = no limit.
    max_active_tasks_per_client: int = Field(default=20, ge=0)
    # Uploads one client may make per rolling hour; 0 = no limit.
    max_uploads_per_hour: int = Field(default=200, ge=0)
    # Behind a trusted reverse proxy: identify clients by X-Forwarded-For, not the socket.
    trust_forwarded_for: bool = False
    # Callback hosts or networks (CIDR) allowed although private/loopback (comma-separated).
    callback_allowed_hosts: Annotated[list[str], NoDecode] = []

    # --- Storage and limits ---------------------------------------------------------------
    # Root for uploads, results and the embedded Redis' data (with S3: scratch files only).
    storage_base_path: Path = Path("./storage")
    # "local": files under STORAGE_BASE_PATH; "s3": an S3-compatible bucket, for gateways
    # and workers on machines that share no disk.
    storage_backend: Literal["local", "s3"] = "local"
    # Bucket, created if missing (needs s3:CreateBucket; otherwise create it beforehand).
    s3_bucket: str = "diarization"
    # Endpoint of an S3-compatible service (MinIO, Ceph...); unset: AWS.
    s3_endpoint_url: str | None = None
    # Region of the bucket.
    s3_region: str = "us-east-1"
    # Credentials; unset: boto3's usual chain (environment, config files, instance role).
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # Prefix of every object key, so deployments can share a bucket (e.g. "prod/").
    s3_key_prefix: str = ""
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

    # --- Queue and workers ------------------------------------------------------------------
    # A worker that stops heartbeating loses its jobs to others after this many seconds.
    lease_seconds: float = Field(default=30.0, ge=1.0)
    # How often each worker looks for jobs whose lease expired (and trims the streams).
    reclaim_interval_seconds: float = Field(default=5.0, gt=0)
    # How long XREADGROUP blocks waiting for a job (ms); socket timeouts stay above it.
    read_block_ms: int = Field(default=2000, ge=100)
    # Deliveries after which a job that keeps killing its worker goes to the dead letters.
    max_deliveries: int = Field(default=3, ge=1)
    # On SIGTERM, running jobs get this long to finish before they are handed back.
    drain_seconds: float = Field(default=30.0, ge=0)
    # Jobs waiting in the queue beyond which uploads are refused (429); 0 = no limit.
    max_queue_length: int = Field(default=1000, ge=0)
    # Events kept in the shared events stream (approximate trimming).
    events_max_length: int = Field(default=100_000, ge=100)
    # First metrics port of worker processes (worker N of `up` uses port + N); 0 = any free.
    worker_metrics_port: int = Field(default=9101, ge=0, le=65535)
    # Attempts and timeout when POSTing a task's completion to its callback_url.
    callback_attempts: int = Field(default=5, ge=1)
    callback_timeout_seconds: float = Field(default=10.0, gt=0)
    # Key of the HMAC-SHA256 signature sent with every callback (unset: unsigned).
    callback_secret: SecretStr | None = None

    # --- Diarization engine ---------------------------------------------------------------
    # auto: an official pipeline under MODEL_PATH if present, else the bundled one.
    diarization_engine: EngineChoice = EngineChoice.AUTO
    # Official pipeline to load from MODEL_PATH (and to fetch with download-model).
    model_name: str = "pyannote/speaker-diarization-community-1"
    # Folder of downloaded pipelines, one sub-folder per model ("org--name").
    model_path: Path = Path("./models")
    # Torch intra-op threads for inference; 0 means one per available core.
    torch_threads: int = Field(default=0, ge=0)
    # Bundled engine: fast (shared CAM++ frames, ONNX Runtime on CPU, 2.5 s step) or
    # reference (pyannote's own way: 1 s step, one PyTorch embedding per chunk and speaker).
    bundled_preset: BundledPreset = BundledPreset.FAST
    # Where the bundled engine caches its models exported to ONNX, shared by every worker
    # and working directory of the user ("none": export in memory at every start, seconds).
    onnx_cache_dir: Path | None = Path.home() / ".cache" / "diarization-service" / "onnx"
    # pyannote.audio telemetry; off unless a user opts in.
    pyannote_metrics_enabled: bool = False

    # --- Logging --------------------------------------------------------------------------
    # Log level name (DEBUG, INFO, WARNING, ERROR).
    log_level: str = "INFO"
    # Also write logs to this file when set.
    log_file: Path | None = None
    # "json": one JSON object per line (task_id and attempt on job lines); "text": for people.
    log_format: Literal["json", "text"] = "json"

    @field_validator("supported_formats", mode="before")
    @classmethod
    def _split_formats(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower().lstrip(".") for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_keys", "callback_allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("onnx_cache_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value in ("", "none") else value

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
