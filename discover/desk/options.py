"""``--data DIR`` and ``--db URL``: where the register lives, the same for every desk command.

Only click is imported here; the store loads when a command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def data_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--data DIR`` (default $DISCOVER_DATA, else ./discover-data) and ``--db URL``."""
    function = click.option(
        "--db",
        "db_url",
        envvar="DISCOVER_DESK_DB",
        default=None,
        metavar="URL",
        help="Database URL of a shared register (PostgreSQL), instead of DIR/desk.sqlite "
        "[env DISCOVER_DESK_DB].",
    )(function)
    return click.option(
        "--data",
        "data",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Data directory: the register, cases and packages "
        "(default $DISCOVER_DATA, else ./discover-data).",
    )(function)


def open_desk(data: Path | None, db_url: str | None, *, create: bool = False) -> Any:
    """The Desk of ``--data``/``--db`` (imported here so that --help stays light).

    Only commands that add something (``create``) start a new register; the others
    refuse a data directory without one, so that a mistyped --data is noticed.
    """
    from discover.desk.store import Desk

    group = _group_options()
    data = data if data is not None else group.get("data")
    db_url = db_url or group.get("db_url")
    return Desk.open(data, url=db_url) if create else Desk.opened(data, url=db_url)


GROUP_KEY = "discover.desk.options"


def _group_options() -> dict[str, Any]:
    """``--data``/``--db`` given to the group (``discover requests --data DIR list``)."""
    context = click.get_current_context(silent=True)
    while context is not None:
        if GROUP_KEY in context.meta:
            return dict(context.meta[GROUP_KEY])
        context = context.parent
    return {}


def remember_group_options(data: Path | None, db_url: str | None) -> None:
    """Called by a desk group: its subcommands fall back to the group's options."""
    click.get_current_context().meta[GROUP_KEY] = {"data": data, "db_url": db_url}
