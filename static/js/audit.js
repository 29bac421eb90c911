// VSION audit log (templates/audit.html, administrators): the newest events first from /api/audit,
// filters by action group and user, "Plus anciens" for the next page, CSV export with the same
// filters. No inline script (CSP).
(function () {
  "use strict";
  const labels = JSON.parse(document.body.dataset.labels || "{}");
  const $ = (id) => document.getElementById(id);
  const L = (key, values) => (labels[key] || key).replace(/\{(\w+)\}/g, (m, name) => (values && name in values ? values[name] : m));
  const PAGE = 100;
  let filters = { action: "", user: "" };
  let older = null;   // before= of the next page, null at the end
  let loading = false;

  function show(el, text) { el.textContent = text || ""; el.hidden = !text; }

  function query(extra) {
    const params = new URLSearchParams();
    if (filters.action) params.set("action", filters.action);
    if (filters.user) params.set("user", filters.user);
    Object.entries(extra || {}).forEach(([key, value]) => params.set(key, String(value)));
    const text = params.toString();
    return text ? "?" + text : "";
  }

  const when = (iso) => {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(document.documentElement.lang || undefined);
  };

  /** The detail as short "key: value" pairs (values that are objects, as key=value lists). */
  function summary(detail) {
    if (!detail || typeof detail !== "object") return "";
    return Object.entries(detail).filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([key, value]) => {
        if (Array.isArray(value)) return key + ": " + value.join(", ");
        if (typeof value === "object") return key + ": " + Object.entries(value).map(([k, v]) => k + "=" + v).join(", ");
        return key + ": " + value;
      }).join(" · ");
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (cls) td.className = cls;
    return td;
  }

  function targetCell(event) {
    const td = cell("");
    if (!event.target_type) return td;
    const text = event.target_type + (event.target_id ? " " + event.target_id : "");
    let href = null;
    if (event.target_type === "take" && event.action !== "take.delete") href = "/takes/" + encodeURIComponent(event.target_id);
    else if (event.target_type === "work_card") href = "/workcards/" + encodeURIComponent(event.target_id);
    if (href && event.target_id) {
      const link = document.createElement("a");
      link.href = href;
      link.textContent = text;
      td.append(link);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function row(event) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(event.id);
    tr.dataset.action = event.action;
    const time = cell(when(event.at), "audit-time");
    time.title = event.at;
    const action = cell(labels["audit_action_" + event.action] || event.action, "audit-action");
    action.title = event.action;
    tr.append(time, cell(event.user || labels.audit_system), cell(event.role ? labels["role_" + event.role] || event.role : ""),
      action, targetCell(event), cell(summary(event.detail), "audit-detail"), cell(event.ip, "audit-ip"));
    return tr;
  }

  async function load(append) {
    if (loading) return;
    loading = true;
    $("audit-older").disabled = true;
    show($("audit-error"), "");
    const extra = { limit: PAGE };
    if (append && older !== null) extra.before = older;
    let reply, data = null;
    try {
      reply = await fetch("/api/audit" + query(extra), { credentials: "same-origin", headers: { Accept: "application/json" } });
      data = await reply.json().catch(() => null);
    } catch (err) {
      reply = null;
    }
    loading = false;
    $("audit-older").disabled = false;
    if (!reply || !reply.ok || !data) {
      const message = (data && data.error) || (reply ? reply.status + " " + reply.statusText : labels.live_disconnected);
      show($("audit-error"), L("audit_failed", { message }));
      return;
    }
    const body = $("audit-body");
    const rows = (data.events || []).map(row);
    if (append) body.append(...rows); else body.replaceChildren(...rows);
    older = data.next_before === undefined ? null : data.next_before;
    $("audit-older").hidden = older === null;
    $("audit-empty").hidden = body.children.length > 0;
  }

  function applyFilters() {
    filters = { action: $("audit-action").value, user: $("audit-user").value.trim() };
    $("audit-csv").href = "/api/audit.csv" + query();
    older = null;
    load(false);
  }

  async function fillUsers() {
    try {
      const reply = await fetch("/api/users", { credentials: "same-origin" });
      if (!reply.ok) return;
      const names = ((await reply.json()).users || []).map((u) => u.username);
      $("audit-users").replaceChildren(...names.map((name) => {
        const option = document.createElement("option");
        option.value = name;
        return option;
      }));
    } catch (err) {
      // the user box still takes a typed name
    }
  }

  $("audit-filters").addEventListener("submit", (event) => { event.preventDefault(); applyFilters(); });
  $("audit-older").addEventListener("click", () => load(true));
  fillUsers();
  load(false);
})();
