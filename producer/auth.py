"""Optional API keys with per-key tenancy, and who a client is for per-client limits.

Only SHA-256 digests of the configured keys are kept in memory; a presented key is hashed
and compared with every stored digest in constant time (no early exit). A key's tenant id
is a prefix of its digest: tasks record it as their owner, and a key sees only its own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import unquote

from aiohttp import hdrs, web
from pydantic import SecretStr

from shared.errors import UnauthorizedError
from shared.schemas.api import API_PREFIX

HASHED = "sha256:"
TENANT = web.RequestKey("tenant", str)
_BEARER = "Bearer "
KEY_COOKIE = "diarization_api_key"
_READS = (hdrs.METH_GET, hdrs.METH_HEAD)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _stored(secret: SecretStr) -> bytes:
    value = secret.get_secret_value()
    if value.startswith(HASHED):
        return bytes.fromhex(value.removeprefix(HASHED))
    return _digest(value)


class ApiKeys:
    def __init__(self, keys: list[SecretStr]) -> None:
        self._digests = [_stored(key) for key in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def tenant(self, presented: str | None) -> str:
        """The tenant of a valid key; raises UNAUTHORIZED otherwise."""
        if not presented:
            raise UnauthorizedError("an API key is required (X-API-Key or Authorization: Bearer)")
        digest = _digest(presented)
        matched = None
        for stored in self._digests:
            if hmac.compare_digest(stored, digest):
                matched = stored
        if matched is None:
            raise UnauthorizedError("invalid API key")
        return matched.hex()[:16]


def presented_key(request: web.Request) -> str | None:
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith(_BEARER):
        return authorization.removeprefix(_BEARER).strip()
    if key := request.headers.get("X-API-Key"):
        return key
    # A browser's EventSource and <audio> cannot send headers, so the page (producer/static)
    # keeps the key in a SameSite=Strict cookie. It counts for reads only: no request from
    # another site can change anything with it.
    if request.method in _READS and (cookie := request.cookies.get(KEY_COOKIE)):
        return unquote(cookie)
    return None


def client_id(request: web.Request, trust_forwarded_for: bool) -> str:
    """The tenant when keys are on, else the client address (the proxy's client if trusted)."""
    tenant = request.get(TENANT, "")
    if tenant:
        return f"key:{tenant}"
    if trust_forwarded_for and (forwarded := request.headers.get("X-Forwarded-For")):
        return f"ip:{forwarded.split(',')[0].strip()}"
    return f"ip:{request.remote or 'unknown'}"


def auth_middleware(keys: ApiKeys) -> Callable:
    @web.middleware
    async def authenticate(request: web.Request, handler: Callable) -> web.StreamResponse:
        if keys.enabled and request.path.startswith(API_PREFIX):
            request[TENANT] = keys.tenant(presented_key(request))
        return await handler(request)

    return authenticate
