"""Translations and page labels: the French catalog covers every text of the templates, the web
layer and the page scripts, and holds nothing else; the committed .mo is the compiled .po; each
page sends its script exactly the labels of its module graph; both languages render.
Page scripts are ES modules sharing one helper module (static/js/common.js)."""
from __future__ import annotations

import html
import io
import json
import re
import time
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.helpers.accounts import PASSWORDS, csrf_token, login

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "static" / "js"
PO = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    """The messages as `make translations` extracts them (babel.cfg), from templates, web/ and static/js."""
    with open(ROOT / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    catalog = Catalog()
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS):
        catalog.add(message, None, [(filename, lineno)], context=context)
    return catalog


@pytest.fixture(scope="module")
def french() -> Catalog:
    with open(PO, "rb") as fh:
        return read_po(fh, locale="fr")


def _key(message) -> tuple[str | None, str]:
    return message.context, message.id if isinstance(message.id, str) else message.id[0]


def test_every_text_has_a_french_translation(extracted, french):
    assert len(extracted) > 400  # templates, Python and scripts were all read
    missing = [_key(m) for m in extracted if m.id and (french.get(m.id, m.context) is None
                                                      or not french.get(m.id, m.context).string
                                                      or french.get(m.id, m.context).fuzzy)]
    assert not missing, f"no French translation (run `make translations`, then translate): {missing}"


def test_the_catalog_holds_only_texts_in_use(extracted, french):
    unused = [_key(m) for m in french if m.id and extracted.get(m.id, m.context) is None]
    assert not unused, f"catalog entries no page, script or module uses: {unused}"
    assert not french.obsolete, f"obsolete (#~) entries: {list(french.obsolete)}"
    assert "#~" not in PO.read_text(encoding="utf-8")


def test_placeholders_are_kept_in_french(french):
    """Every {name} of the English text is in the French one (the scripts and .format() fill them)."""
    wrong = [_key(m) for m in french if m.id and m.string
             and set(re.findall(r"\{(\w+)\}", m.id)) != set(re.findall(r"\{(\w+)\}", m.string))]
    assert not wrong, wrong


def test_the_committed_mo_is_the_compiled_po(french):
    compiled = io.BytesIO()
    write_mo(compiled, french)
    assert MO.read_bytes() == compiled.getvalue(), "messages.mo is stale: run `make translations`"


