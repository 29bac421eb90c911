// VSION audit log (templates/audit.html, administrators): the newest events first from /api/audit,
// filters by action group and user, "Plus anciens" for the next page, CSV export with the same
// filters. The page's one module; no inline script (CSP).
import { $, api, el, say, t, when } from "./common.js";
import { roleName } from "./roles.js";

(function () {
  const PAGE = 100;
  let filters = { action: "", user: "" };
  let older = null;   // before= of the next page, null at the end
  let loading = false;

  function query(extra) {
    const params = new URLSearchParams();
    if (filters.action) params.set("action", filters.action);
    if (filters.user) params.set("user", filters.user);
    Object.entries(extra || {}).forEach(([key, value]) => params.set(key, String(value)));
    const text = params.toString();
    return text ? "?" + text : "";
  }

  /** An audited action ("take.start") as the administrator reads it; unknown ones as they are. */
  function actionName(action) {
    const names = {
      "take.start": t("audit_action_take.start", "Take started"),
      "take.stop": t("audit_action_take.stop", "Take stopped"),
      "take.export": t("audit_action_take.export", "Take exported"),
      "take.delete": t("audit_action_take.delete", "Take deleted"),
      "calibration.activate": t("audit_action_calibration.activate", "Calibration put in force"),
      "calibration.import": t("audit_action_calibration.import", "Calibration imported"),
      "calibration.save": t("audit_action_calibration.save", "Calibration saved"),
      "calibration.board": t("audit_action_calibration.board", "Calibration board changed"),
      "calibration.board_print": t("audit_action_calibration.board_print", "Calibration board downloaded"),
      "calibration.session": t("audit_action_calibration.session", "Calibration session started"),
      "calibration.driver": t("audit_action_calibration.driver", "Calibration driver changed"),
      "calibration.from_take": t("audit_action_calibration.from_take", "Calibration from a take started"),
      "calibration.health": t("audit_action_calibration.health", "Calibration health checked"),
      "workcard.create": t("audit_action_workcard.create", "Work card created"),
      "workcard.update": t("audit_action_workcard.update", "Work card changed"),
      "workcard.steps": t("audit_action_workcard.steps", "Steps saved"),
      "workcard.reference": t("audit_action_workcard.reference", "Reference chosen"),
      "workcard.publish": t("audit_action_workcard.publish", "Work card published"),
      "workcard.revise": t("audit_action_workcard.revise", "Work card reopened"),
      "audit.export": t("audit_action_audit.export", "Audit log exported"),
      "login.success": t("audit_action_login.success", "Signed in"),
      "login.failed": t("audit_action_login.failed", "Sign-in refused"),
      "login.locked": t("audit_action_login.locked", "Account locked"),
      "login.throttled": t("audit_action_login.throttled", "A computer must wait"),
      logout: t("audit_action_logout", "Signed out"),
      "user.create": t("audit_action_user.create", "Account created"),
      "user.role": t("audit_action_user.role", "Role changed"),
      "user.enable": t("audit_action_user.enable", "Account enabled"),
      "user.disable": t("audit_action_user.disable", "Account disabled"),
      "user.password_reset": t("audit_action_user.password_reset", "Password reset"),
      "user.unlock": t("audit_action_user.unlock", "Account unlocked"),
    };
    return names[action] || action;
  }

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
    const time = cell(when(event.at, "short", "medium"), "audit-time");
    time.title = event.at;
    const action = cell(actionName(event.action), "audit-action");
    action.title = event.action;
    tr.append(time, cell(event.user || t("audit_system", "system")), cell(event.role ? roleName(event.role) : ""),
      action, targetCell(event), cell(summary(event.detail), "audit-detail"), cell(event.ip, "audit-ip"));
    return tr;
  }

  async function load(append) {
    if (loading) return;
    loading = true;
    $("audit-older").disabled = true;
    say($("audit-error"), "");
    const extra = { limit: PAGE };
    if (append && older !== null) extra.before = older;
    const reply = await api("GET", "/api/audit" + query(extra));
    const data = reply.data;
    loading = false;
    $("audit-older").disabled = false;
    if (!reply.ok || !data) {
      say($("audit-error"), t("audit_failed", "Audit log unavailable: {message}", { message: reply.message }));
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
    const reply = await api("GET", "/api/users");
    if (!reply.ok || !reply.data) return;  // the user box still takes a typed name
    const names = (reply.data.users || []).map((u) => u.username);
    $("audit-users").replaceChildren(...names.map((name) => el("option", { value: name })));
  }

  $("audit-filters").addEventListener("submit", (event) => { event.preventDefault(); applyFilters(); });
  $("audit-older").addEventListener("click", () => load(true));
  fillUsers();
  load(false);
})();
