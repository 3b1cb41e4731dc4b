"""Options that several commands share, declared once so they read and check the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from exporters.formats import FORMATS

#: ``--sources FILE``: the sources file of ``search`` and ``batch``.
sources_option = click.option(
    "--sources",
    "sources_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sources file (YAML).",
)


#: ``ctx.meta`` key: where a command is writing, named when the system names no file
WRITING = "discover.writing"


class DirPath(click.Path):
    """A directory argument: an empty name is refused rather than read as the current directory."""

    def __init__(self) -> None:
        super().__init__(path_type=Path, file_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty name is not a directory; give one", param, ctx)
        return super().convert(value, param, ctx)


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def controller_option(help_text: str) -> Decorator:
    """``--controller provider|client|all`` (default provider), with the command's own help.

    The default is the provider's own data, as ``discover export``: client records
    go out only on the client's instruction.
    """
    return click.option(
        "--controller",
        type=click.Choice(["provider", "client", "all"]),
        default="provider",
        show_default=True,
        help=help_text,
    )


def kind_option(default: str | None, help_text: str | None = None) -> Decorator:
    """``--kind access|portability``: the same two kinds for every command that takes one.

    ``default`` None leaves the kind to the request (``search``'s request file).
    """
    return click.option(
        "--kind",
        type=click.Choice(["access", "portability"]),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def language_option(default: str | None, help_text: str) -> Decorator:
    """``--lang nl|en`` into ``language``: the languages the package texts exist in."""
    return click.option(
        "--lang",
        "language",
        type=click.Choice(["nl", "en"]),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def parse_formats(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    """``--format json,csv,xlsx``: known formats, each once, in the order given."""
    formats = tuple(dict.fromkeys(p.strip().lower() for p in value.split(",") if p.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise click.BadParameter(
            f"{', '.join(unknown) or value!r}: expected some of {', '.join(FORMATS)}"
        )
    return formats
