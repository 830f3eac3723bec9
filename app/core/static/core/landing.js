// The landing page's live panel: the items (the first page of GET /api/items), kept current by
// one EventSource on /api/events (docs/events.md), and a form that creates an item.
//
// - The stream opens first, then the list is read: an event that arrives meanwhile is applied
//   either way (items are keyed by id), so nothing created while the page loads is missed.
// - The browser reconnects the stream by itself and resumes after the last id it saw; on a
//   `reset` (the server could not resume there) the page reads the list again.
// - Text from the API goes into the page as text (textContent), never as HTML.
// - The form writes with the visitor's credential: a pasted API token (Authorization: Bearer,
//   kept in this page's memory only) or, without one, the session cookie with the CSRF token
//   the page was rendered with (X-CSRFToken), as Django's CSRF check wants of a session write.
"use strict";

const list = document.getElementById("items");
const count = document.getElementById("item-count");
const more = document.getElementById("items-more");
const events = document.getElementById("events");
const state = document.getElementById("stream-state");
const example = document.getElementById("item-example");
const form = document.getElementById("create-item");
const result = document.getElementById("create-result");
const itemsShown = Number(list.dataset.shown);
const eventsShown = Number(events.dataset.shown);
const rows = new Map(); // item id: its <li>

function describe(item) {
  return item.description ? `${item.name}: ${item.description}` : item.name;
}

function show(item) {
  let row = rows.get(item.id);
  if (!row) {
    row = document.createElement("li");
    const link = document.createElement("a");
    link.href = `/api/items/${item.id}`;
    link.textContent = `#${item.id}`;
    row.append(link, document.createTextNode(" "), document.createElement("span"));
    rows.set(item.id, row);
    // In id order, as the API lists them.
    const after = [...rows.keys()].filter((id) => id > item.id).sort((a, b) => a - b)[0];
    list.insertBefore(row, after === undefined ? null : rows.get(after));
    while (rows.size > itemsShown) {
      forget(Math.min(...rows.keys()));
    }
  }
  row.lastElementChild.textContent = describe(item);
  changed();
}

function forget(id) {
  const row = rows.get(id);
  if (row) {
    row.remove();
    rows.delete(id);
  }
}

function changed() {
  count.textContent = String(rows.size);
  const first = Math.min(...rows.keys());
  example.replaceChildren();
  if (rows.size) {
    const link = document.createElement("a");
    link.href = `/api/items/${first}`;
    link.textContent = `e.g. /api/items/${first}`;
    example.append(link);
  } else {
    example.textContent = "(once an item exists, an example is linked here)";
  }
}

async function load() {
  const response = await fetch(`/api/items?limit=${itemsShown}`);
  if (!response.ok) {
    throw new Error(`GET /api/items: ${response.status}`);
  }
  const page = await response.json();
  page.items.forEach(show);
  more.hidden = page.next === null;
  changed();
}

function log(event, data) {
  const entry = document.createElement("li");
  const name = data.item ? data.item.name : "";
  entry.textContent = `${event.lastEventId} ${data.type} ${name}`.trim();
  events.append(entry);
  while (events.children.length > eventsShown) {
    events.firstElementChild.remove();
  }
}

const source = new EventSource("/api/events");
source.addEventListener("open", () => {
  state.textContent = "open";
});
source.addEventListener("error", () => {
  state.textContent = source.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
});
source.addEventListener("item.created", (event) => {
  const data = JSON.parse(event.data);
  log(event, data);
  show(data.item);
});
source.addEventListener("item.updated", (event) => {
  const data = JSON.parse(event.data);
  log(event, data);
  if (rows.has(data.item.id)) {
    show(data.item);
  }
});
source.addEventListener("item.deleted", (event) => {
  const data = JSON.parse(event.data);
  log(event, data);
  forget(data.item.id);
  changed();
});
source.addEventListener("items.truncated", (event) => {
  log(event, JSON.parse(event.data));
  [...rows.keys()].forEach(forget);
  changed();
});
source.addEventListener("reset", () => {
  [...rows.keys()].forEach(forget);
  load().catch((error) => {
    state.textContent = error.message;
  });
});

load().catch((error) => {
  state.textContent = error.message;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const fields = new FormData(form);
  const headers = { "Content-Type": "application/json" };
  const token = String(fields.get("token") || "").trim();
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  } else {
    headers["X-CSRFToken"] = String(fields.get("csrfmiddlewaretoken"));
  }
  const body = { name: fields.get("name"), description: fields.get("description") };
  result.textContent = "creating…";
  const response = await fetch("/api/items", {
    method: "POST",
    headers,
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  const answer = await response.json();
  if (response.status === 201) {
    result.textContent = `Created item #${answer.id}; the stream shows it.`;
    form.elements.name.value = "";
    form.elements.description.value = "";
  } else {
    // A problem document (RFC 9457): say what was wrong.
    const errors = (answer.errors || []).map((e) => `${e.pointer || e.parameter}: ${e.detail}`);
    result.textContent = [`${answer.status} ${answer.title}: ${answer.detail}`, ...errors].join(" ");
  }
});
