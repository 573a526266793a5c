"""Worker metrics, served on the worker's own port (one port per worker process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from shared.metrics import NAMESPACE, QueueCollector

_DURATION_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


class WorkerMetrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        self.queue = QueueCollector()
        registry.register(self.queue)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, namespace=NAMESPACE, registry=registry)

        self.started = counter("jobs_started", "Job attempts started")
        self.completed = counter("jobs_completed", "Jobs completed with a result")
        self.failed = counter("jobs_failed", "Jobs failed, by error code", ("error_code",))
        self.cancelled = counter("jobs_cancelled", "Jobs cancelled by their user")
        self.released = counter("jobs_released", "Jobs handed back on shutdown")
        self.reclaimed = counter("jobs_reclaimed", "Jobs taken over from a silent worker")
        self.dead_lettered = counter("jobs_dead_lettered", "Jobs moved to the dead letters")
        self.lease_lost = counter("leases_lost", "Attempts stopped because their lease was lost")
        self.audio_seconds = counter("audio_seconds_processed", "Seconds of audio diarized")
        self.job_duration = Histogram(
            "job_duration_seconds", "From the start of an attempt to its stored result",
            namespace=NAMESPACE, registry=registry, buckets=_DURATION_BUCKETS,
        )  # fmt: skip
        self.inference_duration = Histogram(
            "inference_duration_seconds", "Engine time (decode + diarization) per job",
            namespace=NAMESPACE, registry=registry, buckets=_DURATION_BUCKETS,
        )  # fmt: skip
        self.queue_latency = Histogram(
            "queue_latency_seconds", "From submission to the start of the first attempt",
            namespace=NAMESPACE, registry=registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
        )  # fmt: skip
        self.real_time_factor = Histogram(
            "real_time_factor", "Processing time divided by audio duration",
            namespace=NAMESPACE, registry=registry,
            buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1, 2),
        )  # fmt: skip
        self.in_flight = Gauge(
            "jobs_in_flight", "Jobs running in this worker", namespace=NAMESPACE, registry=registry
        )

    def serve(self, port: int, host: str = "0.0.0.0") -> int:
        """Start the /metrics endpoint; returns the port (an ephemeral one for port 0)."""
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)
