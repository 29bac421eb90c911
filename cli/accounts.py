"""``users`` and ``cameras``: accounts, and camera URLs (stored encrypted when they carry a password)."""
from __future__ import annotations

import sys

import click

from accounts.policy import ROLES
from accounts.users import UserError, create_user
from cli.common import load
from config.edit import describe_cameras, set_camera_url
from config.loader import load_settings
from config.schema import ConfigError
from web.factory import create_app, prepare_app


@click.group("users")
def users_group():
    """Manage user accounts."""


@users_group.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The user's role.")
@click.option("--config", "config", default="config.yaml", show_default=True, help="Configuration file.")
def users_create(name, role, config):
    """Create user NAME; the password is read from standard input (first line)."""
    password = sys.stdin.readline().rstrip("\r\n")
    app = create_app(load(config))
    prepare_app(app)
    with app.app_context():
        try:
            create_user(name, password, role)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} created ({role})")


@click.group("cameras")
def cameras_group():
    """See the cameras and enter their URLs (URLs with passwords are stored encrypted)."""


@cameras_group.command("list")
@click.option("--config", "config", default="config.yaml", show_default=True, help="Configuration file.")
def cameras_list(config):
    """List the cameras: name, URL (password masked) and how the URL is stored."""
    try:
        rows = describe_cameras(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    width = max(len(r["name"]) for r in rows) if rows else 4
    urls = max(len(r["url"]) for r in rows) if rows else 3
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {row['url']:<{urls}}  {row['storage']}")


@cameras_group.command("set-url")
@click.argument("name")
@click.option("--config", "config", default="config.yaml", show_default=True, help="Configuration file.")
def cameras_set_url(name, config):
    """Give camera NAME a new URL, read from standard input (first line); a URL with a password
    is stored encrypted. Restart VSION to use it."""
    if sys.stdin.isatty():
        url = click.prompt(f"URL of camera {name}", hide_input=True, err=True)
    else:
        url = sys.stdin.readline().rstrip("\r\n")
    try:
        key = set_camera_url(config, name, url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if key:
        click.echo(f"camera {name}: URL stored encrypted in {config} (key {key})")
    else:
        click.echo(f"camera {name}: URL stored in {config} (no password: kept readable)")
    try:
        load_settings(config)
    except ConfigError as exc:
        click.echo(f"note: {config} cannot be used yet: {exc}", err=True)
