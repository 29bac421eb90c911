"""French and English labels for the pages (French first, as the original VSION UI)."""
from __future__ import annotations

from flask import request, session

LANGUAGES = ("fr", "en")

LABELS: dict[str, tuple[str, str]] = {  # key: (fr, en)
    "app_title": ("VSION — capture de mouvement", "VSION — motion capture"),
    "cameras": ("Caméras", "Cameras"),
    "camera": ("Caméra", "Camera"),
    "record": ("Enregistrer", "Record"),
    "stop": ("Arrêter", "Stop"),
    "recording": ("Enregistrement en cours", "Recording"),
    "idle": ("Prêt", "Ready"),
    "take_saved": ("Prise enregistrée", "Take saved"),
    "frames": ("images", "frames"),
    "fps": ("img/s", "fps"),
    "dropped": ("perdues", "dropped"),
    "viewers": ("spectateurs", "viewers"),
    "status_connecting": ("connexion…", "connecting…"),
    "status_connected": ("connectée", "connected"),
    "status_reconnecting": ("reconnexion…", "reconnecting…"),
    "status_failed": ("hors service", "failed"),
    "status_stopped": ("arrêtée", "stopped"),
    "login_title": ("Connexion", "Sign in"),
    "username": ("Identifiant", "User name"),
    "password": ("Mot de passe", "Password"),
    "sign_in": ("Se connecter", "Sign in"),
    "logout": ("Déconnexion", "Sign out"),
    "bad_login": ("Identifiant ou mot de passe incorrect.", "Wrong user name or password."),
    "login_required": ("Connectez-vous pour continuer.", "Please sign in to continue."),
    "live_disconnected": ("Connexion au serveur perdue, nouvelle tentative…",
                          "Connection to the server lost, retrying…"),
    "role_admin": ("administrateur", "administrator"),
    "role_technician": ("technicien", "technician"),
    "role_expert": ("expert", "expert"),
    "role_trainee": ("apprenant", "trainee"),
    "elapsed": ("Durée", "Elapsed"),
    "folder": ("Dossier", "Folder"),
    "language": ("English", "Français"),  # the label of the link to the *other* language
}


def current_language() -> str:
    """The language of this request: ``?lang=``, else the session's, else the browser's, else French."""
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        return lang
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(LANGUAGES) or "fr"


def translate(key: str, lang: str | None = None) -> str:
    labels = LABELS.get(key)
    if labels is None:
        return key
    return labels[LANGUAGES.index(lang or current_language())]


def labels_for(lang: str) -> dict[str, str]:
    """Every label in ``lang``, for the page's script (passed as a data attribute, not inline JS)."""
    i = LANGUAGES.index(lang)
    return {key: pair[i] for key, pair in LABELS.items()}
