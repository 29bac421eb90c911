"""Flask extensions, created unbound and attached to the app by ``create_app``."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect

socketio = SocketIO()
login_manager = LoginManager()
csrf = CSRFProtect()
# Only the routes that ask for a limit have one (POST /login). Counters live in this process:
# VSION serves from one process, and a restart forgetting them is acceptable.
limiter = Limiter(key_func=get_remote_address, default_limits=[], storage_uri="memory://",
                  strategy="fixed-window", headers_enabled=False)
