"""The page at `/` for trying the service in a browser: upload, live progress, timeline,
playback and downloads. Plain files of this package (producer/static), no build step,
nothing fetched from elsewhere: it works offline."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("static")
# The page runs only its own files: no inline script or style, no other origin.
_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=_HEADERS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_static("/ui", STATIC)
