"""The open Socket.IO links: who holds each one, how many each user and address may hold, and
how a link ends when its session does.

Every link of a signed-in user is in :class:`SocketRegistry` (its sid, the user's id and role, the
login session it came from, the login time). The web layer uses it to

- close at once the links of a session that ended (logout, maximum age) or of an account that
  was disabled or whose password was reset (:func:`disconnect_session`, :func:`disconnect_user`);
- move the links of a user whose role changed to the rooms of the new role (:func:`regroup_user`);
- send each link the view of an event its user may see (:mod:`web.notify`);
- refuse a link past ``limits.sockets_per_user``.

Links per client address are capped before Engine.IO sees the request (:class:`AddressCap`, a
WSGI middleware): each open link holds a server thread, connected or not. A Socket.IO packet
that cannot be read closes its link with one warning line (:func:`guard_packets`).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace

import simple_websocket
from engineio import packet as eio_packet
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from flask_socketio import SocketIO

from accounts.policy import Action, allows

logger = logging.getLogger(__name__)

NAMESPACE = "/"
SOCKET_PATH = "/socket.io/"
REFUSED_CLOSE_S = 2.0  # a refused link is closed this long after its refusal (the client reads why first)
PACKET_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError, UnicodeError,
                 OverflowError)


@dataclass(frozen=True)
class Client:
    """One open link. ``id`` and ``role`` are its user's, so the policy's functions take it as a user."""

    sid: str
    id: int
    role: str
    session_id: str | None
    login_at: float
    address: str | None


class SocketRegistry:
    """The open links of signed-in users. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}

    def add(self, client: Client) -> None:
        with self._lock:
            self._clients[client.sid] = client

    def remove(self, sid: str) -> Client | None:
        with self._lock:
            return self._clients.pop(sid, None)

    def clients(self) -> list[Client]:
        with self._lock:
            return list(self._clients.values())

    def of_user(self, user_id: int) -> list[Client]:
        return [c for c in self.clients() if c.id == user_id]

    def present(self, user_id: int | None) -> bool:
        """Has ``user_id`` a link open now (a page or a script)?"""
        return user_id is not None and any(c.id == user_id for c in self.clients())

    def set_role(self, user_id: int, role: str) -> list[Client]:
        """Record a user's new role on their links; returns the links changed."""
        with self._lock:
            changed = [replace(c, role=role) for c in self._clients.values() if c.id == user_id]
            self._clients.update({c.sid: c for c in changed})
            return changed

    def counts(self) -> Counter:
        """Open links per user id."""
        return Counter(c.id for c in self.clients())


def close_links(socketio: SocketIO, clients: list[Client], why: str) -> int:
    """Disconnect ``clients`` now (their pages show the link lost and sign in again); their count."""
    for client in clients:
        try:
            socketio.server.disconnect(client.sid, namespace=NAMESPACE)
        except (KeyError, ValueError):  # gone meanwhile
            pass
    if clients:
        logger.info("closed %d Socket.IO link(s): %s", len(clients), why)
    return len(clients)


def disconnect_session(socketio: SocketIO, registry: SocketRegistry, session_id: str | None) -> int:
    """Close the links opened with login session ``session_id`` (a logout, a session past its age)."""
    if not session_id:
        return 0
    return close_links(socketio, [c for c in registry.clients() if c.session_id == session_id], "session ended")


def disconnect_user(socketio: SocketIO, registry: SocketRegistry, user_id: int) -> int:
    """Close every link of ``user_id`` (account disabled, password reset)."""
    return close_links(socketio, registry.of_user(user_id), f"sessions of user {user_id} ended")


def regroup_user(socketio: SocketIO, registry: SocketRegistry, user_id: int, role: str,
                 rooms_for: dict[str, Action]) -> None:
    """Apply a role change to ``user_id``'s open links at once: they leave each room of
    ``rooms_for`` (room -> the action it needs) the new role may not hear."""
    for client in registry.set_role(user_id, role):
        for room, action in rooms_for.items():
            if not allows(role, action):
                socketio.server.leave_room(client.sid, room, namespace=NAMESPACE)
    logger.info("links of user %s now hear what the role %s may", user_id, role)


def expire(socketio: SocketIO, registry: SocketRegistry, max_age_s: float, now: float | None = None) -> int:
    """Close the links whose login is older than ``max_age_s`` (the session's maximum age)."""
    now = time.time() if now is None else now
    return close_links(socketio, [c for c in registry.clients() if now - c.login_at > max_age_s],
                       "session reached its maximum age")


