"""Settings: every variable documented in .env.example, the old service's names kept."""

from __future__ import annotations

import re
from pathlib import Path

from shared.redis_client import masked_url, redis_url, uses_embedded
from shared.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
OLD_SERVICE = [
    "API_HOST",
    "API_PORT",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_USERNAME",
    "REDIS_PASSWORD",
    "REDIS_DB_MAIN",
    "REDIS_DB_BROKER",
    "REDIS_DB_BACKEND",
    "STORAGE_BASE_PATH",
    "MAX_FILE_SIZE_MB",
    "SUPPORTED_FORMATS",
    "MAX_CONCURRENT_TASKS",
    "TASK_TIMEOUT_MINUTES",
    "RESULT_RETENTION_DAYS",
    "MODEL_NAME",
    "MODEL_PATH",
    "LOG_LEVEL",
    "LOG_FILE",
    "REDIS_URL",
]


def test_example_documents_every_setting_with_its_default() -> None:
    text = EXAMPLE.read_text()
    documented = dict(re.findall(r"^([A-Z_0-9]+)=(.*)$", text, re.M))
    assert set(documented) == {name.upper() for name in Settings.model_fields}
    assert set(OLD_SERVICE) <= set(documented)
    from_example = Settings(_env_file=EXAMPLE)
    assert from_example == Settings(_env_file=None)


def test_env_values_are_parsed(monkeypatch) -> None:
    monkeypatch.setenv("SUPPORTED_FORMATS", "WAV, .mp3,flac")
    monkeypatch.setenv("REDIS_PASSWORD", "p@ss/word")
    monkeypatch.setenv("REDIS_HOST", "redis.internal")
    monkeypatch.setenv("REDIS_USERNAME", "svc")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings(_env_file=None)
    assert settings.supported_formats == ["wav", "mp3", "flac"]
    assert settings.log_level == "DEBUG"
    assert not uses_embedded(settings)
    assert redis_url(settings) == "redis://svc:p%40ss%2Fword@redis.internal:6379/0"
    assert masked_url(redis_url(settings)) == "redis://svc:***@redis.internal:6379/0"
    assert "p@ss" not in repr(settings)


def test_redis_url_wins(monkeypatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "ignored")
    monkeypatch.setenv("REDIS_URL", "rediss://:pw@cache.example:6380/3")
    settings = Settings(_env_file=None)
    assert redis_url(settings) == "rediss://:pw@cache.example:6380/3"
    assert masked_url(redis_url(settings)) == "rediss://:***@cache.example:6380/3"
    assert not uses_embedded(settings)
