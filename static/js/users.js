// VSION user administration (administrators only): list users, create one, change a role,
// enable or disable an account, reset a password, unlock an account locked by wrong passwords.
// The page's one module; no inline script or handler (CSP): everything is wired here.
import { $, api, el, say, t, when } from "./common.js";
import { roleName } from "./roles.js";

(function () {
  const me = Number(document.body.dataset.me);
  const lang = document.documentElement.lang || "fr";
  const roles = Array.from($("user-role").options).map((o) => o.value);

  /** The time of day (hh:mm) of an ISO date, in the page's language. */
  function timeOfDay(iso) {
    return new Date(iso).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  }

  function stateCell(user) {
    const cell = el("td", { class: "user-state" });
    if (user.locked && user.locked_until) {
      const addresses = (user.throttled || []).filter((row) => row.waits_until).map((row) => row.address).join(", ");
      cell.append(el("strong", { class: "error user-locked", text: t("users_locked_until", "Waiting until {time} ({addresses})", { time: timeOfDay(user.locked_until), addresses }) }));
    } else if (user.failed_logins > 0) {
      cell.append(el("span", { class: "warning", text: t("users_failed_logins", "{n} wrong password(s)", { n: user.failed_logins }) }));
    }
    if (!user.active) cell.append(el("div", { class: "muted", text: t("users_disabled", "Disabled") }));
    cell.append(el("small", {
      class: "muted user-last-login",
      text: user.last_login_at ? t("users_last_login", "Last sign-in: {time}", { time: when(user.last_login_at) }) : t("users_never_logged_in", "Never signed in"),
    }));
    return cell;
  }

  // One row per account; every change goes through PATCH /api/users/<id> and redraws the row
  // from the server's answer (or from the unchanged user, with the error, when refused).
  function row(user, message, isError) {
    const self = user.id === me;
    const tr = el("tr", { id: "user-" + user.username });
    tr.dataset.userId = user.id;
    const error = el("p", { class: "error user-error", role: "alert", hidden: true });
    const done = el("p", { class: "muted user-done", hidden: true });
    done.setAttribute("aria-live", "polite");

    async function change(payload, doneLabel) {
      say(error, ""); say(done, "", "info");
      const reply = await api("PATCH", "/api/users/" + user.id, payload);
      if (!reply.ok) tr.replaceWith(row(user, reply.message, true));
      else tr.replaceWith(row(reply.data, doneLabel || t("users_saved", "Saved."), false));
    }

    const role = el("select", { class: "user-role-select", disabled: self });
    role.setAttribute("aria-label", t("users_role", "Role") + " " + user.username);
    for (const value of roles) {
      role.append(el("option", { value, text: roleName(value), selected: value === user.role }));
    }
    role.addEventListener("change", () => change({ role: role.value }));

    const active = el("input", { type: "checkbox", class: "user-active", checked: user.active, disabled: self });
    active.setAttribute("role", "switch");
    active.setAttribute("aria-label", t("users_active", "Active") + " " + user.username);
    active.addEventListener("change", () => change({ active: active.checked }));

    const password = el("input", { type: "password", class: "user-new-password", minLength: 12, maxLength: 200,
      autocomplete: "new-password", placeholder: t("users_new_password", "New password") });
    password.setAttribute("aria-label", t("users_new_password", "New password") + " " + user.username);
    const reset = el("button", { type: "submit", class: "outline small user-reset-button", text: t("users_reset_password", "Reset the password") });
    const resetForm = el("form", { class: "user-reset", autocomplete: "off", noValidate: true }, [password, reset]);
    resetForm.addEventListener("submit", (event) => {
      event.preventDefault();
      if (password.value.length < 12) { say(error, t("users_password_hint", "At least 12 characters, hard to guess; give it to the person face to face.")); return; }
      change({ password: password.value }, t("users_password_reset_done", "Password reset."));
    });
    const actions = el("td", { class: "user-actions" }, [resetForm]);
    if (user.locked) {
      const unlock = el("button", { type: "button", class: "small user-unlock", text: t("users_unlock", "Unlock") });
      unlock.addEventListener("click", () => change({ unlock: true }, t("users_unlocked", "Account unlocked.")));
      actions.append(unlock);
    }
    actions.append(error, done);

    const name = el("td", { text: user.username });
    if (self) name.append(" ", el("small", { class: "muted", text: "(" + t("users_you", "you") + ")" }));
    tr.append(name, el("td", {}, [role]), el("td", {}, [active]), stateCell(user), actions);
    if (message) say(isError ? error : done, message, isError ? "error" : "info");
    return tr;
  }

  async function refresh() {
    const reply = await api("GET", "/api/users");
    if (!reply.ok) { say($("users-error"), reply.message); return; }
    say($("users-error"), "");
    $("users-body").replaceChildren(...((reply.data && reply.data.users) || []).map((user) => row(user)));
  }

  $("user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    say($("user-error"), "");
    say($("user-done"), "", "info");
    const payload = { username: $("user-name").value.trim(), role: $("user-role").value, password: $("user-password").value };
    const reply = await api("POST", "/api/users", payload);
    if (!reply.ok) { say($("user-error"), reply.message); return; }
    say($("user-done"), t("users_created", "User created:") + " " + reply.data.username, "info");
    $("user-form").reset();
    refresh();
  });

  refresh();
})();
