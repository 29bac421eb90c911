"""The users of the test app and logged-in Flask test clients.

One user per role, named after it (``PASSWORDS``), and ``MORE_USERS`` (a second trainee and a
second expert). Clients log in through the real form with its CSRF token, as a browser does.
"""
from __future__ import annotations

import re

PASSWORDS = {role: f"{role}-pass-123" for role in ("admin", "technician", "expert", "trainee")}
MORE_USERS = {"trainee2": ("trainee", "trainee2-pass-123"), "expert2": ("expert", "expert2-pass-123")}


def csrf_token(client, path="/login") -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def login(client, role="technician"):
    reply = client.post("/login", data={"username": role, "password": PASSWORDS[role],
                                        "csrf_token": csrf_token(client)})
    assert reply.status_code == 302, reply.get_data(as_text=True)[:400]
    return reply


def signed_in(app, name):
    client = app.test_client()
    if name in PASSWORDS:
        login(client, name)
    else:
        reply = client.post("/login", data={"username": name, "password": MORE_USERS[name][1],
                                            "csrf_token": csrf_token(client)})
        assert reply.status_code == 302
    return client


def token(client) -> str:
    """The CSRF token the pages read from base.html's <meta name="csrf-token">."""
    page = client.get("/workcards").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def call(client, method, path, body=None, csrf=True):
    headers = {"X-CSRFToken": token(client)} if csrf else {}
    return client.open(path, method=method, json=body, headers=headers)


def create_users(app) -> None:
    """One user per role (``PASSWORDS``) and ``MORE_USERS``, in the app's database."""
    from accounts.users import create_user

    with app.app_context():
        for role, password in PASSWORDS.items():
            create_user(role, password, role)
        for name, (role, password) in MORE_USERS.items():
            create_user(name, password, role)