def close_refused(socketio: SocketIO, sid: str) -> None:
    """Close the Engine.IO link under a refused Socket.IO connection (python-socketio keeps it open,
    and it holds a server thread), once the client had time to read why."""
    server = socketio.server
    eio_sid = server.manager.eio_sid_from_sid(sid, NAMESPACE)
    if eio_sid is None:
        return

    def close_later():
        time.sleep(REFUSED_CLOSE_S)
        try:
            server.eio.disconnect(eio_sid)
        except (KeyError, ValueError):
            pass

    socketio.start_background_task(close_later)


class _GuardedWebSocket(SimpleWebSocketWSGI):
    """Engine.IO's WebSocket for ``async_mode="threading"``, which ends its link, with one warning
    line, on a message that is no Engine.IO packet (empty, or an unknown type): Engine.IO would
    raise out of its handler, leaving a traceback and the link half open."""

    def close(self):
        """Engine.IO's writer thread closes the link when its queue ends; the client may have closed
        it in the meantime (simple-websocket then raises ConnectionClosed, or the socket an OSError):
        there is nothing left to close."""
        try:
            super().close()
        except (simple_websocket.ConnectionClosed, OSError):
            pass

    def wait(self):
        data = super().wait()
        if data is None:
            return None
        try:
            eio_packet.Packet(encoded_packet=data)
        except PACKET_ERRORS as exc:
            address = (getattr(self.ws, "environ", None) or {}).get("REMOTE_ADDR", "?")
            logger.warning("unreadable Engine.IO packet from %s (%s: %s): link closed", address,
                           type(exc).__name__, str(exc)[:120])
            return None
        return data


def guard_packets(socketio: SocketIO) -> None:
    """Make an unreadable packet (Engine.IO: empty, an unknown type; Socket.IO: ``42[]``, a
    reserved event name, JSON too deep, a huge number...) close its link with one warning line,
    instead of a traceback in the log. Uses two seams of python-engineio / python-socketio: the
    WebSocket class of the threading driver and the Engine.IO ``message`` handler."""
    server = socketio.server
    if server.eio._async.get("websocket") is SimpleWebSocketWSGI:
        server.eio._async = {**server.eio._async, "websocket": _GuardedWebSocket}
    handle = server._handle_eio_message  # python-socketio's own dispatcher, registered on Engine.IO

    def on_message(eio_sid, data):
        try:
            return handle(eio_sid, data)
        except PACKET_ERRORS as exc:
            environ = server.environ.get(eio_sid) or {}
            logger.warning("unreadable Socket.IO packet from %s (%s: %s): link closed",
                           environ.get("REMOTE_ADDR", "?"), type(exc).__name__, str(exc)[:120])
            try:
                server.eio.disconnect(eio_sid)
            except KeyError:  # gone meanwhile
                pass

    server.eio.on("message", on_message)


class AddressCap:
    """WSGI middleware: at most ``limit`` Socket.IO requests in flight per client address (each
    WebSocket link, or long poll, holds a server thread for its whole life); past it, 429."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit
        self._lock = threading.Lock()
        self._open: Counter = Counter()

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith(SOCKET_PATH):
            return self.app(environ, start_response)
        address = environ.get("REMOTE_ADDR") or "?"
        with self._lock:
            if self._open[address] >= self.limit:
                full = True
            else:
                full = False
                self._open[address] += 1
        if full:
            logger.warning("Socket.IO link refused: %s already holds %d (limits.sockets_per_address)",
                           address, self.limit)
            body = f"too many connections from this address (at most {self.limit}); close some pages".encode()
            start_response("429 Too Many Requests", [("Content-Type", "text/plain; charset=utf-8"),
                                                     ("Content-Length", str(len(body))), ("Retry-After", "10")])
            return [body]
        try:
            return _Closing(self.app(environ, start_response), lambda: self._release(address))
        except BaseException:
            self._release(address)
            raise

    def _release(self, address: str) -> None:
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def open_links(self, address: str) -> int:
        with self._lock:
            return self._open.get(address, 0)


class _Closing:
    """A WSGI response iterable that runs ``on_close`` once, when the server closes it."""

    def __init__(self, body, on_close):
        self.body, self.on_close, self._done = body, on_close, False

    def __iter__(self):
        return iter(self.body)

    def close(self):
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            if not self._done:
                self._done = True
                self.on_close()
