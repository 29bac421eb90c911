// VSION live page: the posture score of the live skeleton (RULA or REBA, as the person chooses),
// over the 3D view in its risk colour. Fed by live.js's "vsion:skeleton" events, whose detail
// carries the server's `ergonomics` of the pose3d payload (live/ergonomics.py: the scores of the
// newest 3D frame, with the default inputs). The choice (off, RULA, REBA) is kept in this browser.
// Imported by live.js for its side effects.
import { $, el, t } from "./common.js";
import { levelName, riskLevel } from "./ergonomics.js";

const KEY = "vsion.liveErgonomics";
const panel = $("skeleton-panel");

function stored() {
  try {
    const value = localStorage.getItem(KEY);
    return value === "rula" || value === "reba" ? value : "off";
  } catch (e) {
    return "off";
  }
}

if (panel) {
  let method = stored();
  const select = el("select", { id: "live-ergo-method" },
    el("option", { value: "off", text: t("ergo_live_off", "off") }),
    el("option", { value: "rula", text: "RULA" }), el("option", { value: "reba", text: "REBA" }));
  select.value = method;
  const choice = el("label", { class: "live-ergo-choice", for: "live-ergo-method" }, t("ergo_live_label", "Posture score"), select);
  panel.querySelector("header").insertBefore(choice, $("skeleton-reset"));
  const badge = el("p", { id: "live-ergo", class: "live-ergo ergo-lvl-none", hidden: true,
    title: t("ergo_live_title", "Posture score of the live skeleton (no load entered: the work card's inputs apply to takes only)") });
  panel.querySelector(".skeleton-wrap").append(badge);

  const show = (scores) => {
    const score = scores && method !== "off" ? scores[method + "_score"] : null;
    if (score === null || score === undefined) {
      badge.hidden = true;
      return;
    }
    const level = method === "reba" ? scores.reba_risk_level : scores.rula_action_level;
    const risk = method === "reba" ? riskLevel("reba", null, level) : riskLevel("rula", level, null);
    badge.className = "live-ergo ergo-lvl-" + (risk || "none");
    badge.dataset.score = String(score);
    badge.dataset.method = method;
    badge.replaceChildren((method === "reba" ? "REBA " : "RULA ") + score, el("small", { text: levelName(method, level) }));
    badge.hidden = false;
  };
  select.addEventListener("change", () => {
    method = select.value;
    try { localStorage.setItem(KEY, method); } catch (e) { /* private mode: not remembered */ }
    if (method === "off") show(null);
  });
  document.addEventListener("vsion:skeleton", (event) => show(event.detail && event.detail.ergonomics));
  document.addEventListener("vsion:skeleton-clear", () => show(null));
}
