"""HTML pages."""
from flask import Blueprint, render_template

from web.state import system

bp = Blueprint("pages", __name__)


@bp.route("/")
def index():
    running = system()
    return render_template("index.html", cameras=running.processor.health(), recording=running.processor.recording_state())
