"""POST a task's outcome to its callback_url: signed, retried, and never to an address the
callback policy refuses (checked again at connect time, so DNS rebinding does not help)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from shared.callback_policy import CallbackPolicy

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Diarization-Signature"
TIMESTAMP_HEADER = "X-Diarization-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", so a receiver can also refuse replays."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class GuardedResolver(AbstractResolver):
    """Resolves as usual, then keeps only the addresses the policy allows."""

    def __init__(self, policy: CallbackPolicy) -> None:
        self._inner = DefaultResolver()
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        resolved = await self._inner.resolve(host, port, family)
        allowed = [entry for entry in resolved if self._policy.allows(host, entry["host"])]
        if not allowed:
            raise OSError(f"{host} resolves only to addresses callbacks may not reach")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class CallbackSender:
    def __init__(self, policy: CallbackPolicy, attempts: int, timeout: float, secret: str | None):
        self.policy = policy
        self.attempts = attempts
        self.secret = secret
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy))
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
        )

    async def close(self) -> None:
        await self.session.close()

    def refused(self, url: str) -> bool:
        """IP literals skip the resolver, so they are checked here."""
        host = urlsplit(url).hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return not self.policy.allows(host, host)

    async def send(self, url: str, payload: dict[str, Any]) -> bool:
        """True once the receiver answered 2xx; backs off 1, 2, 4... s between attempts."""
        if self.refused(url):
            logger.warning("callback to %s refused: private or special address", url)
            return False
        body = orjson.dumps(payload)
        for attempt in range(1, self.attempts + 1):
            if await self._post(url, body, attempt):
                return True
            if attempt < self.attempts:
                await asyncio.sleep(min(2 ** (attempt - 1), 60))
        return False

    async def _post(self, url: str, body: bytes, attempt: int) -> bool:
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
        if self.secret:
            headers[SIGNATURE_HEADER] = signature(self.secret, timestamp, body)
        try:
            async with self.session.post(url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return True
                logger.warning(
                    "callback %s answered %s (attempt %d)", url, response.status, attempt
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            logger.warning("callback %s failed (attempt %d): %s", url, attempt, error)
        return False
