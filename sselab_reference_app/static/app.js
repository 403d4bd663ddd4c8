// sselab reference chat: the browser side of streaming done right.
//
// - POST /api/chat and read the body with fetch + ReadableStream (EventSource cannot POST);
// - decode with one streaming TextDecoder (a UTF-8 character cut between reads stays whole),
//   keep the partial last line until its line ending arrives, parse SSE per the WHATWG rules
//   (LF, CRLF or CR line endings; comments ignored);
// - append each token as it arrives; text is pre-wrapped and a ``` code block is shown as
//   code while it is still open;
// - Stop aborts the fetch (AbortController) and tells the server (POST /api/answers/ID/stop),
//   which closes the provider call at once. The partial answer stays, marked as stopped;
//   Regenerate asks again;
// - a connection that breaks, or ends without `done` or `error`, is resumed: the same request
//   again with Last-Event-ID (the id of the last event we have), after 0.25, 0.5, 1, 2, 4 s,
//   shown as "Reconnecting…"; an event we already have (its number in ANSWER:N at or below
//   ours) is skipped, so no token is lost or shown twice. After 5 failed attempts in a row the
//   answer is marked failed, its partial text kept;
// - an error event keeps the partial answer and shows why;
// - auto-scroll only when the reader is already at the bottom;
// - screen readers get one polite announcement per answer, not one per token.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const MODEL = params.get("model") || null;
  const SCENARIO = params.get("scenario") || null;
  const $ = (id) => document.getElementById(id);
  const ui = {
    form: $("composer"), prompt: $("prompt"), send: $("send"), stop: $("stop"),
    regenerate: $("regenerate"), messages: $("messages"), status: $("status"),
    announcer: $("announcer"), model: $("model"), empty: $("empty"),
  };

  const turns = []; // {prompt, text, state, view, answerId, lastId, seq}
  let current = null; // {controller, turn} while an answer streams
  const RETRY_DELAYS = [250, 500, 1000, 2000, 4000]; // ms before each reconnect, then give up

  // --- SSE -------------------------------------------------------------------------------
  function sseParser(onEvent) {
    let buffer = "";
    let skipLF = false; // the previous piece ended in CR: a leading LF belongs to it
    let data = [];
    let type = "";
    let lastId = ""; // the last event id, kept across events as the spec says
    function line(text) {
      if (text === "") {
        if (data.length) onEvent(type || "message", data.join("\n"), lastId);
        data = [];
        type = "";
      } else if (text[0] !== ":") {
        const colon = text.indexOf(":");
        const name = colon < 0 ? text : text.slice(0, colon);
        let value = colon < 0 ? "" : text.slice(colon + 1);
        if (value[0] === " ") value = value.slice(1);
        if (name === "data") data.push(value);
        else if (name === "event") type = value;
        else if (name === "id" && !value.includes("\0")) lastId = value;
      }
    }
    return function feed(text) {
      if (skipLF && text) {
        skipLF = false;
        if (text[0] === "\n") text = text.slice(1);
      }
      buffer += text;
      const eol = /\r\n|\r|\n/g;
      let start = 0;
      let m;
      while ((m = eol.exec(buffer)) !== null) {
        line(buffer.slice(start, m.index));
        start = eol.lastIndex;
        if (m[0] === "\r" && start === buffer.length) skipLF = true;
      }
      buffer = buffer.slice(start);
    };
  }

  // --- rendering -------------------------------------------------------------------------
  function renderText(container, text) {
    const parts = text.split("```"); // odd parts are code blocks; the last may be open
    while (container.childNodes.length > parts.length) container.lastChild.remove();
    parts.forEach((part, i) => {
      let node = container.childNodes[i];
      if (i % 2 === 0) {
        if (!node) node = container.appendChild(document.createElement("span"));
        if (node.textContent !== part) node.textContent = part;
        return;
      }
      if (!node) {
        node = container.appendChild(document.createElement("pre"));
        node.appendChild(document.createElement("code"));
      }
      const nl = part.indexOf("\n");
      const lang = (nl < 0 ? "" : part.slice(0, nl)).trim();
      const body = nl < 0 ? "" : part.slice(nl + 1);
      if (node.dataset.lang !== lang) node.dataset.lang = lang;
      const open = String(i === parts.length - 1);
      if (node.dataset.open !== open) node.dataset.open = open;
      if (node.firstChild.textContent !== body) node.firstChild.textContent = body;
    });
  }

  function atBottom() {
    const m = ui.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 24;
  }

  function update(fn) { // keep the reader at the bottom only if they were there
    const stick = atBottom();
    fn();
    if (stick) ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function announce(message) {
    ui.announcer.textContent = message;
  }

  function setStatus(text, kind) {
    ui.status.textContent = text;
    ui.status.dataset.kind = kind || "";
  }

  function setBusy(busy) {
    document.body.dataset.busy = String(busy);
    ui.send.disabled = busy;
    ui.stop.hidden = !busy;
    const last = turns[turns.length - 1];
    ui.regenerate.hidden = busy || !last || !["stopped", "failed"].includes(last.state);
  }

  function addView(className, testid) {
    if (ui.empty) { ui.empty.remove(); ui.empty = null; }
    const view = document.createElement("article");
    view.className = "msg " + className;
    view.setAttribute("data-testid", testid);
    ui.messages.appendChild(view);
    return view;
  }

  function addUserView(prompt) {
    update(() => {
      const view = addView("user", "user-message");
      view.textContent = prompt;
    });
  }

  function addAnswerView(turn) {
    update(() => {
      const view = addView("assistant", "answer");
      view.setAttribute("aria-busy", "true");
      view.dataset.state = "streaming";
      const text = document.createElement("div");
      text.className = "text";
      text.setAttribute("data-testid", "answer-text");
      const note = document.createElement("p");
      note.className = "note";
      note.setAttribute("data-testid", "answer-note");
      note.hidden = true;
      view.append(text, note);
      turn.view = view;
    });
  }

  function render(turn) {
    update(() => renderText(turn.view.querySelector(".text"), turn.text));
  }

  function end(turn, state, note, kind) {
    if (turn.state !== "streaming") return false;
    turn.state = state;
    const view = turn.view;
    view.dataset.state = state;
    view.removeAttribute("aria-busy");
    render(turn);
    if (note) {
      const p = view.querySelector(".note");
      p.textContent = note;
      p.dataset.kind = kind || "";
      if (state === "failed") p.setAttribute("data-testid", "answer-error");
      p.hidden = false;
    }
    return true;
  }

  function completed(turn) {
    if (end(turn, "completed")) {
      setStatus("");
      announce("Answer complete.");
    }
  }

  function stopped(turn) {
    if (end(turn, "stopped", "Stopped. The partial answer is kept.")) {
      setStatus("Stopped.", "stopped");
      announce("Stopped. The partial answer is kept.");
    }
  }

  function reconnecting(turn, attempt) {
    const first = turn.view.dataset.state !== "reconnecting";
    turn.view.dataset.state = "reconnecting";
    const note = turn.view.querySelector(".note");
    note.textContent = "Connection lost. Reconnecting…";
    note.dataset.kind = "reconnecting";
    note.hidden = false;
    setStatus("Reconnecting… (attempt " + attempt + " of " + RETRY_DELAYS.length + ")",
      "reconnecting");
    if (first) announce("Connection lost. Reconnecting.");
  }

  function reconnected(turn) {
    if (turn.view.dataset.state !== "reconnecting") return;
    turn.view.dataset.state = "streaming";
    turn.view.querySelector(".note").hidden = true;
    setStatus("Generating…", "busy");
    announce("Reconnected.");
  }

  function failed(turn, message, kind) {
    if (end(turn, "failed", "⚠ " + message, kind)) {
      setStatus("Error: " + message, "error");
      announce("Error: " + message + " The partial answer is kept.");
    }
  }

  // --- one answer ------------------------------------------------------------------------
  function history(turn) {
    const messages = [];
    for (const t of turns) {
      if (t === turn) break;
      messages.push({ role: "user", content: t.prompt });
      if (t.text) messages.push({ role: "assistant", content: t.text });
    }
    messages.push({ role: "user", content: turn.prompt });
    return messages;
  }

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }

  async function ask(turn) {
    const controller = new AbortController();
    Object.assign(turn, { text: "", state: "streaming", answerId: null, lastId: null, seq: -1 });
    addAnswerView(turn);
    current = { controller, turn };
    setBusy(true);
    setStatus("Generating…", "busy");
    announce("Generating an answer.");
    let failures = 0; // reconnects in a row that brought nothing new
    try {
      for (;;) {
        const broken = await readOnce(turn, controller.signal);
        if (!broken || turn.state !== "streaming") return;
        if (broken.progressed) failures = 0;
        if (!turn.lastId) { // nothing to resume from: the answer never started
          failed(turn, broken.message, "connection");
          return;
        }
        if (failures >= RETRY_DELAYS.length) {
          failed(turn, "The connection was lost and could not be restored after " + failures +
            " attempts.", "connection");
          return;
        }
        reconnecting(turn, failures + 1);
        await sleep(RETRY_DELAYS[failures], controller.signal);
        failures += 1;
        if (controller.signal.aborted) return; // Stop while waiting
      }
    } finally {
      if (current && current.turn === turn) current = null;
      setBusy(false);
    }
  }

  // One request: the question, or (with turn.lastId) a resume. Returns null when the answer
  // has ended (done, error, stopped), else {message, progressed} for a broken connection.
  async function readOnce(turn, signal) {
    let ended = false;
    let progressed = false;
    const onEvent = (type, data, id) => {
      const n = Number(id.slice(id.lastIndexOf(":") + 1));
      if (id && Number.isInteger(n)) {
        if (n <= turn.seq) return; // had it already: nothing twice
        turn.seq = n;
        turn.lastId = id;
      }
      let payload;
      try { payload = JSON.parse(data); } catch { return; }
      progressed = true;
      if (type === "start") {
        turn.answerId = payload.answer_id;
        turn.view.dataset.answerId = payload.answer_id;
      } else if (type === "token" && typeof payload.text === "string") {
        turn.text += payload.text;
      } else if (type === "done") {
        ended = true;
        completed(turn);
      } else if (type === "error") {
        ended = true;
        failed(turn, payload.message || "The answer failed.", payload.kind);
      }
    };
    const headers = { "Content-Type": "application/json", "Accept": "text/event-stream" };
    if (SCENARIO) headers["X-Sselab-Scenario"] = SCENARIO;
    if (turn.lastId) headers["Last-Event-ID"] = turn.lastId;
    const body = { messages: history(turn) };
    if (MODEL) body.model = MODEL;
    try {
      const res = await fetch("/api/chat", {
        method: "POST", headers, body: JSON.stringify(body), signal,
      });
      if (turn.lastId && res.status >= 500) {
        return { message: "The server answered HTTP " + res.status + ".", progressed };
      }
      if (!res.ok || !res.body) {
        let message = "The server answered HTTP " + res.status + ".";
        try { message = (await res.json()).error.message || message; } catch { /* not JSON */ }
        failed(turn, message, "http");
        return null;
      }
      turn.answerId = turn.answerId || res.headers.get("X-Answer-Id");
      reconnected(turn);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const feed = sseParser(onEvent);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        feed(decoder.decode(value, { stream: true }));
        if (turn.state === "streaming") render(turn);
      }
      feed(decoder.decode());
      return ended ? null
        : { message: "The connection closed before the answer finished.", progressed };
    } catch (err) {
      if (err && err.name === "AbortError") {
        stopped(turn);
        return null;
      }
      return { message: "The connection was lost (" + (err && err.message || err) + ").",
        progressed };
    }
  }

  // --- controls --------------------------------------------------------------------------
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const prompt = ui.prompt.value.trim();
    if (!prompt || current) return;
    ui.prompt.value = "";
    const turn = { prompt };
    turns.push(turn);
    addUserView(prompt);
    ask(turn);
  });

  ui.prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });

  ui.stop.addEventListener("click", () => {
    if (!current) return;
    const { turn, controller } = current;
    stopped(turn); // show it at once; the aborted read (or wait) ends the loop
    controller.abort();
    if (turn.answerId) { // also while reconnecting: there is no connection to drop then
      fetch("/api/answers/" + encodeURIComponent(turn.answerId) + "/stop",
        { method: "POST", keepalive: true }).catch(() => { /* the grace stops it anyway */ });
    }
  });

  ui.regenerate.addEventListener("click", () => {
    const turn = turns[turns.length - 1];
    if (!turn || current || !["stopped", "failed"].includes(turn.state)) return;
    turn.view.remove();
    ask(turn);
  });

  ui.model.textContent = MODEL || "default";
  if (!MODEL) {
    fetch("/api/config").then((r) => r.json()).then((c) => {
      ui.model.textContent = c.model + " (default)";
    }).catch(() => { /* keep "default" */ });
  }
  setBusy(false);
})();
