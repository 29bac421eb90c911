// VSION: the helpers every page script shares. An ES module: each page loads one entry module
// (<script type="module">), which imports this one. No inline script (CSP): the page hands its
// data over as body data- attributes.
//
// Labels: t(key, englishText, {name: value}). The server sends in <body data-labels> the
// labels of the page's module graph only, in the page's language (web/i18n.py reads the t() calls
// of the entry module and of every module it imports; the French texts live in
// translations/fr/LC_MESSAGES/messages.po). So the key and the English text of t() are plain
// double-quoted string literals.

/** JSON from the body's data-NAME attribute; `fallback` when it is missing or not JSON. */
export function readData(name, fallback) {
  try {
    const value = JSON.parse(document.body.dataset[name] || "null");
    return value === null ? fallback : value;
  } catch (e) {
    return fallback;
  }
}

const LABELS = readData("labels", {});

/** `text` with its {name} placeholders filled in from `values` (unknown names are left as they are). */
function fill(text, values) {
  return String(text).replace(/\{(\w+)\}/g, (m, name) => (values && name in values ? String(values[name]) : m));
}

/**
 * The label `key` in the page's language, {name} placeholders filled in from `values`; the
 * English text when the page did not get the label. Write both strings as literals: they are
 * extracted from the source (pybabel, and the server for the page's labels).
 */
export function t(key, english, values) {
  return fill(Object.prototype.hasOwnProperty.call(LABELS, key) ? LABELS[key] : english, values);
}

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** The CSRF token for state-changing requests (<meta name="csrf-token">, else body data-csrf). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return (meta && meta.content) || document.body.dataset.csrf || "";
}

/**
 * A JSON request: resolves {ok, status, data} or {ok: false, status, message, data}; never rejects.
 * The message is the server's own {"error"} when it sent one, else a sentence saying what to do.
 */
export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, credentials: "same-origin", headers };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    return { ok: false, status: 0, message: t("wc_offline", "The server cannot be reached: check the connection and try again.") };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (response.ok) return { ok: true, status: response.status, data };
  let message = data && (data.error || data.message);
  if (response.status === 401) message = t("wc_login_again", "Session expired: sign in again (reload the page).");
  else if (response.status === 400 && message && /csrf/i.test(message)) message = t("wc_csrf_expired", "This page is too old: reload it and try again.");
  else if (!message) message = t("wc_server_error", "server error ({status}); try again, and if it persists look at its log", { status: response.status });
  return { ok: false, status: response.status, message, data };
}

/** Create an element: el("button", {class: "x", type: "button", dataset: {step: 1}}, "text", child...). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([key, value]) => {
    if (value === null || value === undefined || value === false) return;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  });
  children.flat().forEach((child) => {
    if (child === null || child === undefined || child === false) return;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  });
  return node;
}

/** An SVG element with attributes. */
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  Object.entries(attrs || {}).forEach(([key, value]) => {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  });
  children.flat().forEach((child) => {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  });
  return node;
}

/** Seconds as m:ss.cc (or h:mm:ss.cc). */
export function clock(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), rest = s % 60;
  const ss = rest.toFixed(2).padStart(5, "0");
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + ss;
}

/** Seconds as a short duration (12,3 s / 2 min 05 s). */
export function duration(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s)) return "–";
  if (s < 60) return number(s, 1) + " s";
  return Math.floor(s / 60) + " min " + String(Math.round(s % 60)).padStart(2, "0") + " s";
}

const LANG = document.documentElement.lang || "fr";

/** A number with `digits` decimals in the page's language (decimal comma in French); "–" when missing. */
export function number(value, digits) {
  if (value === null || value === undefined || value === "" || !Number.isFinite(Number(value))) return "–";
  return Number(value).toLocaleString(LANG, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** An ISO date and time in the page's language ("" when missing); the Intl date and time styles. */
export function when(iso, dateStyle = "short", timeStyle = "short") {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleString(LANG, { dateStyle, timeStyle });
}

/** A 0-100 score as text ("–" when missing). */
export function scoreText(score) {
  return Number.isFinite(score) ? number(score, 0) : "–";
}

/** "good" / "fair" / "poor" for a 0-100 score, for colours (thresholds as the comparison's scale). */
export function scoreClass(score) {
  if (!Number.isFinite(score)) return "score-none";
  if (score >= 75) return "score-good";
  if (score >= 50) return "score-fair";
  return "score-poor";
}

/** The 2D context of `canvas` for a `w` x `h` CSS px box: its pixels sized to the screen's pixel
 *  ratio, drawing in CSS px, cleared. */
export function canvasContext(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

/** Show `message` in an alert element (hidden when empty). */
export function say(node, message, kind) {
  if (!node) return;
  node.textContent = message || "";
  node.hidden = !message;
  node.classList.toggle("error", kind !== "ok" && kind !== "info");
  node.classList.toggle("ok", kind === "ok");
}
