"""The Lua scripts that make each state change of a task atomic (see shared/lua/)."""

from __future__ import annotations

from importlib import resources
from typing import Any

_NAMES = ("submit", "acquire", "transition", "heartbeat", "release", "cancel", "trim")


def _source(name: str) -> str:
    return resources.files("shared.lua").joinpath(f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """Scripts registered on one client (async or sync). redis-py runs them by EVALSHA
    and reloads them by itself after a restart or FLUSHALL empties the script cache."""

    def __init__(self, client: Any) -> None:
        prelude = _source("prelude")
        for name in _NAMES:
            setattr(self, name, client.register_script(prelude + "\n" + _source(name)))


def flat(fields: dict[str, str]) -> list[str]:
    """A field dict as Lua receives it: the count, then name, value, name, value..."""
    values = [item for pair in fields.items() for item in pair]
    return [str(len(values)), *values]
