// sselab demo lab: the reference chat in a frame, with the scenario, the path between the app
// and the browser, and the app variant chosen here; and, live, the simulator's writes against
// this browser's arrivals (POST /_lab/answer draws them with the check report's code).
//
// The chat page is the reference app's own, untouched. The lab wraps the frame's fetch so that
// the app's request goes over the chosen path (/_lab/via/{path}/{variant}/api/chat) and each
// read of its answer is timed here, as it arrives.
import { $, announcer, el, ms, putSVG } from "./common.js";

const POLL = 300; // ms between two refreshes of the picture while something moves
const POLL_FOR = 120000; // ms after the request at most
const ui = {
  scenario: $("scenario"), scenarioHelp: $("scenario-help"), notice: $("notice"),
  paths: $("paths"), pathHelp: $("path-help"), variant: $("variant"),
  variantHelp: $("variant-help"), chat: $("chat"), figures: $("figures"), picture: $("picture"),
  legend: $("legend"), liveEmpty: $("live-empty"), stopFigure: $("stop-figure"),
};
const announce = announcer($("announcer"));
let options = null;
let answer = null; // the answer being measured
let pollTimer = null;

const wallNow = () => (performance.timeOrigin + performance.now()) / 1000;

// --- choices -----------------------------------------------------------------------------
function chosenPath() {
  const checked = ui.paths.querySelector("input:checked");
  return checked ? checked.value : "direct";
}

function describe(list, value, help) {
  const item = list.find((x) => x.name === value);
  help.textContent = item ? item.description : "";
}

function remember() { // the choices live in the address, so that a reload keeps them
  const q = new URLSearchParams({ scenario: ui.scenario.value, path: chosenPath(),
    variant: ui.variant.value });
  history.replaceState(null, "", "?" + q.toString());
}

function loadChat() {
  document.body.dataset.ready = "false";
  ui.chat.src = "/chat/?model=" + encodeURIComponent(ui.scenario.value);
}

function build(opts, query) {
  for (const s of opts.scenarios) {
    ui.scenario.append(el("option", { value: s.name, text: s.name + " — " + s.description }));
  }
  opts.paths.forEach((p, i) => {
    const id = "path-" + p.name;
    const input = el("input", { type: "radio", name: "path", id, value: p.name,
      checked: i === 0, "aria-describedby": "path-help" });
    ui.paths.append(el("label", { for: id }, input, p.label));
    input.addEventListener("change", () => {
      describe(opts.paths, chosenPath(), ui.pathHelp);
      remember();
      announce("Path: " + p.label + ". It applies to the next question.");
    });
  });
  for (const v of opts.variants) {
    ui.variant.append(el("option", { value: v.name, text: v.label }));
  }
  const names = opts.scenarios.map((s) => s.name);
  const wanted = query.get("scenario");
  ui.scenario.value = opts.default;
  if (wanted && names.includes(wanted)) {
    ui.scenario.value = wanted;
  } else if (wanted) {
    ui.notice.textContent = "Unknown scenario “" + wanted + "”: the simulator would quietly "
      + "answer a model it does not know with its default scenario. Showing “"
      + opts.default + "” instead; choose one from the list.";
    ui.notice.hidden = false;
  }
  const path = query.get("path");
  if (path && opts.paths.some((p) => p.name === path)) $("path-" + path).checked = true;
  const variant = query.get("variant");
  if (variant && opts.variants.some((v) => v.name === variant)) ui.variant.value = variant;
  describe(opts.scenarios, ui.scenario.value, ui.scenarioHelp);
  describe(opts.paths, chosenPath(), ui.pathHelp);
  describe(opts.variants, ui.variant.value, ui.variantHelp);
  $("ui-link").href = opts.simulator + "/_sselab/ui";
  ui.scenario.addEventListener("change", () => {
    ui.notice.hidden = true;
    describe(opts.scenarios, ui.scenario.value, ui.scenarioHelp);
    remember();
    loadChat();
    announce("Scenario " + ui.scenario.value + ". The chat starts afresh.");
  });
  ui.variant.addEventListener("change", () => {
    describe(opts.variants, ui.variant.value, ui.variantHelp);
    remember();
    announce("App variant: " + ui.variant.selectedOptions[0].text
      + ". It applies to the next question.");
  });
}

