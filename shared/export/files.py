"""Names of the files in a result folder (light: the gateway imports it)."""

METADATA_FILE = "metadata.json"
RESULT_FILE = "result.json"
RTTM_FILE = "diarization.rttm"
TIMELINE_FILE = "timeline.png"
ZIP_FILE = "result.zip"
