"""``discover export``: a package from a (reviewed) case."""

from __future__ import annotations

from pathlib import Path

import click

from discover.case import read_case
from discover.cli.output import console
from exporters import FORMATS, export_case


def _formats(_ctx: click.Context, _param: click.Parameter, value: str) -> list[str]:
    formats = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise click.BadParameter(
            f"{', '.join(unknown) or value!r}: expected some of {', '.join(FORMATS)}"
        )
    return formats


@click.command()
@click.argument("case_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--kind", type=click.Choice(["access", "portability"]), default="access", show_default=True
)
@click.option(
    "--format",
    "formats",
    default="json",
    show_default=True,
    callback=_formats,
    help=f"Comma-separated: {', '.join(FORMATS)}.",
)
@click.option(
    "--lang",
    "language",
    type=click.Choice(["nl", "en"]),
    default=None,
    help="Default: the request's language.",
)
@click.option(
    "--controller",
    type=click.Choice(["provider", "client", "all"]),
    default="all",
    show_default=True,
    help="Limit to the provider's or the client's part.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Parent directory of the package (default CASE/packages).",
)
@click.option("--force", is_flag=True, help="Replace an existing package.")
@click.pass_context
def export(
    ctx: click.Context,
    case_dir: Path,
    kind: str,
    formats: list[str],
    language: str | None,
    controller: str,
    out: Path | None,
    force: bool,
) -> None:
    """Write an access or portability package from CASE_DIR."""
    path = export_case(
        case_dir,
        kind=kind,  # type: ignore[arg-type]
        formats=formats,
        language=language,
        out=out,
        controller=controller,  # type: ignore[arg-type]
        force=force,
    )
    complete = read_case(case_dir).complete
    console().print(f"package written to {path}")
    if not complete:
        console().print(
            "[bold red]the case is INCOMPLETE[/]: the package says which sources failed"
        )
    ctx.exit(0 if complete else 1)
