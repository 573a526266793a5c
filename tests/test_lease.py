"""The lease keeper thread on its own, against a real valkey-server."""

from __future__ import annotations

import time

from consumer.lease import LeaseKeeper, StopReason, StopSignal
from consumer.queue import Ownership
from shared.keys import RedisKeys
from tests.service_helpers import wait_until


def test_keeper_beats_on_after_a_beat_crashes(redis_client, settings, caplog) -> None:
    keys = RedisKeys(settings.redis_key_prefix)
    beats: list[float] = []

    def presence() -> dict[str, str]:
        beats.append(time.monotonic())
        if len(beats) == 1:
            raise ValueError("a broken first beat")
        return {"worker_id": "w1", "in_flight": "0"}

    keeper = LeaseKeeper(redis_client, keys, "w1", 1.0, presence)
    keeper.start()
    try:
        wait_until(lambda: redis_client.zscore(keys.workers, "w1"), 5, "a later beat")
    finally:
        keeper.halt()
        keeper.join(5)
    assert redis_client.hget(keys.worker("w1"), "worker_id") == b"w1"
    assert 0 < redis_client.ttl(keys.worker("w1")) <= 4  # presence lapses after 3 leases
    assert "heartbeat crashed" in caplog.text


def test_an_attempt_it_does_not_own_is_told_to_stop(redis_client, settings) -> None:
    keys = RedisKeys(settings.redis_key_prefix)
    keeper = LeaseKeeper(redis_client, keys, "w1", 1.0, lambda: {"worker_id": "w1"})
    signal = StopSignal(time.monotonic() + 60)
    redis_client.xgroup_create(keys.jobs, keys.group, id="0", mkstream=True)
    keeper.track(Ownership(task_id="t1", entry_id="1-0", token="not-the-lease"), signal)
    keeper.beat()
    assert signal.reason is StopReason.LEASE_LOST
