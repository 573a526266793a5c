"""Flat Redis fields (stream entries, hashes) <-> pydantic models.

Every value is a string: text fields are stored as they are, everything else as JSON
("3", "true", "[...]"). A field written with redis-cli (`num_speakers 2`) reads the same
way as one written by the service.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)
RawFields = Mapping[bytes | str, bytes | str]


def encode_fields(model: BaseModel) -> dict[str, str]:
    """None fields are left out, so HSET never writes a literal "null"."""
    encoded = {}
    for name, value in model.model_dump(mode="json", exclude_none=True).items():
        encoded[name] = value if isinstance(value, str) else orjson.dumps(value).decode()
    return encoded


def decode_fields(model: type[Model], raw: RawFields) -> Model:
    """Validate fields read from Redis; unknown fields are ignored."""
    data: dict[str, Any] = {}
    for key, value in raw.items():
        name = text(key)
        field = model.model_fields.get(name)
        if field is None:
            continue
        value_text = text(value)
        data[name] = value_text if _is_text(field.annotation) else _json_or_text(value_text)
    return model.model_validate(data)


def text(value: bytes | str | int | float) -> str:
    """A value read from Redis as text (replies are bytes unless decoded)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def text_fields(raw: RawFields) -> dict[str, str]:
    return {text(key): text(value) for key, value in raw.items()}


def _json_or_text(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text  # let validation say what is wrong with it


def _is_text(annotation: Any) -> bool:
    """str, or str | None: stored verbatim."""
    if annotation is str:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members == [str]
    return False
