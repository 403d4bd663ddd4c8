// /_sselab/ui: the simulator's requests as they happen (fed by GET /_sselab/events), and the
// selected one's timeline picture (GET /_sselab/requests/{id}/timeline.svg, drawn by the same
// code as sselab check's report) and byte log (GET /_sselab/requests/{id}/bytes).
import { $, announcer, bytes, el, ms, postJSON, showSVG } from "./common.js";

const OUTCOMES = ["in_progress", "completed", "client_disconnected", "fault_closed",
  "fault_reset", "error_event", "http_error", "server_shutdown", "rejected"];
const MAX_ROWS = 500;
const MAX_PIECES = 3000;

const ui = {
  rows: document.querySelector("#requests tbody"), empty: $("empty"), count: $("count"),
  scenario: $("filter-scenario"), outcome: $("filter-outcome"), clear: $("clear"),
  connection: $("connection"), detailEmpty: $("detail-empty"), picture: $("picture"),
  legend: $("legend"), facts: $("facts"), bytesTitle: $("bytes-title"), bytes: $("bytes"),
  bytesNote: $("bytes-note"), detail: $("detail"),
};
const announce = announcer($("announcer"));
const records = new Map(); // id -> summary, in arrival order
let selected = null;
let refreshing = null; // a pending refresh of the selected request's detail

$("base-url").textContent = location.origin + "/v1";
for (const outcome of OUTCOMES) {
  ui.outcome.append(el("option", { value: outcome, text: outcome.replaceAll("_", " ") }));
}

function addScenarioOption(name) {
  if (!name || [...ui.scenario.options].some((o) => o.value === name)) return;
  ui.scenario.append(el("option", { value: name, text: name }));
}

fetch("/_sselab/scenarios").then((r) => r.json()).then((data) => {
  for (const s of data.scenarios) addScenarioOption(s.name);
}).catch(() => { /* scenarios seen in requests still appear */ });

// --- the list ----------------------------------------------------------------------------
function visible(rec) {
  return (!ui.scenario.value || rec.scenario === ui.scenario.value)
    && (!ui.outcome.value || rec.outcome === ui.outcome.value);
}

function row(rec) {
  const select = el("button", {
    type: "button", class: "pick", "aria-pressed": String(rec.id === selected),
    "aria-label": "Show the timeline of " + rec.id, text: rec.id,
  });
  select.addEventListener("click", () => choose(rec.id));
  const took = rec.duration_ms ?? (rec.outcome === "in_progress" ? null : undefined);
  return el("tr", { dataset: { id: rec.id, outcome: rec.outcome }, class: "row",
    "data-testid": "request-row", "aria-current": rec.id === selected ? "true" : null },
  el("td", {}, select),
  el("td", {}, rec.scenario || "—", el("span", { class: "format", text: rec.format || "" })),
  el("td", {}, el("span", { class: "outcome " + rec.outcome, "data-testid": "outcome",
    text: rec.outcome.replaceAll("_", " ") })),
  el("td", { class: "num", text: ms(rec.ttft_ms) }),
  el("td", { class: "num", text: bytes(rec.bytes_written) }),
  el("td", { class: "num", text: String(rec.write_count) }),
  el("td", { class: "num", text: took === null ? "running" : ms(took) }));
}

let drawPending = false;
function draw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    const focused = document.activeElement && document.activeElement.closest("tr")
      ? document.activeElement.closest("tr").dataset.id : null;
    const shown = [...records.values()].filter(visible).reverse().slice(0, MAX_ROWS);
    ui.rows.replaceChildren(...shown.map(row));
    ui.empty.hidden = records.size > 0;
    ui.count.textContent = shown.length === records.size ? records.size + " requests"
      : shown.length + " of " + records.size + " requests";
    if (focused) {
      const button = ui.rows.querySelector(`tr[data-id="${focused}"] button`);
      if (button) button.focus();
    }
  });
}

function upsert(rec, fresh) {
  const before = records.get(rec.id);
  records.set(rec.id, rec);
  addScenarioOption(rec.scenario);
  if (fresh && before && before.outcome === "in_progress" && rec.outcome !== "in_progress") {
    announce(rec.id + " " + rec.outcome.replaceAll("_", " ") + " (" + (rec.scenario || "-") + ")");
  } else if (fresh && !before) {
    announce(rec.id + " started (" + (rec.scenario || rec.path) + ")");
  }
  if (rec.id === selected) refreshSoon();
}

// --- the live feed -----------------------------------------------------------------------
function connect() {
  const source = new EventSource("/_sselab/events");
  source.addEventListener("open", () => {
    ui.connection.textContent = "live";
    ui.connection.dataset.state = "live";
  });
  source.addEventListener("error", () => {
    ui.connection.textContent = "reconnecting…";
    ui.connection.dataset.state = "reconnecting";
  });
  source.addEventListener("snapshot", (event) => {
    records.clear();
    for (const rec of JSON.parse(event.data).requests) upsert(rec, false);
    draw();
  });
  source.addEventListener("update", (event) => {
    for (const rec of JSON.parse(event.data).requests) upsert(rec, true);
    draw();
  });
  source.addEventListener("reset", () => {
    records.clear();
    forget();
    draw();
    announce("The timeline was cleared.");
  });
}

