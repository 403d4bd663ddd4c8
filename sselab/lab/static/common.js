// Helpers shared by the lab's two pages (/_sselab/ui and sselab demo). Plain ES module.

export const $ = (id) => document.getElementById(id);

// An element with attributes and children (strings become text nodes).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  return node;
}

export function ms(value) {
  if (value === null || value === undefined) return "—";
  if (value >= 10000) return (value / 1000).toFixed(1) + " s";
  return Math.round(value) + " ms";
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  if (n >= 1048576) return (n / 1048576).toFixed(1) + " MiB";
  if (n >= 10240) return (n / 1024).toFixed(1) + " KiB";
  return n.toLocaleString("en") + " B";
}

// Polite announcements: at most one every `gap` ms; a newer message replaces a pending one.
export function announcer(node, gap = 1500) {
  let last = 0;
  let pending = null;
  let timer = null;
  function flush() {
    timer = null;
    if (pending !== null) {
      node.textContent = pending;
      pending = null;
      last = Date.now();
    }
  }
  return function announce(message) {
    pending = message;
    const wait = last + gap - Date.now();
    if (wait <= 0) flush();
    else if (!timer) timer = setTimeout(flush, wait);
  };
}

// POST JSON (the control API accepts state changes only with a JSON content type).
export async function postJSON(url, body = {}) {
  const res = await fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(url + " answered HTTP " + res.status);
  return res.json();
}

// Fetch an SVG picture made by the server and put it in `container` (same origin: its markup
// is the server's own renderer, sselab/timeline/svg.py).
export async function showSVG(container, url) {
  const res = await fetch(url, { cache: "no-store" });
  return res.ok && putSVG(container, await res.text());
}

export function putSVG(container, text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = doc.documentElement;
  if (!svg || svg.nodeName !== "svg") return false;
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  container.replaceChildren(document.importNode(svg, true));
  return true;
}
