"""The ``discover`` command line.

Exit codes: 0 success; 1 a source failed or a package is incomplete; 2 bad input
(malformed mapping, sources file, request, identifier, or an existing output) or a
problem of the machine (disk full, read-only file system, permission denied, a path
under a regular file, a name too long), named with its path; 3 an internal error (a
bug: rerun with --debug for the traceback).
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from importlib import import_module
from typing import Any

import click
from click.utils import make_default_short_help

from discover import allocator
from discover.cli import collector, ending
from discover.cli.options import WRITING
from discover.cli.output import console_err, escape
from discover.errors import DiscoverError, ExportError, InputError, SourceError

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3

#: errors of the machine rather than of discover: the disk, the file system, access
#: rights, names. They are the operator's to fix and exit 2 with the path, not 3.
ENVIRONMENT_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EFBIG,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ENAMETOOLONG,
        errno.ELOOP,
        errno.ENOENT,
        errno.EEXIST,
        errno.ENOTEMPTY,
        errno.EXDEV,
        errno.EBUSY,
        errno.EIO,
        errno.EMFILE,
        errno.ENFILE,
    }
)


def environment_error(exc: BaseException) -> OSError | None:
    """The machine's error behind ``exc``: itself, or one a library wrapped (xlsxwriter's
    FileCreateError holds the OSError of a full disk)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in ENVIRONMENT_ERRNOS:
            return current
        wrapped = current.args[0] if current.args else None
        if isinstance(wrapped, OSError) and wrapped.errno in ENVIRONMENT_ERRNOS:
            return wrapped
        current = current.__cause__ or current.__context__
    return None


def environment_message(exc: OSError, writing: object = None) -> str:
    """``PATH: No space left on device``: the path first, then what the system said.

    A failed write to an open file (a full disk) names no file; the message then
    names where the command was writing.
    """
    paths = [os.fsdecode(p) for p in (exc.filename, exc.filename2) if p is not None]
    if paths:
        where = " -> ".join(paths)
    else:
        where = f"writing under {writing}" if writing else "(the system named no file)"
    return f"{where}: {exc.strerror or exc}"


class DiscoverGroup(click.Group):
    """A click group that turns discover's errors into messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (InputError, ExportError) as exc:
            console_err().print(f"[bold red]error:[/] {escape(str(exc))}")
            ctx.exit(EXIT_BAD_INPUT)
        except SourceError as exc:
            console_err().print(f"[bold red]source failed:[/] {escape(str(exc))}")
            ctx.exit(EXIT_INCOMPLETE)
        except DiscoverError as exc:
            console_err().print(f"[bold red]error:[/] {escape(str(exc))}")
            ctx.exit(EXIT_INCOMPLETE)
        except Exception as exc:
            machine = environment_error(exc)
            if machine is not None:
                message = environment_message(machine, ctx.meta.get(WRITING))
                console_err().print(f"[bold red]error:[/] {escape(message)}")
                ctx.exit(EXIT_BAD_INPUT)
            if ctx.find_root().params.get("debug") or os.environ.get("DISCOVER_DEBUG"):
                raise
            console_err().print(
                f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                "This is a bug in discover; rerun with --debug for the traceback.",
                highlight=False,
            )
            ctx.exit(EXIT_INTERNAL)


#: command -> (module, attribute, short help). A command's module is imported only when
#: the command runs or shows its own help: ``discover --help`` loads no engine, no
#: connector and no exporter. The short help is checked against the command's own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "search": (
        "discover.cli.search",
        "search",
        "Search every source for one subject and write a case directory.",
    ),
    "review": (
        "discover.cli.review",
        "review",
        "List the records of CASE_DIR that need a decision, or record decisions.",
    ),
    "export": (
        "discover.cli.export",
        "export",
        "Write an access or portability package from CASE_DIR.",
    ),
    "demo": (
        "discover.cli.demo",
        "demo",
        "Build a demo estate (no server needed), search it for the demo subject and export.",
    ),
    "mappings": (
        "discover.cli.mappings",
        "mappings",
        "Work with mappings (one YAML file per source, format v1).",
    ),
    "batch": (
        "discover.cli.batch",
        "batch",
        "Search and export many subjects: one case and one package per request.",
    ),
    "scan": (
        "discover.cli.scan",
        "scan",
        "Find personal data in every source by its content, and what the mappings miss.",
    ),
    "register": (
        "discover.cli.register",
        "register",
        "Work with the processing register (mappings/register.yaml).",
    ),
    "requests": (
        "discover.cli.requests",
        "requests",
        "The register of requests: deadlines, identity verification, status, links.",
    ),
    "users": (
        "discover.cli.users",
        "users",
        "Console users: officers (do everything) and viewers (see the register and audit).",
    ),
    "audit": (
        "discover.cli.audit",
        "audit",
        "The audit log: who did what, hash-chained so that edits are detected.",
    ),
    "index": (
        "discover.cli.index",
        "index",
        "The persistent indexes of file sources: build, status, clear.",
    ),
    "serve": (
        "discover.cli.serve",
        "serve",
        "Serve the console: requests and deadlines, search, review, export, audit trail.",
    ),
}


class LazyGroup(DiscoverGroup):
    """The root group: commands load on first use, the overview from :data:`COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute, _ = COMMANDS[cmd_name]
            self.add_command(getattr(import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = [
            (name, make_default_short_help(COMMANDS[name][2], limit))
            if name in COMMANDS and name not in self.commands
            else (name, self.commands[name].get_short_help_str(limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(package_name="discover", prog_name="discover")
def cli(verbose: int, debug: bool) -> None:
    """Find a data subject's records across every source and export GDPR packages."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def main() -> None:
    """Console-script entry point: one command, then the exit (see
    :mod:`discover.cli.collector` for what that lets the garbage collector skip,
    :mod:`discover.allocator` for how polars gives memory back, and
    :mod:`discover.cli.ending` for how a search ends without the interpreter's teardown)."""
    allocator.configure()
    collector.one_command()
    ending.reset()
    try:
        cli(prog_name="discover")
    except SystemExit as exc:
        ending.leave(exc.code)  # returns when the process must end the normal way
        raise
    finally:
        collector.done()