// --- the selected request ----------------------------------------------------------------
function forget() {
  selected = null;
  ui.picture.replaceChildren();
  ui.facts.replaceChildren();
  ui.bytes.replaceChildren();
  for (const node of [ui.legend, ui.bytesTitle, ui.bytes, ui.bytesNote]) node.hidden = true;
  ui.detailEmpty.hidden = false;
}

function choose(id) {
  selected = id;
  draw();
  refresh().then(() => {
    const rec = records.get(id);
    if (rec) announce("Showing " + id + ": " + rec.outcome.replaceAll("_", " ") + ".");
  });
}

function refreshSoon() {
  if (refreshing) return;
  refreshing = setTimeout(() => { refreshing = null; refresh(); }, 400);
}

function fact(name, value) {
  return [el("dt", { text: name }), el("dd", { text: value })];
}

async function refresh() {
  const id = selected;
  if (!id) return;
  const [drawn, res] = await Promise.all([
    showSVG(ui.picture, `/_sselab/requests/${id}/timeline.svg?width=`
      + Math.max(400, Math.round(ui.picture.clientWidth || 920))),
    fetch(`/_sselab/requests/${id}/bytes`, { cache: "no-store" }),
  ]);
  if (id !== selected) return;
  if (!drawn || !res.ok) {
    ui.picture.replaceChildren(el("p", { class: "note", text: id + " is no longer recorded." }));
    return;
  }
  const log = await res.json();
  const rec = log.request;
  ui.detailEmpty.hidden = true;
  ui.legend.hidden = false;
  ui.facts.replaceChildren(
    ...fact("request", rec.id + " " + rec.method + " " + rec.path),
    ...fact("scenario", (rec.scenario || "—") + (log.description ? ": " + log.description : "")),
    ...fact("format", rec.format || "—"),
    ...fact("outcome", rec.outcome.replaceAll("_", " ") + (rec.status ? " (HTTP " + rec.status
      + ")" : "") + (rec.error ? ": " + rec.error : "")),
    ...fact("faults", log.faults.length ? log.faults.join("; ") : "none"),
    ...fact("TTFT", ms(rec.ttft_ms)),
    ...fact("duration", rec.duration_ms === null ? "still running" : ms(rec.duration_ms)),
    ...fact("written", bytes(rec.bytes_written) + " in " + rec.write_count + " writes"),
    ...fact("waited for the reader", ms(rec.drain_wait_ms)));
  showBytes(log);
}

function showBytes(log) {
  ui.bytesTitle.hidden = false;
  ui.bytes.hidden = log.pieces.length === 0;
  const notes = [];
  const splits = log.pieces.filter((p) => p.split).length;
  if (log.pieces.length) {
    notes.push(log.pieces.length + " writes" + (splits ? ", " + splits
      + " split points (orange bars) where a write ends inside an event; grey bars: the "
      + "other write boundaries" : ""));
  }
  if (log.pieces.length > MAX_PIECES) notes.push("showing the first " + MAX_PIECES);
  if (log.note) notes.push(log.note);
  ui.bytesNote.textContent = notes.join("; ") + ".";
  ui.bytesNote.hidden = notes.length === 0;
  const nodes = [];
  log.pieces.slice(0, MAX_PIECES).forEach((p, i) => {
    if (i > 0) {
      const prev = log.pieces[i - 1];
      nodes.push(prev.split ? el("mark", { class: "split", title: "split point: the write "
        + "ended inside this event" }) : el("span", { class: "cut", "aria-hidden": "true" }));
    }
    nodes.push(el("span", { class: "piece " + p.kind, title: "write " + (i + 1) + " at "
      + p.at_ms.toFixed(1) + " ms, " + p.bytes + " B" + (p.kind === "keepalive"
      ? " (keep-alive)" : ""), text: p.text }));
  });
  ui.bytes.replaceChildren(...nodes);
}

// --- controls ----------------------------------------------------------------------------
ui.scenario.addEventListener("change", draw);
ui.outcome.addEventListener("change", draw);
ui.clear.addEventListener("click", async () => {
  try {
    await postJSON("/_sselab/reset");
    records.clear();
    forget();
    draw();
    announce("The timeline was cleared.");
  } catch (err) {
    announce("Could not clear: " + err.message);
  }
});
// Up and Down move between the requests' buttons
ui.rows.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const buttons = [...ui.rows.querySelectorAll("button.pick")];
  const i = buttons.indexOf(document.activeElement);
  if (i < 0) return;
  event.preventDefault();
  const next = buttons[i + (event.key === "ArrowDown" ? 1 : -1)];
  if (next) next.focus();
});

forget();
draw();
connect();
