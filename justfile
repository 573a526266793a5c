# Recipes: `uv run just <recipe>` (just comes from the PyPI package rust-just).

# list the recipes
default:
    @just --list

# Redis (embedded unless configured) + gateway + worker(s): `just up --workers 2`
up *ARGS:
    uv run python main.py up {{ARGS}}

# the HTTP gateway alone
gateway *ARGS:
    uv run python main.py start {{ARGS}}

# one worker: `just worker --concurrency 2`
worker *ARGS:
    uv run python main.py worker {{ARGS}}

# the test suite (what CI runs)
test *ARGS:
    uv run pytest {{ARGS}}

# lint and formatting checks
lint:
    uv run ruff check .
    uv run ruff format --check .

# engine benchmark: reference vs fast configuration (see docs/performance.md)
bench *ARGS:
    uv run python -m ops.bench.engine {{ARGS}}

# service benchmark: throughput of W workers vs W x one, dispatch and queue latency
bench-service *ARGS:
    uv run python -m ops.bench.service {{ARGS}}

# gateway benchmark: RSS growth while a large upload streams through
bench-upload *ARGS:
    uv run python -m ops.bench.upload {{ARGS}}
