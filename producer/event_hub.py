"""One blocking Redis connection that follows every task events stream watched over SSE.

A connection per watcher would hold a pooled connection for as long as a browser tab stays
open, so a few dozen viewers would exhaust the pool. Instead one loop runs
`XREAD BLOCK` over all watched streams at once and hands each batch of entries to the
watchers of that stream.

A watcher registers before it reads the stream's history itself (XRANGE), so nothing
added after its history read can be missed: the hub delivers every entry past its cursor
to every watcher registered at that time. Entries may therefore arrive twice (once in the
history, once from the hub); watchers drop ids they have already sent (`stream_id`).
A stream newly added while an XREAD is blocked joins the next one, at most READ_BLOCK_MS
later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from shared.keys import RedisKeys
from shared.schemas.redis_codec import RawFields, text

logger = logging.getLogger(__name__)

Entry = tuple[str, RawFields]
# What a watcher's inbox receives: a batch of entries, or None once the hub has closed.
Inbox = asyncio.Queue[list[Entry] | None]
# Pause before reading again after Redis failed, so an outage is not a busy loop.
_RETRY_SECONDS = 1.0


def stream_id(entry_id: str) -> tuple[int, int]:
    """A stream entry id ("1764000000000-3", or just "1764000000000") in sortable form."""
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


class TaskEventHub:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys, block_ms: int) -> None:
        self.client = client
        self._keys = keys
        self._block_ms = block_ms
        self._inboxes: dict[str, set[Inbox]] = {}
        self._cursors: dict[str, str] = {}  # stream -> last entry id the hub has read
        self._watched = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="task-event-hub")

    async def close(self) -> None:
        """Tell every watcher (their SSE responses then end) and stop reading."""
        self._closed = True
        for inboxes in self._inboxes.values():
            for inbox in inboxes:
                inbox.put_nowait(None)
        if self._runner is not None:
            # redis-py can lose a cancellation that lands while it opens a connection; the
            # flag then ends the loop when the XREAD returns, within READ_BLOCK_MS.
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    @contextlib.asynccontextmanager
    async def watch(self, task_id: str, after: str) -> AsyncIterator[Inbox]:
        """An inbox of the task's new event entries, from `after` on; register it before
        reading the history, and drop what the history already had (see above)."""
        stream = self._keys.task_events(task_id)
        inbox: Inbox = asyncio.Queue()
        self._inboxes.setdefault(stream, set()).add(inbox)
        self._cursors.setdefault(stream, after)
        self._watched.set()
        try:
            yield inbox
        finally:
            inboxes = self._inboxes[stream]
            inboxes.discard(inbox)
            if not inboxes:
                del self._inboxes[stream]
                del self._cursors[stream]

    async def _run(self) -> None:
        while not self._closed:
            if not self._cursors:
                self._watched.clear()
                await self._watched.wait()
                continue
            try:
                replies = await self.client.xread(dict(self._cursors), block=self._block_ms)
            except RedisError as error:
                logger.warning("following task events failed, retrying: %s", error)
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            for raw_stream, entries in replies or []:
                self._dispatch(text(raw_stream), [(text(i), fields) for i, fields in entries])

    def _dispatch(self, stream: str, entries: list[Entry]) -> None:
        if stream not in self._inboxes or not entries:  # nobody watches it any more
            return
        self._cursors[stream] = entries[-1][0]
        for inbox in self._inboxes[stream]:
            inbox.put_nowait(entries)
