"""Live progress and the page, end to end: a gateway process and a worker with the real
engine on a real valkey-server, followed with real curl and driven in headless Chromium
(Debian's package, which .ci/run installs; no browser is ever downloaded)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest
import redis
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from shared.processes import free_port
from shared.schemas.api import API_PREFIX
from tests.conftest import make_settings
from tests.service_helpers import ServiceProcess, start_worker, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
SPEAKER_TRACK = ".speaker audio.track-player"


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=1).status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def service(redis_server, tmp_path_factory):
    """A gateway process and a worker process with the real (bundled) engine."""
    root = tmp_path_factory.mktemp("live")
    settings = make_settings(redis_server, root / "storage", api_port=free_port())
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    worker = start_worker(settings, root / "worker.log")
    gateway = ServiceProcess(["start"], settings, root / "gateway.log")
    url = f"http://127.0.0.1:{settings.api_port}"
    try:
        wait_until(lambda: _answers(f"{url}/ready"), 120, "a ready gateway and worker")
        yield url
    finally:
        assert gateway.stop() == 0, gateway.output()[-3000:]
        assert worker.stop() == 0, worker.output()[-3000:]
        client.close()


def curl(*args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def sse_events(text: str) -> list[tuple[str, dict]]:
    """(id, data) of every event of an SSE body."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields["id"], json.loads(fields["data"])))
    return events


def test_curl_follows_a_real_job_to_the_end(service, sample_wav) -> None:
    reply = curl("-F", f"audio_file=@{sample_wav}", f"{service}{API_PREFIX}/upload")
    task_id = json.loads(reply)["task_id"]
    # -N: no buffering; curl returns on its own only because the stream ends
    events = sse_events(curl("-N", f"{service}{API_PREFIX}/events/{task_id}"))
    statuses = [data["status"] for _, data in events]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    assert set(statuses[1:-1]) == {"processing"}
    progress = [data["progress"] for _, data in events if data["status"] == "processing"]
    assert len(set(progress)) >= 4 and progress == sorted(progress)
    assert {data.get("stage") for _, data in events} >= {"segmentation", "embeddings"}
    assert events[-1][1]["summary"]["num_speakers"] == 2
    ids = [tuple(map(int, entry_id.split("-"))) for entry_id, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # the same again, resumed after the first processing event: only what came later
    later = sse_events(curl("-N", "-H", f"Last-Event-ID: {events[1][0]}",
                            f"{service}{API_PREFIX}/events/{task_id}"))  # fmt: skip
    assert later == events[2:]


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        if os.environ.get("CI_REQUIRE_ALL"):
            pytest.fail("chromium (Debian package) is required in CI")
        pytest.skip("chromium is not installed here (.ci/run installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A page that must raise no script error and break no Content-Security-Policy rule."""
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    assert problems == []


def distinct_colours(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.getcolors(maxcolors=1 << 24))


def plays(page: Page, selector: str) -> None:
    """Waits until the audio element is playing and its time has moved on."""
    page.wait_for_function(
        "(selector) => { const a = document.querySelector(selector);"
        " return a && !a.paused && a.currentTime > 0.3; }",
        arg=selector,
        timeout=30_000,
    )


def test_page_uploads_follows_and_plays(service, page, sample_wav, tmp_path) -> None:
    page.goto(service)
    page.get_by_label("Audio file").set_input_files(sample_wav)
    expect(page.locator("#chosen")).to_contain_text("sample.wav")
    page.get_by_label("At most").fill("4")
    page.get_by_role("button", name="Diarize").click()
    # live progress through EventSource: a processing step before the end
    page.wait_for_function(
        "() => document.querySelector('#progress').value > 0"
        " && document.querySelector('#task').dataset.status === 'processing'",
        timeout=120_000,
    )
    expect(page.locator("#result")).to_be_visible(timeout=300_000)
    expect(page.locator("#status")).to_have_text("Done")
    lanes = page.locator(".timeline .lane[data-speaker]")
    expect(lanes).to_have_count(2)
    assert page.locator(".timeline .turn").count() >= 4
    expect(page.locator("#summary")).to_contain_text("2 speakers")
    page.get_by_role("button", name="Play SPEAKER_00's speech").click()
    plays(page, SPEAKER_TRACK)
    first_turn = lanes.nth(1).locator(".turn").first
    first_turn.focus()
    page.keyboard.press("ArrowRight")  # arrow keys move along the lane
    page.keyboard.press("Enter")
    plays(page, "#segment-player")
    assert page.evaluate("(s) => document.querySelector(s).paused", SPEAKER_TRACK)  # one at a time
    wide = page.screenshot(full_page=True)
    (tmp_path / "page.png").write_bytes(wide)
    assert distinct_colours(wide) > 200
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    (tmp_path / "phone.png").write_bytes(page.screenshot(full_page=True))
    page.reload()  # the task is remembered, and its result comes back
    expect(page.locator("#recent li")).to_contain_text("sample.wav")
    expect(page.locator("#recent .badge")).to_have_text("completed")
    expect(page.locator(".timeline .lane[data-speaker]")).to_have_count(2)


def test_page_drop_and_errors_in_words(service, page) -> None:
    page.goto(service)
    dropped = page.evaluate_handle(
        "() => { const data = new DataTransfer();"
        " data.items.add(new File(['not audio'], 'notes.txt', {type: 'text/plain'}));"
        " return data; }"
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dropped})
    expect(page.locator("#chosen")).to_contain_text("notes.txt")
    page.get_by_role("button", name="Diarize").click()
    error = page.get_by_role("alert")
    expect(error).to_contain_text("UNSUPPORTED_FORMAT")
    expect(error).to_contain_text("is not supported")
    page.goto(f"{service}/#task=no-such-task")
    expect(error).to_contain_text("TASK_NOT_FOUND")
