"""Service commands: start, worker, up, status, init-storage, check-external-service,
check-service, clear-tasks, export-openapi."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
import threading
from pathlib import Path

from shared.processes import threads_per_job
from shared.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def register(commands: argparse._SubParsersAction) -> None:
    _register_processes(commands)
    _register_admin(commands)


def _register_processes(commands: argparse._SubParsersAction) -> None:
    start = commands.add_parser("start", help="run the HTTP gateway")
    start.add_argument("--host", help="default: API_HOST")
    start.add_argument("--port", type=int, help="default: API_PORT")
    start.set_defaults(handler=start_command)

    worker = commands.add_parser("worker", help="run a worker (one consumer of the group)")
    worker.add_argument(
        "--concurrency", type=int, help="jobs at once (default: MAX_CONCURRENT_TASKS)"
    )
    worker.add_argument("--metrics-port", type=int, help="default: WORKER_METRICS_PORT; 0 = any")
    # Tests only: "module:function" returning an engine (e.g. one that holds the GIL).
    worker.add_argument("--engine-factory", help=argparse.SUPPRESS)
    worker.set_defaults(handler=worker_command)

    up = commands.add_parser("up", help="Redis (embedded unless configured) + gateway + workers")
    up.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    up.add_argument(
        "--concurrency", type=int, help="jobs per worker (default: MAX_CONCURRENT_TASKS)"
    )
    up.set_defaults(handler=up_command)


def _register_admin(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser("status", help="queue, workers, storage and engine")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=status_command)

    init = commands.add_parser("init-storage", help="create the storage folders")
    init.set_defaults(handler=init_storage_command)

    external = commands.add_parser("check-external-service", help="check Redis, storage, model")
    external.set_defaults(handler=check_external_command)

    check = commands.add_parser("check-service", help="send a real file through a running service")
    check.add_argument("--url", help="gateway URL (default: http://127.0.0.1:API_PORT)")
    check.add_argument("--file", type=Path, help="audio to send (default: pyannote's sample)")
    check.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    check.set_defaults(handler=check_service_command)

    clear = commands.add_parser("clear-tasks", help="delete finished tasks and their files")
    clear.add_argument("--older-than-hours", type=float, default=0.0, help="only older ones")
    clear.add_argument("--include-unfinished", action="store_true", help="also queued/running")
    clear.set_defaults(handler=clear_tasks_command)

    export = commands.add_parser("export-openapi", help="write the OpenAPI description")
    export.add_argument("--output", type=Path, help="file (default: standard output)")
    export.set_defaults(handler=export_openapi_command)


def start_command(args: argparse.Namespace) -> int:
    from producer.app import run

    run(get_settings(), args.host, args.port)
    return 0


def _engine(settings: Settings, factory: str | None, concurrency: int):
    if factory:
        module_name, _, function = factory.partition(":")
        return getattr(importlib.import_module(module_name), function)(settings)
    from shared.engine.loader import load_engine

    threads = settings.torch_threads or threads_per_job(concurrency)
    return load_engine(settings.model_copy(update={"torch_threads": threads}))


def worker_command(args: argparse.Namespace) -> int:
    from consumer.worker import Worker

    settings = get_settings()
    concurrency = args.concurrency or settings.max_concurrent_tasks
    port = settings.worker_metrics_port if args.metrics_port is None else args.metrics_port
    engine = _engine(settings, args.engine_factory, concurrency)
    asyncio.run(Worker(settings, engine, concurrency, port).run())
    stuck = [t for t in threading.enumerate() if t.name.startswith("inference") and t.is_alive()]
    if stuck:  # a thread cannot be killed: its lease expires and another worker takes over
        logger.warning("exiting with %d inference thread(s) still busy", len(stuck))
        os._exit(0)
    return 0


def up_command(args: argparse.Namespace) -> int:
    from shared.cli.up import up

    settings = get_settings()
    return up(settings, args.workers, args.concurrency or settings.max_concurrent_tasks)


def status_command(args: argparse.Namespace) -> int:
    from shared.cli.inspect import service_status

    report = asyncio.run(service_status(get_settings()))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:<18} {value}")
    return 0 if report.get("redis") == "reachable" else 1


def init_storage_command(_: argparse.Namespace) -> int:
    from shared.storage import open_storage

    storage = open_storage(get_settings())
    storage.initialise()
    print(f"storage ready at {storage.root}")
    return 0


def check_external_command(_: argparse.Namespace) -> int:
    from shared.cli.inspect import check_external

    problems = asyncio.run(check_external(get_settings()))
    return 1 if problems else 0


def check_service_command(args: argparse.Namespace) -> int:
    from shared.cli.inspect import check_service

    settings = get_settings()
    url = args.url or f"http://127.0.0.1:{settings.api_port}"
    return asyncio.run(check_service(url, args.file, args.timeout))


def clear_tasks_command(args: argparse.Namespace) -> int:
    from shared.cli.inspect import clear_tasks

    removed = asyncio.run(
        clear_tasks(get_settings(), args.older_than_hours, args.include_unfinished)
    )
    print(f"removed {removed} task(s)")
    return 0


def export_openapi_command(args: argparse.Namespace) -> int:
    from producer.openapi import build_spec
    from shared import __version__

    text = json.dumps(build_spec(__version__), indent=2)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0