# --------------------------------------------------------------------------- the page scripts
def _module_graph(entry: str) -> list[str]:
    """The entry module and the sibling modules it imports, directly or not (its own reading of imports)."""
    seen, todo = [], [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        text = (JS / name).read_text(encoding="utf-8")
        todo += re.findall(r'^(?:import|export)\b[^;]*?["\']\./([\w.-]+\.js)["\'];', text, flags=re.M | re.S)
    return seen


def _script_keys(extracted, entry: str) -> set[str]:
    files = {f"static/js/{name}" for name in _module_graph(entry)}
    return {m.context for m in extracted if m.context and any(path in files for path, _ in m.locations)}


def test_every_label_call_is_extracted():
    """t() takes its key and English text as literals: a computed key would reach no page."""
    from web.i18n import SCRIPT_MESSAGE

    for path in JS.glob("*.js"):
        code = re.sub(r"/\*.*?\*/|^\s*//[^\n]*", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
        calls = len(re.findall(r"(?<![\w.$])t\((?!\))", code)) - len(re.findall(r"function t\(", code))
        assert calls == len(SCRIPT_MESSAGE.findall(code)), f"{path.name}: a t() call without literal key and text"


def test_page_scripts_are_modules_sharing_one_helper_module():
    """Each template loads at most its one module (through base.html); the scripts define no
    helper of common.js again."""
    for template in (ROOT / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]*filename='js/", text) or template.name == "base.html", template.name
    common = (JS / "common.js").read_text(encoding="utf-8")
    shared = set(re.findall(r"^export (?:async )?(?:function|const|class) ([\w$]+)", common, flags=re.M))
    assert {"t", "el", "svg", "api", "csrfToken", "number", "clock", "when", "$"} <= shared
    for path in JS.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert re.search(r"^(?:import|export)\b", text, flags=re.M), f"{path.name} is not an ES module"
        if path.name == "common.js":
            continue
        for name in shared:
            defined = re.search(rf"(?:function|const|let|var|class)\s+{re.escape(name)}\b\s*[=(]", text)
            assert not defined, f"{path.name} defines {name} again (import it from common.js)"
        assert "dataset.labels" not in text and "csrf-token" not in text, path.name


PAGES = {  # page -> (role, its script)
    "/": ("technician", "live.js"),
    "/workcards": ("expert", "workcards.js"),
    "/workcards/{card}": ("expert", "workcard.js"),
    "/workcards/{card}/summary?user=trainee": ("expert", "summary.js"),
    "/takes/{take}": ("technician", "take.js"),
    "/calibration": ("technician", "calibration.js"),
    "/cameras": ("technician", "camera-setup.js"),
    "/admin/users": ("admin", "users.js"),
    "/admin/audit": ("admin", "audit.js"),
}


def _labels(page: str) -> dict[str, str]:
    match = re.search(r"<body data-labels='([^']*)'", page)
    assert match, "no data-labels on <body>"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture
def pages(app):
    """PAGES with a card (a draft of the expert's) and a take (the technician's) to show."""
    from database.base import db
    from database.models import User
    from takes.service import register_take

    expert = app.test_client()
    login(expert, "expert")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', expert.get("/workcards").get_data(as_text=True))
    made = expert.post("/api/workcards", json={"title": "Lift the box"}, headers={"X-CSRFToken": token.group(1)})
    assert made.status_code == 201, made.get_json()
    take_id = time.strftime("%Y%m%d-%H%M%S") + "-a1b2"
    folder = app.extensions["vsion"].processor.takes_dir / take_id
    folder.mkdir(parents=True)
    with app.app_context():
        user = db.session.scalars(db.select(User).filter_by(username="technician")).one()
        register_take({"id": take_id, "status": "complete", "cameras": []}, folder, user)
    return {url.format(card=made.get_json()["id"], take=take_id): spec for url, spec in PAGES.items()}


def test_each_page_sends_only_its_scripts_labels(app, pages, extracted, french):
    everything = {m.context for m in extracted if m.context}
    for url, (role, script) in pages.items():
        client = app.test_client()
        login(client, role)
        reply = client.get(url + ("&" if "?" in url else "?") + "lang=fr")
        assert reply.status_code == 200, url
        page = reply.get_data(as_text=True)
        assert f'<script type="module" src="/static/js/{script}"></script>' in page, url
        labels = _labels(page)
        assert set(labels) == _script_keys(extracted, script), url
        assert len(labels) < len(everything), url
        for key, text in labels.items():  # in French, as the catalog says
            message = next(m for m in french if m.context == key)
            assert text == message.string, (url, key)


def test_the_login_page_sends_no_labels(client):
    page = client.get("/login").get_data(as_text=True)
    assert "data-labels" not in page and "<script" not in page


def test_both_languages_render(client):
    """French by default (the original UI), English on demand, the choice kept across login."""
    assert "Se connecter" in client.get("/login").get_data(as_text=True)
    assert 'id="lang-switch">English<' in client.get("/login").get_data(as_text=True)
    page = client.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in" in page and 'id="lang-switch">Français<' in page and '<html lang="en"' in page
    reply = client.post("/login", data={"username": "expert", "password": PASSWORDS["expert"],
                                        "csrf_token": csrf_token(client)})
    assert reply.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Record" in page and "Enregistrer" not in page
    assert _labels(page)["idle"] == "Ready" and "(expert)" in page
    page = client.get("/?lang=fr").get_data(as_text=True)
    assert "Enregistrer" in page and _labels(page)["idle"] == "Prêt" and "Caméras" in page
    assert client.post("/login", data={"username": "expert", "password": "wrong", "csrf_token": csrf_token(client)},
                       headers={"Accept-Language": "en"}).status_code == 401


def test_server_messages_are_translated(client):
    reply = client.post("/login", data={"username": "expert", "password": "wrong", "csrf_token": csrf_token(client)})
    assert "Identifiant ou mot de passe incorrect." in reply.get_data(as_text=True)
    client.get("/login?lang=en")
    reply = client.post("/login", data={"username": "expert", "password": "wrong", "csrf_token": csrf_token(client)})
    assert "Wrong user name or password." in reply.get_data(as_text=True)


def test_the_labels_follow_a_changed_script(tmp_path):
    """A label added to a script reaches its pages with no Python change (the extraction is cached per file version)."""
    from web.i18n import script_messages

    (tmp_path / "common.js").write_text('export const t = (key, english) => english;\n')
    (tmp_path / "page.js").write_text('import { t } from "./common.js";\nt("a", "A");\n')
    assert script_messages(tmp_path, "page.js") == {"a": "A"}
    time.sleep(0.01)
    (tmp_path / "page.js").write_text('import { t } from "./common.js";\nt("a", "A");\nt("b", "Say \\"B\\"");\n')
    assert script_messages(tmp_path, "page.js") == {"a": "A", "b": 'Say "B"'}
