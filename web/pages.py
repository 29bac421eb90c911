"""HTML pages."""
from flask import Blueprint, current_app, render_template

bp = Blueprint("pages", __name__)


@bp.route("/")
def index():
    processor = current_app.extensions["vsion.processor"]
    return render_template("index.html", cameras=processor.health(), recording=processor.recording_state())
