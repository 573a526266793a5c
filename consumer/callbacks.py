"""POST a task's outcome to its callback_url, with retries and a signature."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time

import aiohttp
import orjson

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Diarization-Signature"
TIMESTAMP_HEADER = "X-Diarization-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", so a receiver can also refuse replays."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


async def send_callback(
    session: aiohttp.ClientSession,
    url: str,
    payload: dict[str, object],
    attempts: int,
    secret: str | None = None,
) -> bool:
    """True once the receiver answered 2xx; backs off 1, 2, 4... seconds between attempts."""
    body = orjson.dumps(payload)
    for attempt in range(1, attempts + 1):
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
        try:
            async with session.post(url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return True
                logger.warning(
                    "callback %s answered %s (attempt %d)", url, response.status, attempt
                )
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.warning("callback %s failed (attempt %d): %s", url, attempt, error)
        if attempt < attempts:
            await asyncio.sleep(min(2 ** (attempt - 1), 60))
    return False
