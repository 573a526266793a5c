# syntax=docker/dockerfile:1.7
# Multi-stage image of the diarization service (gateway and workers run the same image).
#   docker build -t diarization .
#   docker build --build-arg DOWNLOAD_MODEL=true --build-arg HUGGINGFACE_TOKEN=hf_... .
# The token only exists in the build stage: the runtime stage copies the models, not it.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-project
COPY main.py README.md ./
COPY shared ./shared
COPY producer ./producer
COPY consumer ./consumer
COPY ops ./ops
ARG DOWNLOAD_MODEL=false
ARG HUGGINGFACE_TOKEN=""
ARG MODEL_NAME=pyannote/speaker-diarization-community-1
RUN mkdir -p /app/models && if [ "$DOWNLOAD_MODEL" = "true" ]; then \
      .venv/bin/python main.py download-model --auth-token "$HUGGINGFACE_TOKEN" \
        --model-name "$MODEL_NAME" --output-dir /app/models; \
    fi

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --gid 10001 diarization \
 && useradd --uid 10001 --gid diarization --create-home diarization \
 && mkdir -p /data && chown diarization:diarization /data
WORKDIR /app
COPY --from=build --chown=diarization:diarization /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STORAGE_BASE_PATH=/data \
    MODEL_PATH=/app/models \
    PYANNOTE_METRICS_ENABLED=false
USER diarization
VOLUME ["/data"]
EXPOSE 8000 9101
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["python", "main.py", "start"]
