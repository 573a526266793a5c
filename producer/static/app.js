// The page: upload a file, follow its task live (Server-Sent Events), show the result.
// A task's page is #task=<id>, so a reload or a link from the recent list reopens it.

import * as api from "./api.js";
import * as recent from "./recent.js";
import { hideResult, showResult } from "./result.js";
import { element } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const ENDED = new Set(["completed", "failed", "cancelled"]);
const STAGES = {
  starting: "Starting",
  decoding: "Reading the audio",
  segmentation: "Finding speech and speaker changes",
  speaker_counting: "Counting speakers",
  embeddings: "Comparing voices",
  discrete_diarization: "Putting the turns together",
  released: "Waiting for another worker",
};

let following = null; // {taskId, source} of the task on screen

function showError(error) {
  const box = $("error");
  const code = error.code ? ` (${error.code})` : "";
  box.replaceChildren(element("strong", "", "Something went wrong: "),
    `${error.message}${code}`);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

function setProgress(percent, words) {
  $("progress").value = percent;
  $("percent").textContent = `${Math.round(percent)} %`;
  // only changes of words are announced, not every percent
  if ($("status").textContent !== words) $("status").textContent = words;
}

function describe(event) {
  if (event.status === "queued") return "Waiting in the queue";
  if (event.status === "processing") return STAGES[event.stage] || "Working";
  if (event.status === "completed") return "Done";
  if (event.status === "failed") return "Failed";
  return "Cancelled";
}

function show(event) {
  setProgress(event.progress, describe(event));
  $("task").dataset.status = event.status;
  $("cancel").hidden = ENDED.has(event.status);
}

async function ended(taskId, event) {
  recent.update(taskId, { status: event.status });
  recent.render($("recent"), $("forget-all"));
  if (event.status === "failed") showError(new api.ApiError(event.error_code, event.error));
  if (event.status !== "completed") return;
  try {
    await showResult(taskId, event.summary ?? event.metadata);
  } catch (error) {
    showError(error);
  }
}

function follow(taskId) {
  const source = new EventSource(api.eventsUrl(taskId));
  following.source = source;
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    show(event);
    if (ENDED.has(event.status)) {
      source.close(); // the stream ends here; without this the browser would reconnect
      ended(taskId, event);
    }
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CONNECTING) {
      $("status").textContent = "Connection lost, reconnecting…";
    } else {
      explain(taskId); // refused outright (a browser keeps no reason): ask the API why
    }
  };
}

async function explain(taskId) {
  try {
    await api.getJson(`/status/${encodeURIComponent(taskId)}`);
    showError(new api.ApiError("", "live progress is not available: reload the page to retry"));
  } catch (error) {
    showError(error);
  }
}

async function open(taskId) {
  following?.source?.close();
  following = { taskId };
  clearError();
  hideResult();
  $("task").hidden = false;
  $("task-name").textContent = recent.find(taskId)?.name || taskId;
  let status;
  try {
    status = await api.getJson(`/status/${encodeURIComponent(taskId)}`);
  } catch (error) {
    $("task").hidden = true;
    if (error.code === "TASK_NOT_FOUND") recent.update(taskId, { status: "gone" });
    recent.render($("recent"), $("forget-all"));
    return showError(error);
  }
  if (following.taskId !== taskId) return; // another task was opened meanwhile
  if (status.filename) $("task-name").textContent = status.filename;
  show(status);
  if (ENDED.has(status.status)) return ended(taskId, status);
  follow(taskId);
}

function route() {
  const match = location.hash.match(/^#task=(.+)$/);
  if (match) open(decodeURIComponent(match[1]));
}

function uploadForm(form, file) {
  const data = new FormData();
  data.append("audio_file", file, file.name);
  for (const name of ["num_speakers", "min_speakers", "max_speakers"]) {
    const value = form.elements[name].value.trim();
    if (value) data.append(name, value);
  }
  if (form.elements.exclusive.checked) data.append("exclusive", "true");
  return data;
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const file = $("audio-file").files[0];
  clearError();
  if (!file) return showError(new api.ApiError("", "choose an audio file first"));
  following?.source?.close();
  following = null;
  hideResult();
  $("submit").disabled = true;
  $("task").hidden = false;
  $("task-name").textContent = file.name;
  $("cancel").hidden = true;
  setProgress(0, "Uploading");
  try {
    const reply = await api.upload(uploadForm(form, file),
      (fraction) => setProgress(100 * fraction, "Uploading"));
    recent.remember({ id: reply.task_id, name: file.name, created: Date.now(), status: "queued" });
    recent.render($("recent"), $("forget-all"));
    location.hash = `task=${encodeURIComponent(reply.task_id)}`;
  } catch (error) {
    $("task").hidden = true;
    showError(error);
  } finally {
    $("submit").disabled = false;
  }
}

function chosen() {
  const file = $("audio-file").files[0];
  $("chosen").textContent = file ? `Selected: ${file.name} (${(file.size / 1e6).toFixed(1)} MB)` : "";
}

function dropZone(zone) {
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) {
      $("audio-file").files = event.dataTransfer.files;
      chosen();
    }
  });
}

async function cancel() {
  try {
    await api.remove(following.taskId);
    $("status").textContent = "Cancelling…";
  } catch (error) {
    showError(error);
  }
}

$("upload-form").addEventListener("submit", submit);
$("audio-file").addEventListener("change", chosen);
dropZone($("drop-zone"));
$("cancel").addEventListener("click", cancel);
$("api-key").value = api.apiKey();
$("api-key").addEventListener("change", (event) => api.setApiKey(event.target.value.trim()));
$("forget-all").addEventListener("click", () => {
  recent.forgetAll();
  recent.render($("recent"), $("forget-all"));
});
window.addEventListener("hashchange", route);
recent.render($("recent"), $("forget-all"));
route();
