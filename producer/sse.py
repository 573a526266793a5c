"""Live progress of one task as Server-Sent Events: GET /api/v1/diarize/events/{task_id}.

The response replays the task's events stream (only the entries after Last-Event-ID when
a client reconnects), then follows it until the task ends: the terminal event (completed,
failed or cancelled) is the last one sent before the response closes. Every event's
`id:` is its stream entry id, its `data:` the TaskEvent as JSON. While nothing happens,
a `: keep-alive` comment goes out every SSE_KEEPALIVE_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web
from pydantic import ValidationError

from producer.auth import TENANT
from producer.context import GATEWAY
from producer.event_hub import Entry, Inbox, TaskEventHub, stream_id
from shared.errors import InvalidParametersError
from shared.keys import RedisKeys
from shared.redis_client import async_client
from shared.schemas.api import API_PREFIX
from shared.schemas.messages import TaskEvent
from shared.settings import Settings

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()
EVENT_HUB = web.AppKey("event_hub", TaskEventHub)

ENTRY_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
_LARGEST_ID_PART = 2**64 - 1  # Redis stream ids are two unsigned 64-bit numbers
# How long an EventSource waits before it reconnects (with Last-Event-ID) after a drop.
_RETRY_MS = 2000
_KEEPALIVE = b": keep-alive\n\n"
_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx would otherwise hold events back in its buffer
}


def setup(app: web.Application, settings: Settings) -> None:
    """The events route and the hub behind it, with its own connection for XREAD BLOCK."""
    client = async_client(settings, blocking_reads=True)
    keys = RedisKeys(settings.redis_key_prefix)
    app[EVENT_HUB] = TaskEventHub(client, keys, settings.read_block_ms)
    app.add_routes(routes)
    app.on_startup.append(_start)
    # on_shutdown runs before the server waits for open requests: ending the streams
    # there keeps a watching browser from holding a restart up.
    app.on_shutdown.append(_stop)
    app.on_cleanup.append(_close)


async def _start(app: web.Application) -> None:
    app[EVENT_HUB].start()


async def _stop(app: web.Application) -> None:
    await app[EVENT_HUB].close()


async def _close(app: web.Application) -> None:
    # the client was given its pool, so closing the client alone would leave the pool open
    await app[EVENT_HUB].client.aclose(close_connection_pool=True)


@routes.get(f"{API_PREFIX}/events/{{task_id}}")
async def events(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    task_id = request.match_info["task_id"]
    after = _last_event_id(request)
    # Read before the history: a task's hash and its events change together (one script),
    # so a task that has ended by now has its terminal event in the history read below.
    record = await gateway.task(task_id, request.get(TENANT, ""))
    async with request.app[EVENT_HUB].watch(task_id, after) as inbox:
        history = await gateway.store.events_after(task_id, after)
        stream = _EventStream(web.StreamResponse(headers=_HEADERS), after)
        try:
            await stream.open(request)
            # an ended task whose terminal event the client already has: nothing to follow
            if not await stream.send(history) and not record.status.terminal:
                await stream.follow(inbox, gateway.settings.sse_keepalive_seconds)
        except ConnectionResetError:
            logger.debug("events client of %s went away", task_id)
    return stream.response


def _last_event_id(request: web.Request) -> str:
    value = request.headers.get("Last-Event-ID", "").strip()
    if not value:
        return "0"
    if not ENTRY_ID.match(value) or max(stream_id(value)) > _LARGEST_ID_PART:
        raise InvalidParametersError(
            "Last-Event-ID must be the id of an event of this stream, e.g. 1764000000000-0"
        )
    return value


class _EventStream:
    """One SSE response: sends each entry once, in order, and knows when the task ended."""

    def __init__(self, response: web.StreamResponse, after: str) -> None:
        self.response = response
        self._last = stream_id(after)

    async def open(self, request: web.Request) -> None:
        await self.response.prepare(request)
        await self.response.write(f"retry: {_RETRY_MS}\n\n".encode())

    async def send(self, entries: list[Entry]) -> bool:
        """Send the entries not sent yet; True once the terminal event has gone out."""
        for entry_id, fields in entries:
            if stream_id(entry_id) <= self._last:  # seen in the history already
                continue
            self._last = stream_id(entry_id)
            try:
                event = TaskEvent.from_entry(fields)
            except ValidationError as error:  # the stream is public: skip what is not ours
                logger.warning("skipping unreadable event %s: %s", entry_id, error)
                continue
            data = event.model_dump_json(exclude_none=True)
            await self.response.write(f"id: {entry_id}\ndata: {data}\n\n".encode())
            if event.status.terminal:
                return True
        return False

    async def follow(self, inbox: Inbox, keepalive: float) -> None:
        """Send what the hub delivers until the task ends or the hub closes."""
        while True:
            try:
                batch = await asyncio.wait_for(inbox.get(), keepalive)
            except TimeoutError:
                await self.response.write(_KEEPALIVE)
                continue
            if batch is None or await self.send(batch):
                return
