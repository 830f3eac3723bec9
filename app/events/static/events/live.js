// The live events page (/events/): one EventSource for the page's whole life. When its stream
// ends or breaks, the browser reconnects by itself after the `retry` the server sent, with the
// last id it saw as Last-Event-ID, and the server replays what it missed. Nothing here
// reconnects. A `reset` means the server could not resume there: a real page reloads its data.
"use strict";

const source = new EventSource("/api/events");
const state = document.getElementById("state");
const opens = document.getElementById("opens");
const resets = document.getElementById("resets");
const list = document.getElementById("events");
const shown = Number(list.dataset.shown);

function increment(output) {
  output.value = String(Number(output.value) + 1);
}

source.addEventListener("open", () => {
  increment(opens);
  state.textContent = "open";
});

source.addEventListener("error", () => {
  state.textContent = source.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
});

function show(event) {
  const data = JSON.parse(event.data);
  const item = document.createElement("li");
  item.textContent = `${event.lastEventId} ${data.type} ${data.item ? data.item.name : ""}`.trim();
  list.append(item);
  while (list.children.length > shown) {
    list.firstElementChild.remove();
  }
}

for (const type of ["item.created", "item.updated", "item.deleted", "items.truncated"]) {
  source.addEventListener(type, show);
}

source.addEventListener("reset", () => increment(resets));
