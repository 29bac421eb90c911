// VSION: several people in view, in words: who the worker is and what is wrong with the scene, for
// the live page (a `pose3d` payload) and the take page (its processing report). An ES module.
// Problem codes are the server's (reconstruction/interest.py, reconstruction/people.py,
// live/people.py); each has its sentence here, in the page's language.
import { t } from "./common.js";

/** One problem ({code, message, camera?, people?}) as a sentence; `live`: said of now, else of a take. */
export function problemText(problem, live) {
  const code = problem && problem.code;
  if (code === "no_one_in_work_area") {
    return live ? t("people_no_one_in_area", "Nobody is in the work area: click the worker to choose them.")
      : t("people_no_one_in_area_take", "Nobody was in the work area: the person seen the longest was taken as the worker.");
  }
  if (code === "several_in_work_area") {
    return live ? t("people_several_in_area", "Several people are in the work area: click the worker to choose them.")
      : t("people_several_in_area_take", "Several people were in the work area together: the one in it the longest was taken as the worker.");
  }
  if (code === "seen_by_one_camera") {
    const camera = problem.camera || "?";
    return live ? t("people_seen_by_one_camera", "{camera} sees a person that no other camera sees: they cannot be placed in 3D.", { camera })
      : t("people_seen_by_one_camera_take", "{camera} saw a person that no other camera saw: they could not be reconstructed.", { camera });
  }
  if (code === "nobody") return t("people_nobody", "Nobody was reconstructed: no person was seen by two cameras at once.");
  if (code === "chosen_person_not_found") {
    return t("people_chosen_not_found", "The person chosen as the worker was not found again: the work area decided.");
  }
  return String((problem && problem.message) || "");
}

/** "Worker: person 2 (chosen)" and the like, from a `pose3d` payload; "" when it has no people field. */
export function workerText(latest) {
  if (!latest || !Array.isArray(latest.people)) return "";
  if (Number.isInteger(latest.worker)) {
    const person = latest.worker;
    return latest.chosen === person ? t("people_worker_chosen", "Worker: person {person} (chosen)", { person })
      : t("people_worker_in_area", "Worker: person {person} (in the work area)", { person });
  }
  if (!latest.people.length) return "";
  return latest.work_area ? t("people_no_worker", "No worker: nobody is in the work area.")
    : t("people_no_area", "No work area: the calibration has none.");
}

/** "2 people in view" (or "1 person in view"). */
export function peopleCount(n) {
  return n === 1 ? t("people_count_one", "1 person in view") : t("people_count", "{n} people in view", { n });
}
