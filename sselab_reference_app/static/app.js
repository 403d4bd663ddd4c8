// sselab reference chat: the browser side of streaming done right.
//
// - POST /api/chat and read the body with fetch + ReadableStream (EventSource cannot POST);
// - decode with one streaming TextDecoder (a UTF-8 character cut between reads stays whole),
//   keep the partial last line until its line ending arrives, parse SSE per the WHATWG rules
//   (LF, CRLF or CR line endings; comments ignored);
// - append each token as it arrives; text is pre-wrapped and a ``` code block is shown as
//   code while it is still open;
// - Stop aborts the fetch (AbortController): the server sees the disconnect and closes the
//   provider call. The partial answer stays, marked as stopped; Regenerate asks again;
// - an error event, or a stream that breaks or ends without `done`, keeps the partial answer
//   and shows why;
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

  const turns = []; // {prompt, text, state, view, answerId}
  let current = null; // {controller, turn} while an answer streams

  // --- SSE -------------------------------------------------------------------------------
  function sseParser(onEvent) {
    let buffer = "";
    let skipLF = false; // the previous piece ended in CR: a leading LF belongs to it
    let data = [];
    let type = "";
    function line(text) {
      if (text === "") {
        if (data.length) onEvent(type || "message", data.join("\n"));
        data = [];
        type = "";
      } else if (text[0] !== ":") {
        const colon = text.indexOf(":");
        const name = colon < 0 ? text : text.slice(0, colon);
        let value = colon < 0 ? "" : text.slice(colon + 1);
        if (value[0] === " ") value = value.slice(1);
        if (name === "data") data.push(value);
        else if (name === "event") type = value;
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

  async function ask(turn) {
    const controller = new AbortController();
    Object.assign(turn, { text: "", state: "streaming", answerId: null });
    addAnswerView(turn);
    current = { controller, turn };
    setBusy(true);
    setStatus("Generating…", "busy");
    announce("Generating an answer.");
    let ended = false;
    const onEvent = (type, data) => {
      let payload;
      try { payload = JSON.parse(data); } catch { return; }
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
    const body = { messages: history(turn) };
    if (MODEL) body.model = MODEL;
    try {
      const res = await fetch("/api/chat", {
        method: "POST", headers, body: JSON.stringify(body), signal: controller.signal,
      });
      if (!res.ok || !res.body) {
        let message = "The server answered HTTP " + res.status + ".";
        try { message = (await res.json()).error.message || message; } catch { /* not JSON */ }
        failed(turn, message, "http");
        return;
      }
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
      if (!ended) failed(turn, "The connection closed before the answer finished.", "connection");
    } catch (err) {
      if (err && err.name === "AbortError") stopped(turn);
      else failed(turn, "The connection was lost (" + (err && err.message || err) + ").",
        "connection");
    } finally {
      if (current && current.turn === turn) current = null;
      setBusy(false);
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
    stopped(current.turn); // show it at once; the aborted read ends the loop
    current.controller.abort();
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
