// The speaker timeline: one lane per speaker, its turns as buttons that play them, a lane
// of overlapped speech, and a time axis, all scaled to the recording's duration.

// Okabe-Ito colours (told apart with colour-blindness too), then evenly spread hues.
const PALETTE = ["#e69f00", "#56b4e9", "#009e73", "#cc79a7", "#0072b2", "#d55e00", "#7f7f7f"];
const STEPS = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

export function colour(index) {
  return index < PALETTE.length ? PALETTE[index] : `hsl(${(index * 137.5) % 360} 60% 42%)`;
}

export function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${(seconds - minutes * 60).toFixed(1).padStart(4, "0")}`;
}

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function renderTimeline(container, metadata, onPlay) {
  const duration = Math.max(metadata.audio.duration, 0.001);
  container.replaceChildren(
    ...metadata.speakers.map((speaker, index) => lane(speaker, index, duration, onPlay)),
    overlapLane(metadata.overlaps, duration),
    axis(duration),
  );
}

function place(node, start, end, duration) {
  node.style.left = `${(100 * start) / duration}%`;
  node.style.width = `${(100 * (end - start)) / duration}%`;
}

function laneLabel(text, swatchColour) {
  const label = element("span", "lane-label");
  const swatch = element("span", "swatch");
  if (swatchColour) swatch.style.background = swatchColour;
  label.append(swatch, text);
  return label;
}

function lane(speaker, index, duration, onPlay) {
  const row = element("div", "lane");
  row.dataset.speaker = speaker.speaker;
  const track = element("div", "track");
  track.setAttribute("role", "toolbar");
  track.setAttribute("aria-label", `Turns of ${speaker.speaker}`);
  speaker.segments.forEach((segment, n) => {
    const turn = element("button", "turn");
    turn.type = "button";
    turn.tabIndex = n === 0 ? 0 : -1; // one tab stop per lane; arrows move within it
    turn.dataset.file = segment.file;
    turn.style.background = colour(index);
    turn.setAttribute("aria-label",
      `${speaker.speaker}, ${clock(segment.start)} to ${clock(segment.end)}: play`);
    turn.title = `${speaker.speaker} ${clock(segment.start)}–${clock(segment.end)}`;
    place(turn, segment.start, segment.end, duration);
    turn.addEventListener("click", () => onPlay(segment, turn));
    track.append(turn);
  });
  track.addEventListener("keydown", moveFocus);
  row.append(laneLabel(speaker.speaker, colour(index)), track);
  return row;
}

function moveFocus(event) {
  const turns = [...event.currentTarget.querySelectorAll(".turn")];
  const at = turns.indexOf(document.activeElement);
  const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: turns.length - 1 }[event.key];
  if (next === undefined || at < 0 || next < 0 || next >= turns.length) return;
  event.preventDefault();
  turns[at].tabIndex = -1;
  turns[next].tabIndex = 0;
  turns[next].focus();
}

function overlapLane(overlaps, duration) {
  const row = element("div", "lane overlap-lane");
  const track = element("div", "track");
  const total = overlaps.reduce((sum, region) => sum + region.end - region.start, 0);
  track.setAttribute("role", "img");
  track.setAttribute("aria-label",
    `${overlaps.length} overlapped regions, ${total.toFixed(1)} s in all`);
  for (const region of overlaps) {
    const mark = element("span", "overlap");
    mark.title = `${region.speakers.join(" + ")} ${clock(region.start)}–${clock(region.end)}`;
    place(mark, region.start, region.end, duration);
    track.append(mark);
  }
  row.append(laneLabel("overlap"), track);
  return row;
}

function axis(duration) {
  const row = element("div", "lane axis");
  row.setAttribute("aria-hidden", "true");
  const track = element("div", "track");
  const step = STEPS.find((s) => s >= duration / 6) ?? 3600 * Math.ceil(duration / 21600);
  for (let t = 0; t <= duration; t += step) {
    const tick = element("span", "tick", clock(t).replace(/\.0$/, ""));
    tick.style.left = `${(100 * t) / duration}%`;
    if (t > 0.95 * duration) tick.classList.add("end"); // keep the last label inside
    track.append(tick);
  }
  row.append(element("span", "lane-label"), track);
  return row;
}
