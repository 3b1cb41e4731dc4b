"""Rendering results for people (rich tables) and machines (JSON).

Every value that comes from a user or a source (identifiers, paths, names, errors)
is escaped before rich sees it, and emoji codes are off: ``[/x]``, ``a[bold]b``,
``:x:`` and the MAC ``00:15:65:ab:cd`` print as they are.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich loads when something is shown: a --json search prints without it
    from rich.console import Console
    from rich.table import Table


def escape(markup: str) -> str:
    """``rich.markup.escape``, with rich loaded on first use."""
    from rich.markup import escape as rich_escape

    return rich_escape(markup)


@cache
def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, emoji=False)


@cache
def console_err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False)


def print_json(document: Any) -> None:
    """Machine output on stdout: plain JSON, nothing else."""
    print(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def sources_table(summary: dict[str, Any]) -> Table:
    """Per source: status, records, hits, and hits per category (one category a line)."""
    from rich.table import Table

    table = Table(title="Sources", title_justify="left")
    for column in ("source", "kind", "status", "records", "hits", "categories"):
        table.add_column(column, justify="right" if column in ("records", "hits") else "left")
    for source in summary["sources"]:
        status = source["status"]
        style = {"ok": "green", "failed": "bold red", "skipped": "dim"}.get(status, "")
        detail = escape(status + (" (see below)" if source.get("error") else ""))
        categories = "\n".join(f"{k} {v}" for k, v in source.get("categories", {}).items())
        table.add_row(
            escape(source["name"]),
            escape(source["kind"]),
            f"[{style}]{detail}[/]" if style else detail,
            str(source.get("records", 0)),
            str(source.get("hits", 0)),
            escape(categories or "-"),
        )
    return table


def identifiers_table(summary: dict[str, Any]) -> Table:
    """The identifiers searched, how each was found, and where expansion stopped."""
    from rich.table import Table

    table = Table(title="Identifiers", title_justify="left")
    for column in ("identifier", "depth", "found in", "note"):
        table.add_column(column, overflow="fold")  # never cut an identifier short
    for trace in summary["identifiers"]:
        note = trace.get("stopped") or ("searched" if trace.get("searched") else "")
        table.add_row(
            escape(trace["identifier"]),
            str(trace["depth"]),
            escape(trace.get("found_in") or "request"),
            escape(note),
        )
    return table


#: warnings shown per source on the console; summary.json holds them all
SHOWN_WARNINGS = 5


def print_source_warnings(source: dict[str, Any]) -> None:
    """A source's own warnings (a file not read, parsing that stopped, a value left
    out): without them an operator sees "truncated results" and not why."""
    warnings = [str(w) for w in source.get("warnings") or []]
    out = console()
    for warning in warnings[:SHOWN_WARNINGS]:
        out.print(f"[yellow]warning:[/] source {escape(source['name'])}: {escape(warning)}")
    if len(warnings) > SHOWN_WARNINGS:
        out.print(
            f"[yellow]warning:[/] source {escape(source['name'])}: "
            f"{len(warnings) - SHOWN_WARNINGS} more warning(s) in summary.json"
        )


def print_summary(summary: dict[str, Any], *, case_path: str) -> None:
    out = console()
    out.print(sources_table(summary))
    out.print(identifiers_table(summary))
    totals = summary["totals"]
    out.print(
        f"{totals['records']} records, {totals['hits']} hits; "
        f"{totals['needs_review']} possible (need review), {totals['overdue']} overdue, "
        f"{totals['secrets_withheld']} secrets withheld, {totals['third_party']} third-party"
    )
    for source in summary["sources"]:
        if source.get("error"):
            out.print(
                f"[bold red]source {escape(source['name'])} {escape(source['status'])}:[/] "
                f"{escape(source['error'])}"
            )
    for source in summary["sources"]:
        print_source_warnings(source)
    for warning in summary.get("warnings", []):
        out.print(f"[yellow]warning:[/] {escape(warning)}")
    if summary["complete"]:
        out.print(f"[green]complete[/]: case written to {escape(case_path)}")
    else:
        failed = ", ".join(summary["failed_sources"]) or (
            "identifiers rejected" if summary.get("rejected_identifiers") else "truncated results"
        )
        out.print(
            f"[bold red]INCOMPLETE[/] ({escape(failed)}): case written to {escape(case_path)}"
        )
