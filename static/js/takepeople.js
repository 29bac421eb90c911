// VSION take page: the people a take's processing found, beside its replay. The worker (the person
// of interest, whose skeleton the player shows in the side colours) and the others, numbered in
// their colours in the 3D view; the problems met (nobody in the work area, two people in it, a
// person seen by one camera only). Whoever may process the take again chooses another worker with
// a click on a person in the 3D view or in the list: the take is then exported and scored again for
// them (POST /api/takes/<id>/person). An ES module imported by take.js.
import { $, api, el, number, say, t } from "./common.js";
import { problemText } from "./people.js";
import { personColour } from "./pose-overlay.js";

/** Wire the people panel to `player` (replay.js) for take `takeId`; `onQueued(job)` after a choice. */
export function attachPeople(player, takeId, onQueued) {
  const panel = $("people-panel"), list = $("people-list"), problems = $("people-problems");
  const confirmBox = $("person-confirm"), question = $("person-question");
  let data = null, pending = null;

  const worker = () => (data && Number.isInteger(data.person_of_interest) ? data.person_of_interest : null);
  const mayChoose = () => !!(player.take && player.take.can_process && data && data.people.length > 1);

  function others(frame) {
    if (!data) return [];
    return data.people.filter((p) => p.id !== worker()).map((p) => ({
      id: p.id, worker: false, points3d: ((data.points || {})[String(p.id)] || [])[frame] || null }));
  }

  function draw(frame) {
    if (player.view && data) player.view.updatePeople(others(frame), worker(), data.work_area || null);
  }

  function personRow(p) {
    const isWorker = p.id === worker();
    const parts = [t("people_person", "Person {person}", { person: p.id }),
      t("people_seen_for", "seen {s} s", { s: number(p.seconds, 1) })];
    if (Number.isFinite(p.in_work_area_pct)) parts.push(t("people_in_area_pct", "{pct} % in the work area", { pct: number(p.in_work_area_pct, 0) }));
    const row = el("li", { id: "person-" + p.id, "data-person": String(p.id) }, [
      el("span", { class: "swatch" }), el("span", { text: parts.join(" · ") })]);
    row.firstChild.style.background = isWorker ? "#f97316" : personColour(p.id);
    if (isWorker) row.append(el("span", { class: "badge ok", text: t("people_worker", "worker") }));
    else if (mayChoose()) {
      const button = el("button", { type: "button", class: "small outline", id: "choose-" + p.id, text: t("people_make_worker", "Make this person the worker") });
      button.addEventListener("click", () => ask(p.id));
      row.append(button);
    }
    return row;
  }

  function render() {
    panel.hidden = !data || (!data.people.length && !(data.problems || []).length);
    if (panel.hidden) return;
    panel.dataset.worker = worker() === null ? "" : String(worker());
    list.replaceChildren(...data.people.map(personRow));
    problems.replaceChildren(...(data.problems || []).map((p) => el("li", { "data-code": p.code, text: problemText(p, false) })));
    const chosen = data.choice && Number.isInteger(data.choice.person);
    $("people-how").textContent = chosen ? t("people_chosen_by", "Worker chosen by {user}.", { user: data.choice.by || "?" })
      : data.selection === "hint" ? t("people_chosen_live", "Worker chosen in the live view while the take was recorded.")
        : data.selection === "work_area" ? t("people_by_area", "Worker: the person in the work area.") : "";
    $("person-auto").hidden = !(chosen && player.take && player.take.can_process);
    $("people-click-hint").hidden = !mayChoose();
  }

  function ask(id) {
    if (!mayChoose() || id === worker()) return;
    pending = id;
    question.textContent = t("people_confirm", "Make person {person} the worker? The take is exported and scored again for them.", { person: id });
    confirmBox.hidden = false;
    $("person-yes").focus();
  }

  async function choose(id) {
    confirmBox.hidden = true;
    const res = await api("POST", "/api/takes/" + encodeURIComponent(takeId) + "/person", { person_id: id });
    if (!res.ok) { say($("take-error"), res.message); return; }
    say($("take-notice"), id === null ? t("people_auto_queued", "The work area chooses the worker again: the take is being processed.")
      : t("people_queued", "Person {person} is the worker: the take is being processed for them.", { person: id }), "ok");
    if (onQueued) onQueued(res.data);
  }

  async function load(take) {
    data = null;
    if (take && take.processing === "done") {
      const res = await api("GET", "/api/takes/" + encodeURIComponent(takeId) + "/people");
      data = res.ok && Array.isArray(res.data.people) ? res.data : null;
    }
    render();
    draw(player.frame());
  }

  $("person-yes").addEventListener("click", () => choose(pending));
  $("person-no").addEventListener("click", () => { confirmBox.hidden = true; });
  $("person-auto").addEventListener("click", () => choose(null));
  if (player.view) player.view.onClick((e) => { const id = player.view.pick(e.clientX, e.clientY); if (id !== null) ask(id); });
  player.onTime((at, frame) => draw(frame));
  player.onLoad((take) => load(take));
}
