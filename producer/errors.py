"""The gateway's error boundary: every failure becomes JSON {error_code, message}."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from http import HTTPStatus

import orjson
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.errors import DiarizationError, ErrorCode, ServiceUnavailableError

logger = logging.getLogger(__name__)

# Seconds a client should wait before retrying while Redis is unreachable or the queue full.
RETRY_AFTER_SECONDS = 5


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = orjson.dumps({"error_code": code, "message": message})
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _http_code(error: web.HTTPException) -> str:
    if error.status == HTTPStatus.NOT_FOUND:
        return "NOT_FOUND"
    if error.status == HTTPStatus.METHOD_NOT_ALLOWED:
        return "METHOD_NOT_ALLOWED"
    if error.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        return ErrorCode.FILE_TOO_LARGE.value
    return ErrorCode.INVALID_REQUEST.value if error.status < 500 else ErrorCode.INTERNAL_ERROR.value


def _headers(error: DiarizationError) -> dict[str, str] | None:
    if error.retry_after is not None:
        return {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
    if error.status in (HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.TOO_MANY_REQUESTS):
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if error.status == HTTPStatus.UNAUTHORIZED:
        return {"WWW-Authenticate": 'Bearer realm="diarization"'}
    return None


@web.middleware
async def error_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    try:
        return await handler(request)
    except DiarizationError as error:
        return error_response(error.status, error.code.value, error.message, _headers(error))
    except (RedisConnectionError, RedisTimeoutError, RedisOutOfMemoryError) as error:
        logger.warning("redis unavailable during %s %s: %s", request.method, request.path, error)
        unavailable = ServiceUnavailableError("the queue is unreachable: try again shortly")
        return error_response(
            unavailable.status, unavailable.code.value, unavailable.message, _headers(unavailable)
        )
    except web.HTTPException as error:
        if error.status < 400:
            raise
        allow = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        return error_response(error.status, _http_code(error), error.reason, allow)
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, ErrorCode.INTERNAL_ERROR.value, "internal error")
