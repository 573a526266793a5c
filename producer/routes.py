"""The diarization API, as the previous service had it (under /api/v1/diarize)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import PurePath

from aiohttp import web
from pydantic import ValidationError

from producer.auth import TENANT, client_id
from producer.context import GATEWAY, Gateway
from producer.files import send_object
from producer.upload import ReceivedUpload, receive_upload
from shared.audio import probe
from shared.callback_policy import check_callback_url
from shared.errors import (
    InvalidParametersError,
    TaskNotFoundError,
)
from shared.export.files import METADATA_FILE, RESULT_FILE, RTTM_FILE, TIMELINE_FILE, ZIP_FILE
from shared.schemas.api import (
    API_PREFIX,
    DeleteResponse,
    TaskStatusResponse,
    UploadResponse,
)
from shared.schemas.messages import JobMessage, TaskRecord, TaskStatus
from shared.schemas.results import DiarizationOptions, describe_validation_error
from shared.storage import upload_key

# ?format= of the download endpoint -> (file in the result folder, media type, suffix)
DOWNLOADS = {
    "zip": (ZIP_FILE, "application/zip", "_diarization.zip"),
    "json": (RESULT_FILE, "application/json", "_diarization.json"),
    "rttm": (RTTM_FILE, "text/plain; charset=utf-8", ".rttm"),
    "png": (TIMELINE_FILE, "image/png", "_timeline.png"),
}

routes = web.RouteTableDef()


def json_response(model: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=model.model_dump_json(), content_type="application/json"
    )


@routes.post(f"{API_PREFIX}/upload")
async def upload(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    client = client_id(request, gateway.settings.trust_forwarded_for)
    await gateway.admit(client)
    received = await receive_upload(
        request, gateway.storage, gateway.settings.max_file_size_bytes,
        gateway.settings.supported_formats,
    )  # fmt: skip
    task_id = secrets.token_hex(16)
    key = upload_key(task_id, received.suffix)
    try:
        job, record = _new_task(
            task_id, key, received, _options(received.fields), request, client=client
        )
        await asyncio.to_thread(  # readable audio, not too long: refused before it is kept
            probe, received.path, gateway.settings.max_audio_duration_seconds, received.filename
        )
        await asyncio.to_thread(gateway.storage.put_file, received.path, key)
    finally:
        received.path.unlink(missing_ok=True)
    try:
        submission = await gateway.submit(job, record, received.size)
    except BaseException:  # not accepted (Redis down...): keep no orphan file
        await asyncio.to_thread(gateway.storage.delete_task, task_id, key)
        raise
    if not submission.created:  # the same Idempotency-Key again: the first task answers
        await asyncio.to_thread(gateway.storage.delete_task, task_id, key)
        return await _status_reply(gateway, submission.task_id, record.owner, status=200)
    body = UploadResponse(
        task_id=task_id,
        status=TaskStatus.QUEUED,
        message=f"{received.filename} queued for diarization",
        status_url=f"{API_PREFIX}/status/{task_id}",
        created_at=record.created_at,
    )
    return json_response(body, status=202)


def _options(fields: dict[str, str]) -> DiarizationOptions:
    values: dict[str, object] = {}
    for name in ("num_speakers", "min_speakers", "max_speakers"):
        if fields.get(name):
            values[name] = fields[name]
    if fields.get("exclusive"):
        values["exclusive"] = fields["exclusive"].lower() in ("1", "true", "yes", "on")
    return DiarizationOptions.parse(values)


def _new_task(
    task_id: str,
    key: str,
    received: ReceivedUpload,
    options: DiarizationOptions,
    request: web.Request,
    *,
    client: str,
) -> tuple[JobMessage, TaskRecord]:
    """The job entry and the task hash of an upload (validated before anything is kept)."""
    callback_url = received.fields.get("callback_url") or None
    if callback_url is not None:
        check_callback_url(callback_url)
    idempotency_key = request.headers.get("Idempotency-Key") or None
    owner = request.get(TENANT, "")
    try:
        job = JobMessage(
            task_id=task_id,
            audio=key,
            filename=received.filename,
            **options.model_dump(),
            callback_url=callback_url,
            idempotency_key=idempotency_key,
            owner=owner,
        )
    except ValidationError as error:
        raise InvalidParametersError(describe_validation_error(error)) from error
    record = TaskRecord.queued(task_id, job, options, created_at=job.submitted_at, client=client)
    return job, record


@routes.get(f"{API_PREFIX}/status/{{task_id}}")
async def status(request: web.Request) -> web.Response:
    tenant = request.get(TENANT, "")
    return await _status_reply(request.app[GATEWAY], request.match_info["task_id"], tenant)


async def _status_reply(
    gateway: Gateway, task_id: str, tenant: str, status: int = 200
) -> web.Response:
    record = await gateway.task(task_id, tenant)
    return json_response(TaskStatusResponse.of(record), status=status)


@routes.get(f"{API_PREFIX}/download/{{task_id}}")
async def download(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    record = await gateway.completed_task(request.match_info["task_id"], request.get(TENANT, ""))
    choice = request.query.get("format", "zip").lower()
    if choice not in DOWNLOADS:
        raise InvalidParametersError(f"format must be one of: {', '.join(DOWNLOADS)}")
    name, media_type, suffix = DOWNLOADS[choice]
    stem = PurePath(record.filename or record.task_id).stem
    headers = {
        "Content-Disposition": f'attachment; filename="{stem}{suffix}"',
        "Content-Type": media_type,
    }
    return await send_object(request, gateway.storage, f"{record.result_prefix}/{name}", headers)


@routes.get(f"{API_PREFIX}/metadata/{{task_id}}")
async def metadata(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    record = await gateway.completed_task(request.match_info["task_id"], request.get(TENANT, ""))
    key = f"{record.result_prefix}/{METADATA_FILE}"
    return await send_object(request, gateway.storage, key, {"Content-Type": "application/json"})


# Any task id but the names of the other endpoints, so their Allow headers stay exact.
@routes.delete(f"{API_PREFIX}/{{task_id:(?!(?:upload|status|download|metadata)$)[^/]+}}")
async def delete(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    task_id = request.match_info["task_id"]
    record = await gateway.task(task_id, request.get(TENANT, ""))
    outcome = await gateway.store.cancel(task_id)
    if outcome == "missing":
        raise TaskNotFoundError(f"no task {task_id}")
    if outcome == "requested":
        body = DeleteResponse(
            task_id=task_id, status="cancelling", message="the worker will stop it"
        )
        return json_response(body, status=202)
    if outcome == "ended":
        await gateway.store.delete(task_id)
    await asyncio.to_thread(gateway.storage.delete_task, task_id, record.audio)
    if outcome == "cancelled":
        body = DeleteResponse(task_id=task_id, status="cancelled", message="removed from the queue")
    else:
        body = DeleteResponse(task_id=task_id, status="deleted", message="task and results deleted")
    return json_response(body)
