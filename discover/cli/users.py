"""``discover users``: the staff who may use the web console."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.markup import escape

from discover.cli.output import console
from discover.desk.options import data_options, open_desk, remember_group_options
from discover.errors import InputError


@click.group()
@data_options
def users(data: Path | None, db_url: str | None) -> None:
    """Console users: officers (do everything) and viewers (see the register and audit)."""
    remember_group_options(data, db_url)


@users.command("add")
@data_options
@click.argument("name")
@click.option("--role", type=click.Choice(["officer", "viewer"]), required=True)
@click.option(
    "--password-env",
    required=True,
    metavar="VAR",
    help="Environment variable holding the password (never an argument: it would be in `ps`).",
)
def add(data: Path | None, db_url: str | None, name: str, role: str, password_env: str) -> None:
    """Add a user (or set an existing user's role and password); argon2-hashed."""
    from discover.desk.hooks import cli_actor

    password = os.environ.get(password_env)
    if not password:
        raise InputError(f"--password-env {password_env}: the variable is not set or empty")
    with open_desk(data, db_url, create=True) as desk:
        desk.add_user(name, role=role, password=password, actor=cli_actor())
    console().print(f"user {escape(name)} ({role}) saved")


@users.command("list")
@data_options
def list_users(data: Path | None, db_url: str | None) -> None:
    """The users and their roles."""
    with open_desk(data, db_url) as desk:
        for name, role in desk.users():
            console().print(f"{escape(name)}\t{role}")
