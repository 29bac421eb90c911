"""The pages' languages: French (the default, as the original VSION UI) and English, with Flask-Babel.

Texts are gettext messages whose source (msgid) is the English text; the French lives in
``translations/fr/LC_MESSAGES/messages.po`` (and its compiled ``messages.mo``, committed so a
fresh clone and the delivered folder run as they are). English needs no catalog.

- Templates: ``{{ _("English") }}``; ``{{ pgettext("key", "English") }}`` for a text a page
  script shows too (one catalog entry) or an English text that needs two French ones.
- Python: ``gettext`` / ``lazy_pgettext`` from ``flask_babel``.
- Page scripts (static/js, ES modules): ``t("key", "English", {name: value})``, the key being
  the message's context (msgctxt). A page loads one entry module; :func:`script_labels` reads
  the ``t()`` calls of that module and of every module it imports, and the page sends those
  labels only, in its language, in ``<body data-labels>`` (templates/base.html).

``make translations`` extracts the messages again (babel.cfg: Python, Jinja and, through
:func:`extract_scripts`, the page scripts), updates the catalog and compiles it.
"""
from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path

from flask import current_app, request, session
from flask_babel import Babel, get_locale, lazy_pgettext, pgettext

logger = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")  # the first is the default
babel = Babel()

# A label of a page script: t("key", "English text" ...), both plain double-quoted literals.
SCRIPT_MESSAGE = re.compile(r'(?<![\w.$])t\(\s*"([\w.]+)"\s*,\s*("(?:[^"\\\n]|\\.)*")')
# A static import of a sibling module: import ... from "./x.js", import "./x.js", export ... from "./x.js".
SCRIPT_IMPORT = re.compile(r'(?:^|[;\n])\s*(?:import|export)\s+(?:[\w*{}\s,$]+?\s+from\s+)?["\'](\./[\w.-]+\.js)["\']')

ROLE_NAMES = {
    "admin": lazy_pgettext("role_admin", "administrator"),
    "technician": lazy_pgettext("role_technician", "technician"),
    "expert": lazy_pgettext("role_expert", "expert"),
    "trainee": lazy_pgettext("role_trainee", "trainee"),
}
CAMERA_STATUS = {
    "connecting": lazy_pgettext("status_connecting", "connecting…"),
    "connected": lazy_pgettext("status_connected", "connected"),
    "reconnecting": lazy_pgettext("status_reconnecting", "reconnecting…"),
    "failed": lazy_pgettext("status_failed", "failed"),
    "stopped": lazy_pgettext("status_stopped", "stopped"),
}


def current_language() -> str:
    """The language of this request: ``?lang=``, else the session's, else the browser's, else French.
    A ``?lang=`` choice is kept in the session (and across login: web.auth.KEPT_ACROSS_LOGIN)."""
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
        return lang
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def init_app(app) -> None:
    """Flask-Babel on ``app`` (catalogs in ``translations/`` beside ``templates/``) and the
    template helpers: ``lang``, ``other_lang``, ``role_name``, ``camera_status``, ``script_labels``."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LANGUAGES[0])
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(Path(app.template_folder).parent / "translations"))
    babel.init_app(app, locale_selector=current_language)

    @app.context_processor
    def i18n_helpers():
        lang = str(get_locale())
        return {"lang": lang, "other_lang": LANGUAGES[1] if lang == LANGUAGES[0] else LANGUAGES[0],
                "role_name": lambda role: ROLE_NAMES.get(role, role),
                "camera_status": lambda status: CAMERA_STATUS.get(status, status),
                "script_labels": script_labels}


def extract_scripts(fileobj, keywords, comment_tags, options):
    """Babel extraction method for the page scripts (babel.cfg): each ``t("key", "English")``
    as ``pgettext("key", "English")``. Yields (line number, function, (context, msgid), comments)."""
    text = fileobj.read().decode(options.get("encoding", "utf-8"))
    for match in SCRIPT_MESSAGE.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, "pgettext", (match.group(1), json.loads(match.group(2))), []


@lru_cache(maxsize=256)
def _file_script(path: Path, mtime_ns: int) -> tuple[dict[str, str], tuple[str, ...]]:
    """The labels ({key: English}) and the sibling modules imported by one script (cached until it changes)."""
    text = path.read_text(encoding="utf-8")
    messages = {match.group(1): json.loads(match.group(2)) for match in SCRIPT_MESSAGE.finditer(text)}
    return messages, tuple(SCRIPT_IMPORT.findall(text))


def script_messages(js_dir: Path, entry: str) -> dict[str, str]:
    """Every label ({key: English}) of the module ``entry`` (a file name in ``js_dir``) and of the
    modules it imports, directly or not. Raises FileNotFoundError for a missing module."""
    messages: dict[str, str] = {}
    seen, todo = set(), [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = js_dir / name
        own, imports = _file_script(path, path.stat().st_mtime_ns)
        messages.update(own)
        todo.extend(Path(target).name for target in imports)
    return messages


def script_labels(entry: str) -> dict[str, str]:
    """The labels of page script ``entry`` (static/js/``entry``) in this request's language,
    for ``<body data-labels>``."""
    js_dir = Path(current_app.static_folder) / "js"
    return {key: pgettext(key, english) for key, english in script_messages(js_dir, entry).items()}
