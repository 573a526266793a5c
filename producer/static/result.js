// A completed task: summary, timeline, each speaker's track and turns, downloads.

import * as api from "./api.js";
import { clock, colour, element, renderTimeline } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const DOWNLOADS = [
  ["zip", "ZIP: every speaker's audio, metadata, JSON, RTTM, timeline"],
  ["json", "JSON: the full result"],
  ["rttm", "RTTM: one line per turn"],
  ["png", "PNG: the timeline as a picture"],
];

export async function showResult(taskId, summary) {
  const metadata = await api.getJson(`/metadata/${encodeURIComponent(taskId)}`);
  const play = (segment, control) => playTurn(taskId, segment, control);
  $("summary").textContent = describe(metadata, summary);
  renderTimeline($("timeline"), metadata, play);
  $("speakers").replaceChildren(
    ...metadata.speakers.map((speaker, index) =>
      speakerItem(taskId, speaker, index, summary, play)),
  );
  $("downloads").replaceChildren(...DOWNLOADS.map(([format, text]) => {
    const link = element("a", "", text);
    link.href = api.downloadUrl(taskId, format);
    link.download = "";
    const row = element("li");
    row.append(link);
    return row;
  }));
  $("segment-player").removeAttribute("src");
  $("result").hidden = false;
}

export function hideResult() {
  for (const player of document.querySelectorAll("#result audio")) player.pause();
  $("result").hidden = true;
}

function describe(metadata, summary) {
  const speakers = metadata.num_speakers === 1 ? "1 speaker" : `${metadata.num_speakers} speakers`;
  const speed = summary
    ? `, processed in ${summary.processing_time.toFixed(1)} s by ${summary.engine} (${summary.model})`
    : "";
  return `${speakers} in ${clock(metadata.audio.duration)} of ${metadata.audio.filename}${speed}.`;
}

function speakerItem(taskId, speaker, index, summary, play) {
  const row = element("li", "speaker");
  row.dataset.speaker = speaker.speaker;
  const stats = summary?.speakers.find((s) => s.speaker === speaker.speaker);
  const heading = element("p", "speaker-name");
  const swatch = element("span", "swatch");
  swatch.style.background = colour(index);
  heading.append(swatch, element("strong", "", speaker.speaker));
  if (stats) {
    heading.append(` ${stats.total_duration.toFixed(1)} s, ${stats.percentage.toFixed(0)} % ` +
      `of the audio, ${stats.num_turns} turns`);
  }
  const track = element("audio", "track-player");
  track.controls = true;
  track.preload = "none";
  track.src = api.audioUrl(taskId, speaker.track);
  track.setAttribute("aria-label", `All of ${speaker.speaker}'s speech`);
  row.append(heading, trackButton(track, speaker.speaker), track, turnList(speaker, play));
  return row;
}

function trackButton(track, name) {
  const button = element("button", "play-track", `Play ${name}'s speech`);
  button.type = "button";
  button.addEventListener("click", () => (track.paused ? track.play() : track.pause()));
  track.addEventListener("play", () => (button.textContent = `Pause ${name}'s speech`));
  track.addEventListener("pause", () => (button.textContent = `Play ${name}'s speech`));
  return button;
}

function turnList(speaker, play) {
  const details = element("details", "turns");
  details.append(element("summary", "", `Each turn (${speaker.segments.length})`));
  const list = element("ol");
  for (const segment of speaker.segments) {
    const button = element("button", "link",
      `${clock(segment.start)}–${clock(segment.end)}, confidence ${segment.confidence.toFixed(2)}`);
    button.type = "button";
    button.dataset.file = segment.file;
    button.addEventListener("click", () => play(segment, button));
    const row = element("li");
    row.append(button);
    list.append(row);
  }
  details.append(list);
  return details;
}

function playTurn(taskId, segment, control) {
  const player = $("segment-player");
  for (const playing of document.querySelectorAll(".playing")) playing.classList.remove("playing");
  control.classList.add("playing");
  player.setAttribute("aria-label", `${segment.speaker}, ${clock(segment.start)} to ${clock(segment.end)}`);
  player.src = api.audioUrl(taskId, segment.file);
  player.play().catch(() => {}); // a refused autoplay leaves the player's own controls
}

// One sound at a time: starting any player pauses the others.
document.addEventListener("play", (event) => {
  for (const player of document.querySelectorAll("audio")) {
    if (player !== event.target) player.pause();
  }
}, true);
