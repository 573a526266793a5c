"""Liveness, readiness and Prometheus metrics of the gateway."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from producer.context import GATEWAY
from producer.routes import json_response
from shared import __version__
from shared.schemas.api import HealthResponse, ReadyResponse

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
        workers = await gateway.store.live_workers()
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


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    try:
        gateway.metrics.queue.latest = await gateway.store.queue_stats()
    except RedisError:
        gateway.metrics.queue.latest = None  # report traffic metrics, not stale queue figures
    body = generate_latest(gateway.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
