// Tasks sent from this browser, newest first, kept in localStorage (nowhere else).

import { element } from "./timeline.js";

const STORAGE = "diarization.recent";
const LIMIT = 20;

export function load() {
  try {
    const list = JSON.parse(localStorage.getItem(STORAGE) || "[]");
    return Array.isArray(list) ? list : [];
  } catch {
    return []; // written by something else: start afresh
  }
}

function save(list) {
  localStorage.setItem(STORAGE, JSON.stringify(list.slice(0, LIMIT)));
}

export function remember(entry) {
  save([entry, ...load().filter((task) => task.id !== entry.id)]);
}

export function update(id, changes) {
  save(load().map((task) => (task.id === id ? { ...task, ...changes } : task)));
}

export function find(id) {
  return load().find((task) => task.id === id);
}

export function render(list, forgetAll) {
  const tasks = load();
  list.replaceChildren(...tasks.map((task) => item(task, () => render(list, forgetAll))));
  forgetAll.hidden = tasks.length === 0;
}

function item(task, changed) {
  const row = element("li");
  const link = element("a", "", task.name || task.id);
  link.href = `#task=${encodeURIComponent(task.id)}`;
  const status = element("span", `badge ${task.status || ""}`, task.status || "unknown");
  const when = element("time", "", new Date(task.created).toLocaleString());
  when.dateTime = new Date(task.created).toISOString();
  const forget = element("button", "link", "Forget");
  forget.type = "button";
  forget.setAttribute("aria-label", `Forget ${task.name || task.id}`);
  forget.addEventListener("click", () => {
    save(load().filter((other) => other.id !== task.id));
    changed();
  });
  row.append(link, " ", status, " ", when, " ", forget);
  return row;
}

export function forgetAll() {
  localStorage.removeItem(STORAGE);
}
