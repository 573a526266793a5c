"""OpenAPI 3.1 description of the gateway (built from the pydantic models) and Swagger UI,
served from the swagger-ui-bundle package: no CDN, works offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from producer.routes import DOWNLOADS
from producer.sse import ENTRY_ID
from shared.schemas.api import (
    API_PREFIX,
    DeleteResponse,
    ErrorResponse,
    HealthResponse,
    ReadyResponse,
    TaskStatusResponse,
    UploadForm,
    UploadResponse,
)
from shared.schemas.messages import TaskEvent
from shared.schemas.results import BundleMetadata

_MODELS: tuple[type[BaseModel], ...] = (
    ErrorResponse, UploadForm, UploadResponse, TaskStatusResponse, DeleteResponse,
    HealthResponse, ReadyResponse, BundleMetadata, TaskEvent,
)  # fmt: skip
_TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ERRORS = {
    400: "invalid request or parameters",
    404: "no such task",
    409: "the task has no result (yet)",
    413: "file or audio too large / too long",
    415: "unsupported or unreadable audio",
    429: "queue full: retry after Retry-After seconds",
    503: "Redis unreachable: retry after Retry-After seconds",
    507: "storage full",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _json(ErrorResponse, _ERRORS[code]) for code in codes}


def _operation(
    operation_id: str, summary: str, responses: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, "responses": responses, **extra}


# An uploaded task's id feeds the task endpoints (clients and test generators follow it).
_TASK_LINKS = {
    name: {"operationId": operation, "parameters": {"task_id": "$response.body#/task_id"}}
    for name, operation in (
        ("status", "getStatus"), ("events", "followEvents"), ("download", "download"),
        ("metadata", "getMetadata"), ("delete", "deleteTask"),
    )
}  # fmt: skip


_EVENTS_DESCRIPTION = """Server-Sent Events. Replays the task's events, then follows them
live: `queued`, `processing` (repeated as `progress` moves), then exactly one of `completed`
(with `summary`), `failed` (with `error_code` and `error`) or `cancelled`, after which the
response ends. Each event's `id:` is its entry id in the task's events stream and its
`data:` a TaskEvent as JSON (see the schemas). A client that reconnects with `Last-Event-ID`
gets only the later events. While nothing happens, a `: keep-alive` comment is sent every
`SSE_KEEPALIVE_SECONDS`."""

_AUDIO_DESCRIPTION = """A WAV cut from the original recording: `speaker_N.wav` (that
speaker's turns end to end) or `speaker_N/segment_NNN.wav` (one turn), as listed in the
result's metadata. Byte ranges (`Range: bytes=...`) are answered with 206."""


def _live_paths() -> dict[str, Any]:
    """Following a task live, and hearing its result (what the page at / uses)."""
    last_event_id = {
        "name": "Last-Event-ID", "in": "header", "required": False,
        "schema": {"type": "string", "pattern": ENTRY_ID.pattern},
        "description": "the id of the last event received: only later events are sent",
    }  # fmt: skip
    audio_file = {
        "name": "file", "in": "query", "required": True,
        "schema": {"type": "string", "examples": ["speaker_0.wav", "speaker_0/segment_001.wav"]},
    }  # fmt: skip
    wav = {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}
    return {
        f"{API_PREFIX}/events/{{task_id}}": {"get": _operation(
            "followEvents", "Live progress, as Server-Sent Events, until the task ends",
            {"200": {"description": "the event stream",
                     "content": {"text/event-stream": {"schema": {"type": "string"}}}},
             **_errors(400, 404, 503)},
            parameters=[_TASK_ID, last_event_id], description=_EVENTS_DESCRIPTION,
        )},
        f"{API_PREFIX}/audio/{{task_id}}": {"get": _operation(
            "getAudio", "One audio file of the result: a speaker's track or a turn",
            {"200": {"description": "the WAV", "content": wav},
             "206": {"description": "the requested byte range", "content": wav},
             **_errors(400),
             "404": _json(ErrorResponse, "no such task, or no such audio file in its result"),
             **_errors(409, 503)},
            parameters=[_TASK_ID, audio_file], description=_AUDIO_DESCRIPTION,
        )},
    }  # fmt: skip


def _paths() -> dict[str, Any]:
    """The API of the old service: upload, status, download, metadata, delete."""
    upload_body = {
        "required": True,
        "content": {"multipart/form-data": {"schema": _ref(UploadForm)}},
    }
    idempotency = {
        "name": "Idempotency-Key", "in": "header", "required": False,
        "schema": {"type": "string", "maxLength": 256},
        "description": "retrying with the same key returns the first task",
    }  # fmt: skip
    formats = {
        "name": "format", "in": "query", "required": False,
        "schema": {"type": "string", "enum": list(DOWNLOADS), "default": "zip"},
    }  # fmt: skip
    binary = {"schema": {"type": "string", "format": "binary"}}
    download_types = ("application/zip", "application/json", "text/plain", "image/png")
    return {
        f"{API_PREFIX}/upload": {"post": _operation(
            "upload", "Upload audio for diarization",
            {"202": {**_json(UploadResponse, "queued"), "links": _TASK_LINKS},
             "200": _json(TaskStatusResponse, "same Idempotency-Key: the first task"),
             **_errors(400, 413, 415, 429, 503, 507)},
            requestBody=upload_body, parameters=[idempotency],
        )},
        f"{API_PREFIX}/status/{{task_id}}": {"get": _operation(
            "getStatus", "Status, progress, and (when completed) the result summary",
            {"200": _json(TaskStatusResponse, "the task"), **_errors(404, 503)},
            parameters=[_TASK_ID],
        )},
        f"{API_PREFIX}/download/{{task_id}}": {"get": _operation(
            "download", "The result: ZIP of per-speaker audio (default), JSON, RTTM or PNG",
            {"200": {"description": "the file",
                     "content": {media: binary for media in download_types}},
             **_errors(400, 404, 409, 503)},
            parameters=[_TASK_ID, formats],
        )},
        f"{API_PREFIX}/metadata/{{task_id}}": {"get": _operation(
            "getMetadata", "metadata.json of the result: every speaker's segment files",
            {"200": _json(BundleMetadata, "the metadata"), **_errors(404, 409, 503)},
            parameters=[_TASK_ID],
        )},
        f"{API_PREFIX}/{{task_id}}": {"delete": _operation(
            "deleteTask", "Cancel a queued or running task, or delete a finished one and its files",
            {"200": _json(DeleteResponse, "cancelled or deleted"),
             "202": _json(DeleteResponse, "running: the worker is stopping it"),
             **_errors(404, 503)},
            parameters=[_TASK_ID],
        )},
    }  # fmt: skip


def _service_paths() -> dict[str, Any]:
    return {
        "/health": {"get": _operation(
            "health", "Liveness", {"200": _json(HealthResponse, "alive")}
        )},
        "/ready": {"get": _operation(
            "ready", "Readiness: Redis reachable, workers alive, engine loaded",
            {"200": _json(ReadyResponse, "ready"), "503": _json(ReadyResponse, "not ready")},
        )},
        "/metrics": {"get": _operation(
            "metrics", "Prometheus metrics",
            {"200": {"description": "text exposition format",
                     "content": {"text/plain": {"schema": {"type": "string"}}}}},
        )},
    }  # fmt: skip


def build_spec(version: str) -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(model, "serialization") for model in _MODELS],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Speaker diarization service",
            "version": version,
            "description": "Upload audio, follow the task, download who spoke when.",
        },
        "paths": {**_paths(), **_live_paths(), **_service_paths()},
        "components": {"schemas": schemas.get("$defs", {})},
    }


_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Diarization API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""


def add_routes(app: web.Application, version: str) -> None:
    spec = build_spec(version)

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(spec)

    async def docs(_: web.Request) -> web.Response:
        return web.Response(text=_DOCS_PAGE, content_type="text/html")

    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/docs", docs)
    app.router.add_static("/docs/static", Path(swagger_ui_bundle.swagger_ui_path))
