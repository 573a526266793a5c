"""The diarization engine (imports torch and pyannote: never imported by the gateway)."""

import os

from shared.settings import get_settings

# pyannote.audio reports usage to its servers unless told otherwise; it reads this variable
# once, when its telemetry module is first imported, so it is set before any pyannote import.
os.environ["PYANNOTE_METRICS_ENABLED"] = str(get_settings().pyannote_metrics_enabled).lower()
