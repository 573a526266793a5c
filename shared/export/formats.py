"""Text formats of a result: JSON (the full model) and NIST RTTM (turns only)."""

from __future__ import annotations

import orjson
from pydantic import BaseModel

from shared.schemas.results import DiarizationResult


def to_json(model: BaseModel) -> bytes:
    """Any model (a result, the bundle's metadata) as indented JSON."""
    return orjson.dumps(model.model_dump(mode="json"), option=orjson.OPT_INDENT_2)


def to_rttm(result: DiarizationResult) -> str:
    """One SPEAKER line per turn; the file id is the audio file's stem (`result.uri`)."""
    uri = result.uri.replace(" ", "_") or "audio"
    lines = [
        f"SPEAKER {uri} 1 {turn.start:.3f} {turn.duration:.3f} <NA> <NA> {turn.speaker} <NA> <NA>"
        for turn in result.turns
    ]
    return "".join(line + "\n" for line in lines)
