// VSION calibration page: the health of the calibration in force. A check measures each
// camera's reprojection error now (from the board shown to the cameras, or from the live
// skeleton) against its limit; a camera over it in every part of the check seems to have moved
// (the Cameras page warns too). Imported by calibration.js, which calls initHealth().
import { $, api, el, number, t, when } from "./common.js";

function show(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

function verdict(camera) {
  if (camera.error_px === null || camera.error_px === undefined) return el("span", { class: "badge muted-badge", text: t("hl_unseen", "not enough points") });
  if (camera.moved) return el("span", { class: "badge bad", text: t("hl_moved", "seems to have moved") });
  return el("span", { class: "badge ok", text: t("hl_ok", "in place") });
}

/** Draw a health report ({source, checked_at, cameras: [{name, error_px, limit_px, points, moved}], moved}). */
function renderReport(report) {
  const table = $("health-table");
  if (!report) { table.hidden = true; return; }
  table.hidden = false;
  table.tBodies[0].replaceChildren(...(report.cameras || []).map((c) => el("tr", { id: "health-row-" + c.name, class: c.moved ? "moved" : "" }, [
    el("th", { scope: "row", text: c.name }), el("td", { text: number(c.error_px, 2) }),
    el("td", { text: number(c.limit_px, 2) }), el("td", { text: String(c.points) }), el("td", {}, [verdict(c)]),
  ])));
  const source = report.source === "skeleton" ? t("hl_from_skeleton", "the live skeleton") : t("hl_from_board", "the board shown");
  $("health-when").textContent = t("hl_when", "Checked {when} from {source}.", { when: when(report.checked_at), source });
  const moved = report.moved || [];
  $("health-summary").textContent = moved.length
    ? t("hl_summary_moved", "moved: {cameras}", { cameras: moved.join(", ") }) : t("hl_summary_ok", "every camera in place");
}

/** Why the check could not be made, in the page's language (the server's words otherwise). */
function refusal(reply) {
  const texts = {
    no_calibration: () => t("hl_err_no_calibration", "No calibration in force for two or more of these cameras: calibrate them first."),
    no_board: () => t("hl_err_no_board", "No two cameras saw the board at once: hold it still where two or more cameras see it whole, then check again."),
    no_skeleton: () => t("hl_err_no_skeleton", "The live skeleton was not seen by two or more cameras: stand in the middle of the area, in view of the cameras, then check again."),
  };
  const code = reply.data && reply.data.code;
  return texts[code] ? texts[code]() : reply.message;
}

async function check(event) {
  event.preventDefault();
  show($("health-error"), "");
  const button = $("health-check");
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  const r = await api("POST", "/api/calibration/health", { source: $("health-source").value });
  button.disabled = false;
  button.removeAttribute("aria-busy");
  if (!r.ok) { show($("health-error"), refusal(r)); return; }
  renderReport(r.data);
}

/** Wire the card and show the last report. */
export async function initHealth() {
  $("health-form").addEventListener("submit", check);
  const r = await api("GET", "/api/calibration/health");
  if (r.ok) renderReport(r.data);
}
