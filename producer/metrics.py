"""Gateway metrics: HTTP traffic and submissions (queue gauges: shared/metrics.py)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.metrics import NAMESPACE, QueueCollector


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queue = QueueCollector()
        self.registry.register(self.queue)
        self.requests = Counter(
            "http_requests", "HTTP requests answered", ["method", "route", "status"],
            namespace=NAMESPACE, registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "http_request_duration_seconds", "Time to answer an HTTP request",
            ["method", "route"], namespace=NAMESPACE, registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip
        self.submitted = Counter(
            "jobs_submitted", "Tasks accepted by the gateway", namespace=NAMESPACE,
            registry=self.registry,
        )  # fmt: skip
        self.upload_bytes = Counter(
            "upload_bytes", "Bytes of audio accepted", namespace=NAMESPACE, registry=self.registry
        )

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def measure(request: web.Request, handler: Callable) -> web.StreamResponse:
            started = time.perf_counter()
            route = request.match_info.route.resource
            name = route.canonical if route is not None else "unmatched"
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as error:
                status = error.status
                raise
            finally:
                self.requests.labels(request.method, name, str(status)).inc()
                self.latency.labels(request.method, name).observe(time.perf_counter() - started)

        return measure
