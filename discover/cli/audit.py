"""``discover audit``: read and check the audit log."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from discover.cli.output import console, console_err, print_json
from discover.desk.options import data_options, open_desk, remember_group_options


@click.group()
@data_options
def audit(data: Path | None, db_url: str | None) -> None:
    """The audit log: who did what, hash-chained so that edits are detected."""
    remember_group_options(data, db_url)


@audit.command("verify")
@data_options
@click.pass_context
def verify(ctx: click.Context, data: Path | None, db_url: str | None) -> None:
    """Check the chain; exit 1 naming the first entry that was edited, moved or deleted."""
    with open_desk(data, db_url) as desk:
        result = desk.verify_audit()
    if result.ok:
        console().print(f"audit log intact: {result.entries} entries")
        return
    console_err().print(f"[bold red]audit log broken:[/] {escape(result.problem or '')}")
    console_err().print(f"({result.entries} entries before it are intact)")
    ctx.exit(1)


@audit.command("show")
@data_options
@click.option("--request", "request_id", default=None, help="Only the entries of one request.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
def show(
    data: Path | None, db_url: str | None, request_id: str | None, limit: int, as_json: bool
) -> None:
    """The newest entries first."""
    with open_desk(data, db_url) as desk:
        entries = desk.audit_entries(request_id=request_id, limit=limit)
    if as_json:
        print_json([entry.to_document() for entry in entries])
        return
    table = Table(title="Audit log", title_justify="left")
    for column in ("#", "at", "who", "action", "request", "detail"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(
            str(entry.seq),
            entry.at[:19],
            escape(entry.actor),
            entry.action,
            escape(entry.request_id or ""),
            escape(", ".join(f"{k}={v}" for k, v in entry.detail.items())),
        )
    console().print(table)
