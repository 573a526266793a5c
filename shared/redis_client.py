"""Connections to Redis, built from the settings in one place.

REDIS_URL (redis://, rediss://, unix://) wins; otherwise REDIS_HOST/PORT/USERNAME/PASSWORD
and REDIS_DB_MAIN; with neither REDIS_URL nor REDIS_HOST, the embedded server that
`main.py up` starts on 127.0.0.1:REDIS_PORT.

Pools are blocking (a caller waits for a free connection instead of failing), commands
time out after REDIS_SOCKET_TIMEOUT, and blocking reads (XREADGROUP BLOCK) get their own
client whose timeout is longer than the BLOCK, so a quiet queue never looks like a dead
server.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.settings import Settings

EMBEDDED_HOST = "127.0.0.1"
_RETRY_ON = [RedisConnectionError, RedisTimeoutError, ConnectionResetError]


def uses_embedded(settings: Settings) -> bool:
    return not settings.redis_url and not settings.redis_host


def redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    host = settings.redis_host or EMBEDDED_HOST
    credentials = ""
    if settings.redis_password is not None:
        user = quote(settings.redis_username or "", safe="")
        password = quote(settings.redis_password.get_secret_value(), safe="")
        credentials = f"{user}:{password}@"
    elif settings.redis_username:
        credentials = f"{quote(settings.redis_username, safe='')}@"
    return f"redis://{credentials}{host}:{settings.redis_port}/{settings.redis_db_main}"


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs and status output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def _pool_options(settings: Settings, socket_timeout: float) -> dict[str, object]:
    options: dict[str, object] = {
        "max_connections": settings.redis_max_connections,
        "timeout": settings.redis_socket_timeout,  # wait for a free pooled connection
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": min(settings.redis_socket_timeout, 5.0),
        "health_check_interval": 15,
    }
    if redis_url(settings).startswith("rediss://"):
        options.update(_tls_options(settings))
    return options


def _tls_options(settings: Settings) -> dict[str, object]:
    """Certificates are always verified; these only say against what."""
    options: dict[str, object] = {"ssl_cert_reqs": "required"}
    if settings.redis_tls_ca_file:
        options["ssl_ca_certs"] = str(settings.redis_tls_ca_file)
    if settings.redis_tls_cert_file:
        options["ssl_certfile"] = str(settings.redis_tls_cert_file)
    if settings.redis_tls_key_file:
        options["ssl_keyfile"] = str(settings.redis_tls_key_file)
    return options


def async_client(settings: Settings, *, blocking_reads: bool = False) -> aioredis.Redis:
    """A client for commands, or (blocking_reads) one for XREADGROUP BLOCK alone."""
    timeout = settings.redis_socket_timeout
    if blocking_reads:
        timeout += settings.read_block_ms / 1000
    pool = aioredis.BlockingConnectionPool.from_url(
        redis_url(settings), **_pool_options(settings, timeout)
    )
    return aioredis.Redis(
        connection_pool=pool,
        retry=aioredis.retry.Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=2),
        retry_on_error=_RETRY_ON,
    )


def sync_client(settings: Settings) -> redis.Redis:
    """For threads that must not depend on the event loop (lease heartbeats, metrics)."""
    pool = redis.BlockingConnectionPool.from_url(
        redis_url(settings), **_pool_options(settings, settings.redis_socket_timeout)
    )
    return redis.Redis(
        connection_pool=pool,
        retry=redis.retry.Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=2),
        retry_on_error=_RETRY_ON,
    )
