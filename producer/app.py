"""The aiohttp gateway: accepts uploads, appends jobs to the stream, serves results.

It never imports torch or pyannote: it starts in about a second and stays small.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from redis.exceptions import RedisError

from producer import audio, health, openapi, page, routes, sse
from producer.auth import ApiKeys, auth_middleware
from producer.context import GATEWAY, Gateway
from producer.errors import error_middleware
from producer.metrics import GatewayMetrics
from shared import __version__
from shared.redis_client import async_client
from shared.settings import Settings
from shared.storage import open_storage
from shared.taskstore import TaskStore

logger = logging.getLogger(__name__)

# Multipart uploads are streamed by the handler; this only bounds other request bodies.
_MAX_SMALL_BODY = 1 << 20


def create_app(settings: Settings) -> web.Application:
    metrics = GatewayMetrics()
    keys = ApiKeys(settings.api_keys)
    app = web.Application(
        middlewares=[metrics.middleware(), error_middleware, auth_middleware(keys)],
        client_max_size=_MAX_SMALL_BODY,
    )
    storage = open_storage(settings)
    store = TaskStore(async_client(settings), settings)
    app[GATEWAY] = Gateway(
        settings=settings, store=store, storage=storage, metrics=metrics, keys=keys
    )
    app.add_routes(routes.routes)
    app.add_routes(audio.routes)
    sse.setup(app, settings)
    app.add_routes(health.routes)
    openapi.add_routes(app, __version__)
    page.add_routes(app)
    app.on_startup.append(_startup)
    app.on_cleanup.append(_cleanup)
    return app


async def _startup(app: web.Application) -> None:
    gateway = app[GATEWAY]
    await asyncio.to_thread(gateway.storage.initialise)
    try:
        await gateway.store.ensure_group()
    except RedisError as error:  # serve anyway: requests answer 503 until Redis is back
        logger.warning("redis not reachable at start-up: %s", error)


async def _cleanup(app: web.Application) -> None:
    # the client was given its pool, so closing the client alone would leave the pool open
    await app[GATEWAY].store.client.aclose(close_connection_pool=True)


def run(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    web.run_app(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        access_log=None,
        print=lambda message: logger.info(message.strip()),
    )
