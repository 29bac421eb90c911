"""HTML pages."""
from flask import Blueprint, render_template

from web.i18n import current_language, labels_for
from web.state import system

bp = Blueprint("pages", __name__)


@bp.route("/")
def index():
    running = system()
    return render_template("index.html", cameras=running.processor.health(), recording=running.processor.recording_state(),
                           labels=labels_for(current_language()))