// --- measuring the chat's own request ------------------------------------------------------
function tap(win) {
  const original = win.fetch.bind(win);
  win.fetch = async function (input, init) {
    const url = typeof input === "string" ? input : input.url;
    const path = new URL(url, win.location.href).pathname;
    if (!path.startsWith("/api/")) return original(input, init);
    // every app call goes to the chosen variant over the chosen path: Stop's
    // POST /api/answers/ID/stop must reach the app that holds the answer
    const route = "/_lab/via/" + chosenPath() + "/" + ui.variant.value + path;
    if (path !== "/api/chat") return original(route, init);
    const measured = start();
    if (init && init.signal) {
      init.signal.addEventListener("abort", () => {
        if (measured.stopped === null) measured.stopped = wallNow() - measured.startedAt;
        refresh();
      });
    }
    let res;
    try {
      res = await original(route, init);
    } catch (err) {
      measured.ended = wallNow() - measured.startedAt;
      throw err;
    }
    if (!res.body) return res;
    const [mine, theirs] = res.body.tee();
    read(mine, measured);
    return new Response(theirs, { status: res.status, statusText: res.statusText,
      headers: res.headers });
  };
}

function start() {
  answer = { startedAt: wallNow(), arrivals: [], stopped: null, ended: null, upstream: null,
    said: false, saidStop: false };
  ui.liveEmpty.hidden = true;
  ui.figures.hidden = false;
  ui.legend.hidden = false;
  ui.stopFigure.hidden = true;
  poll();
  return answer;
}

async function read(stream, measured) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const at = wallNow() - measured.startedAt;
      text += decoder.decode(value, { stream: true });
      const events = text.split(/\r?\n\r?\n/);
      text = events.pop();
      const tokens = events.filter((e) => /^event: token$/m.test(e)).length;
      measured.arrivals.push([at, value.byteLength, tokens]);
    }
  } catch { /* Stop, or the path cut the stream: the chat says which */ }
  measured.ended = wallNow() - measured.startedAt;
  refresh();
}

// --- the live picture and figures ----------------------------------------------------------
function poll() {
  if (pollTimer) return;
  pollTimer = setTimeout(async () => {
    pollTimer = null;
    const current = answer;
    await refresh();
    const upstreamRunning = current.upstream === null
      || current.upstream.outcome === "in_progress";
    const fresh = (wallNow() - current.startedAt) * 1000 < POLL_FOR;
    if (current === answer && fresh && (current.ended === null || upstreamRunning)) poll();
  }, POLL);
}

async function refresh() {
  const current = answer;
  if (!current) return;
  let view;
  try {
    const res = await fetch("/_lab/answer", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ started_at: current.startedAt, arrivals: current.arrivals,
        stopped: current.stopped, ended: current.ended,
        width: Math.round(ui.picture.clientWidth) || 920 }),
    });
    if (!res.ok) return;
    view = await res.json();
  } catch { return; }
  if (current !== answer) return;
  current.upstream = view.upstream;
  putSVG(ui.picture, view.svg);
  const f = view.figures;
  $("f-ttft").textContent = ms(f.browser_ttft_ms);
  $("f-up-ttft").textContent = ms(f.upstream_ttft_ms);
  $("f-arrivals").textContent = f.arrivals + (f.arrivals ? " (" + f.arrivals_with_text
    + " with text)" : "");
  $("f-writes").textContent = f.upstream_writes === null ? "—" : f.upstream_writes
    + (f.upstream_tokens !== null ? " (" + f.upstream_tokens + " tokens)" : "");
  $("f-ratio").textContent = f.relay_ratio === null ? "—" : f.relay_ratio.toFixed(2);
  $("f-ratio").parentElement.className = "figure" + (f.relay_ratio === null ? ""
    : f.relay_ratio < 0.5 ? " bad" : " good");
  $("f-outcome").textContent = f.upstream_outcome ? f.upstream_outcome.replaceAll("_", " ")
    : "—";
  if (f.stop) {
    ui.stopFigure.hidden = false;
    $("f-stop").textContent = f.stop;
    if (!current.saidStop && !/still open/.test(f.stop)) {
      current.saidStop = true;
      announce(f.stop + ".");
    }
  }
  const settled = current.ended !== null && f.upstream_outcome
    && f.upstream_outcome !== "in_progress";
  if (settled && !current.said && current.stopped === null) {
    current.said = true;
    announce("Answer over: " + f.arrivals + " arrivals in the browser for "
      + (f.upstream_tokens ?? "?") + " upstream tokens; TTFT " + ms(f.browser_ttft_ms) + ".");
  }
}

// --- start -------------------------------------------------------------------------------
ui.chat.addEventListener("load", () => {
  try {
    tap(ui.chat.contentWindow);
    document.body.dataset.ready = "true";
  } catch (err) {
    ui.notice.textContent = "The lab cannot watch the chat: " + err.message;
    ui.notice.hidden = false;
  }
});

fetch("/_lab/options").then((r) => r.json()).then((opts) => {
  options = opts;
  build(opts, new URLSearchParams(location.search));
  loadChat();
}).catch((err) => {
  ui.notice.textContent = "The lab could not load its options: " + err.message;
  ui.notice.hidden = false;
});
