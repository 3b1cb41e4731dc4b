"""The ``discover`` command line.

Exit codes: 0 success; 1 a source failed or a package is incomplete; 2 bad input
(malformed mapping, sources file, request, identifier, or an existing output);
3 an internal error (a bug: rerun with --debug for the traceback).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from discover.cli.output import console_err
from discover.errors import DiscoverError, ExportError, InputError, SourceError

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class DiscoverGroup(click.Group):
    """A click group that turns discover's errors into messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (InputError, ExportError) as exc:
            console_err().print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            ctx.exit(EXIT_BAD_INPUT)
        except SourceError as exc:
            console_err().print(f"[bold red]source failed:[/] {exc}", highlight=False)
            ctx.exit(EXIT_INCOMPLETE)
        except DiscoverError as exc:
            console_err().print(f"[bold red]error:[/] {exc}", highlight=False)
            ctx.exit(EXIT_INCOMPLETE)
        except Exception as exc:
            if ctx.find_root().params.get("debug") or os.environ.get("DISCOVER_DEBUG"):
                raise
            console_err().print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
                "This is a bug in discover; rerun with --debug for the traceback.",
                highlight=False,
            )
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=DiscoverGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(package_name="discover", prog_name="discover")
def cli(verbose: int, debug: bool) -> None:
    """Find a data subject's records across every source and export GDPR packages."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def _register_commands() -> None:
    from discover.cli.batch import batch
    from discover.cli.demo import demo
    from discover.cli.export import export
    from discover.cli.mappings import mappings
    from discover.cli.register import register
    from discover.cli.review import review
    from discover.cli.search import search

    for command in (search, review, export, demo, mappings, batch, register):
        cli.add_command(command)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="discover")
