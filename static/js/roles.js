// VSION: a user's role in the page's language (users and audit pages). An ES module.
import { t } from "./common.js";

/** A role's name ("admin" -> administrator); unknown ones as they are. */
export function roleName(role) {
  const names = {
    admin: t("role_admin", "administrator"),
    technician: t("role_technician", "technician"),
    expert: t("role_expert", "expert"),
    trainee: t("role_trainee", "trainee"),
  };
  return names[role] || String(role || "");
}
