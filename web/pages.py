"""HTML pages."""
from flask import Blueprint, current_app, render_template

from web.i18n import current_language, labels_for

bp = Blueprint("pages", __name__)


@bp.route("/")
def index():
    processor = current_app.extensions["vsion.processor"]
    lang = current_language()
    return render_template("index.html", cameras=processor.health(), recording=processor.recording_state(),
                           labels=labels_for(lang))
