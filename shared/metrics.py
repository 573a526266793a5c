"""Queue figures exported by the gateway and by every worker (names defined once)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.taskstore import QueueStats

NAMESPACE = "diarization"

_GAUGES = {
    "queue_length": ("Entries in the jobs stream (kept from the oldest unacked one)", "length"),
    "queue_waiting": ("Jobs not yet delivered to any worker (consumer-group lag)", "waiting"),
    "queue_pending": ("Jobs delivered and not yet acknowledged", "pending"),
    "queue_consumers": ("Consumers registered in the workers' group", "consumers"),
    "workers_alive": ("Workers whose last heartbeat is younger than a lease", "workers_alive"),
    "dead_letters": ("Entries in the dead-letter stream", "dead_letters"),
}


class QueueCollector(Collector):
    """Reports the latest QueueStats the process fetched (None: nothing reported yet)."""

    def __init__(self) -> None:
        self.latest: QueueStats | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.latest is None:
            return
        for name, (documentation, attribute) in _GAUGES.items():
            yield GaugeMetricFamily(
                f"{NAMESPACE}_{name}", documentation, value=getattr(self.latest, attribute)
            )
