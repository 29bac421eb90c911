// VSION calibration page: the work area of the calibration in force (the floor rectangle where the
// worker stands), shown on the 3D rig view, typed in or drawn on the floor with two clicks, saved
// with the calibration (PUT /api/calibration/work-area) or set back to its default (DELETE).
// An ES module imported by calibration.js, which owns the 3D view (show(rig, caption, area)).
import { $, api, number, say, t } from "./common.js";
import { onRigFloorClick, showRigArea } from "./rig3d.js";

const KEYS = ["x0", "y0", "x1", "y1"];

/** Wire the "Work area" card; `show(rig, caption, area)` puts a rig and a work area on the 3D view. */
export function attachWorkArea(show) {
  if (!$("work-area-card")) return;
  const fields = KEYS.map((k) => $("work-area-" + k));
  const hint = $("work-area-hint"), error = $("work-area-error");
  let state = null, clicks = null;  // clicks: floor points of a drawing in progress

  const corners = () => fields.map((f) => Number(f.value));
  const valid = (c) => c.every((v) => Number.isFinite(v)) && c[0] < c[2] && c[1] < c[3];

  /** A hint under the card, or an error (`bad`); one at a time. */
  function tell(text, bad) {
    say(error, bad ? text : "");
    hint.textContent = bad ? "" : text || "";
  }

  function describe() {
    const area = state && state.work_area;
    const values = area && { x0: number(area[0], 2), y0: number(area[1], 2), x1: number(area[2], 2), y1: number(area[3], 2) };
    let text = t("work_area_no_calibration", "No calibration in force: calibrate the cameras first.");
    if (state && state.rig && !area) text = t("work_area_none", "No work area: no place on the floor is seen whole by two cameras.");
    else if (state && state.rig && state.source === "saved") text = t("work_area_saved", "Saved: x {x0} to {x1} m, y {y0} to {y1} m.", values);
    else if (state && state.rig) text = t("work_area_default", "Default (the middle of the calibrated volume): x {x0} to {x1} m, y {y0} to {y1} m.", values);
    $("work-area-state").textContent = text;
    $("work-area-card").dataset.source = state ? state.source : "none";
    ["work-area-show", "work-area-draw", "work-area-save", "work-area-default"].forEach((id) => { $(id).disabled = !state || !state.rig; });
  }

  function fill(area) {
    fields.forEach((f, i) => { f.value = Array.isArray(area) ? String(area[i]) : ""; });
  }

  function showActive() {
    if (!state || !state.rig) return;
    show(state.rig, t("work_area_caption", "The calibration in force and its work area (green)."),
      valid(corners()) ? { corners: corners(), dashed: state.source !== "saved" } : null);
  }

  async function load() {
    const r = await api("GET", "/api/calibration/work-area");
    if (!r.ok) { tell(r.message, true); return; }
    state = r.data;
    fill(state.work_area);
    describe();
  }

  async function send(method, body) {
    tell("");
    const r = await api(method, "/api/calibration/work-area", body);
    if (!r.ok) { tell(r.message, true); return; }
    state = r.data;
    fill(state.work_area);
    describe();
    showActive();
    tell(t("work_area_done", "Work area kept with the calibration in force: the live view uses it now, and the takes recorded from now on."));
  }

  fields.forEach((f) => f.addEventListener("input", () => { if (valid(corners())) showRigArea({ corners: corners(), dashed: true }); }));
  $("work-area-show").addEventListener("click", showActive);
  $("work-area-draw").addEventListener("click", () => {
    showActive();
    clicks = [];
    tell(t("work_area_draw_hint", "Click two opposite corners of the work area on the floor of the 3D view."));
  });
  onRigFloorClick((point) => {
    if (!clicks || !point) return;
    clicks.push(point);
    if (clicks.length < 2) { tell(t("work_area_draw_second", "Now the opposite corner.")); return; }
    const [a, b] = clicks, round = (v) => Math.round(v * 100) / 100;
    fill([round(Math.min(a[0], b[0])), round(Math.min(a[1], b[1])), round(Math.max(a[0], b[0])), round(Math.max(a[1], b[1]))]);
    clicks = null;
    showRigArea({ corners: corners(), dashed: true });
    tell(t("work_area_draw_done", "Drawn: check the numbers, then save."));
  });
  $("work-area-save").addEventListener("click", () => {
    const c = corners();
    if (!valid(c)) { tell(t("work_area_bad", "Give four numbers with From below To, in x and in y."), true); return; }
    send("PUT", { x0: c[0], y0: c[1], x1: c[2], y1: c[3] });
  });
  $("work-area-default").addEventListener("click", () => send("DELETE"));
  load();
}
