"""``discover index``: the file sources' persistent indexes, for operators.

A search brings every index up to date itself (only changed files are read); these
commands build them ahead of the first search (after a night's provisioning run, a
new directory export, a month's spreadsheet exports), show where they are and what
they hold, and remove them.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from discover.cli.output import console, console_err, print_json

SOURCES = click.option(
    "--sources",
    "sources_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help=(
        "Sources file: every file source it names (provisioning directories, LDIF "
        "exports, CSV, XLSX and Parquet files)."
    ),
)
ONLY = click.option("--source", "only", metavar="NAME", help="Only the source of this name.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group()
def index() -> None:
    """The persistent indexes of file sources: build, status, clear."""


def _indexed(sources_file: Path, only: str | None) -> Iterator[tuple[str, str, Any]]:
    """(name, kind, connector or None) of every source; None for one without an index."""
    from connectors import load_mappings
    from connectors.heap import give_back_freed
    from discover.engine import open_connectors
    from discover.errors import InputError
    from discover.sources import load_sources

    sources = load_sources(sources_file)
    if only is not None and only not in {s.name for s in sources.sources}:
        names = ", ".join(s.name for s in sources.sources)
        raise InputError(f"{sources_file}: no source named {only!r} (the sources are: {names})")
    mappings = load_mappings(sources)
    from discover.register import default_register

    for connector in open_connectors(sources, mappings, default_register()):
        if only is not None and connector.name != only:
            continue
        has_index = hasattr(connector, "build_index")
        try:
            yield connector.name, connector.source.kind, connector if has_index else None
        finally:
            connector.close()
            # what one source's build freed goes back before the next one's starts
            gc.collect()
            give_back_freed()


def _run(
    ctx: click.Context,
    sources_file: Path,
    only: str | None,
    as_json: bool,
    action: Callable[[Any], dict[str, Any]],
) -> None:
    from discover.errors import SourceError

    rows: list[dict[str, Any]] = []
    failed = False
    for name, kind, connector in _indexed(sources_file, only):
        row: dict[str, Any] = {"source": name, "kind": kind}
        if connector is None:
            row["state"] = "no file index (searched in place)"
        else:
            try:
                row.update(action(connector))
            except SourceError as exc:
                failed = True
                row["state"] = f"failed: {exc}"
        rows.append(row)
    if as_json:
        print_json({"ok": not failed, "sources": rows})
    else:
        table = Table(title="File indexes", title_justify="left")
        for column in ("source", "kind", "state", "index file"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(
                escape(row["source"]),
                row["kind"],
                escape(str(row["state"])),
                escape(str(row.get("path", ""))),
            )
        console().print(table)
    if failed:
        console_err().print("[bold red]some indexes could not be built:[/] see the table")
        ctx.exit(1)


def _status_row(connector: Any) -> dict[str, Any]:
    status = connector.index_status()
    if status is None:
        return {"state": "off (connection.index: false)"}
    if not status["exists"]:
        state = "not built (the next search or 'discover index build' builds it)"
    elif status.get("busy"):
        state = "locked by another search or index build (left as it is)"
    elif status.get("damaged"):
        state = "damaged (the next search builds it again)"
    elif "files" in status:
        state = f"{status['files']} files, {status['keys']} identifiers"
    else:
        state = f"{status['values']} values"
    return {"state": state, **status}


def _build_row(connector: Any) -> dict[str, Any]:
    if connector.index_status() is None:
        return {"state": "off (connection.index: false)"}
    done = connector.build_index()
    if isinstance(done, bool):
        built = "export read and indexed" if done else "up to date"
    else:
        built = f"{done.parsed} file(s) read, {done.dropped} dropped"
    return {**_status_row(connector), "state": built}


def _clear_row(connector: Any) -> dict[str, Any]:
    status = connector.index_status()
    if status is None:
        return {"state": "off (connection.index: false)"}
    removed = connector.clear_index()
    return {"state": "removed" if removed else "there was none", "path": status["path"]}


@index.command("build")
@SOURCES
@ONLY
@JSON
@click.pass_context
def build(ctx: click.Context, sources_file: Path, only: str | None, as_json: bool) -> None:
    """Build or update the index of every file source (only changed files are read).

    \b
      discover index build --sources sources.yaml
      discover index build --sources sources.yaml --source provisioning

    Exit codes: 0 built; 1 a source could not be read; 2 the sources file or a
    mapping is malformed.
    """
    _run(ctx, sources_file, only, as_json, _build_row)


@index.command("status")
@SOURCES
@ONLY
@JSON
@click.pass_context
def status(ctx: click.Context, sources_file: Path, only: str | None, as_json: bool) -> None:
    """Where each file source's index is and what it holds."""
    _run(ctx, sources_file, only, as_json, _status_row)


@index.command("clear")
@SOURCES
@ONLY
@JSON
@click.pass_context
def clear(ctx: click.Context, sources_file: Path, only: str | None, as_json: bool) -> None:
    """Remove the indexes (the next search builds them again)."""
    _run(ctx, sources_file, only, as_json, _clear_row)
