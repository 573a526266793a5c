"""Liveness, readiness and Prometheus metrics of the gateway."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from producer.context import GATEWAY
from producer.routes import json_response
from shared import __version__
from shared.schemas.api import HealthResponse, ReadyResponse, WorkerInfo
from shared.schemas.redis_codec import decode_fields

routes = web.RouteTableDef()


@routes.get("/health")
async def health(_: web.Request) -> web.Response:
    return json_response(
        HealthResponse(status="ok", service="diarization-gateway", version=__version__)
    )


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    try:
        stats = await gateway.store.queue_stats()
        workers = await _live_workers(gateway.store)
    except (RedisError, OSError) as error:
        body = ReadyResponse(
            ready=False, redis=False, workers_alive=0, engine_loaded=False, workers=[],
            queue_waiting=0, queue_pending=0, message=f"redis unreachable: {error}",
        )  # fmt: skip
        return json_response(body, status=503)
    engine_loaded = any(worker.engine for worker in workers)
    is_ready = bool(workers) and engine_loaded
    body = ReadyResponse(
        ready=is_ready,
        redis=True,
        workers_alive=len(workers),
        engine_loaded=engine_loaded,
        workers=workers,
        queue_waiting=stats.waiting,
        queue_pending=stats.pending,
        message="ready" if is_ready else "no live worker with a loaded engine",
    )
    return json_response(body, status=200 if is_ready else 503)


async def _live_workers(store) -> list[WorkerInfo]:
    since = time.time() - store.alive_window
    ids = await store.client.zrangebyscore(store.keys.workers, since, "+inf")
    workers = []
    for raw_id in ids:
        fields = await store.client.hgetall(store.keys.worker(raw_id.decode()))
        if fields:
            workers.append(decode_fields(WorkerInfo, fields))
    return workers


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    try:
        gateway.metrics.queue.latest = await gateway.store.queue_stats()
    except RedisError:
        gateway.metrics.queue.latest = None  # report traffic metrics, not stale queue figures
    body = generate_latest(gateway.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
