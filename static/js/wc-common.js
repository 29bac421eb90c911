// VSION work cards: helpers shared by the work card pages (workcards.js, workcard.js, take.js,
// replay.js). An ES module; no inline script (CSP): pages hand their data over as data- attributes.

/** The page's labels (body data-labels, in the page's language). */
export const labels = (() => {
  try {
    return JSON.parse(document.body.dataset.labels || "{}");
  } catch (e) {
    return {};
  }
})();

/** A label with {name} placeholders filled in; the key itself when the label is missing. */
export function L(key, values) {
  return (labels[key] || key).replace(/\{(\w+)\}/g, (m, name) => (values && name in values ? values[name] : m));
}

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
    return { ok: false, status: 0, message: labels.wc_offline || "offline" };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (e) {
    data = null;
  }
  if (response.ok) return { ok: true, status: response.status, data };
  let message = data && (data.error || data.message);
  if (response.status === 401) message = labels.wc_login_again;
  else if (response.status === 400 && message && /csrf/i.test(message)) message = labels.wc_csrf_expired;
  else if (!message) message = L("wc_server_error", { status: response.status });
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

/** A number in the page's language (decimal comma in French). */
export function number(value, digits) {
  if (!Number.isFinite(Number(value))) return "–";
  return Number(value).toLocaleString(LANG, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** An ISO date and time, short, in the page's language ("" when missing). */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleString(LANG, { dateStyle: "short", timeStyle: "short" });
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

/** A processing stage as the user reads it (the live page's job_stage_* labels, then the work cards' own). */
export function stageLabel(stage) {
  const key = String(stage || "").toLowerCase().replace(/[^a-z0-9]+/g, "_");
  return labels["job_stage_" + key] || labels["wc_stage_" + key] || String(stage || "");
}

/** Show `message` in an alert element (hidden when empty). */
export function say(node, message, kind) {
  if (!node) return;
  node.textContent = message || "";
  node.hidden = !message;
  node.classList.toggle("error", kind !== "ok" && kind !== "info");
  node.classList.toggle("ok", kind === "ok");
}

/** The status shown on a card: published, draft, or a published card being revised. */
export function statusOf(card) {
  if (card.status === "published") return { key: "published", text: labels.wc_status_published };
  if (Number(card.version) > 0) return { key: "revising", text: labels.wc_status_revising };
  return { key: "draft", text: labels.wc_status_draft };
}

/** Tags typed as "a, b; c": trimmed, de-duplicated, at most 20 of at most 40 characters. */
export function parseTags(text) {
  const tags = [];
  String(text || "").split(/[,;]/).map((s) => s.trim()).filter(Boolean).forEach((tag) => {
    if (!tags.includes(tag)) tags.push(tag);
  });
  if (tags.length > 20) return { error: labels.wc_too_many_tags };
  const long = tags.find((tag) => tag.length > 40);
  if (long) return { error: L("wc_tag_too_long", { tag: long }) };
  return { tags };
}
