"""``discover requests``: the register of data-subject requests and their deadlines."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.markup import escape
from rich.table import Table

from discover.cli.output import console, print_json
from discover.cli.search import identifier_options
from discover.desk.options import data_options, open_desk, remember_group_options

#: the kinds a request can be of (kept in step with discover.desk.schema.KINDS by a test)
KIND_CHOICES = (
    "access",
    "portability",
    "rectification",
    "erasure",
    "objection",
    "restriction",
)
METHOD_CHOICES = (
    "id-document",
    "account-login",
    "known-contact",
    "phone-callback",
    "in-person",
    "other",
)
_URGENCY_STYLE = {"overdue": "bold red", "due-soon": "yellow", "closed": "dim", "open": ""}


def _date(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _actor(by: str | None) -> str:
    from discover.desk.hooks import cli_actor

    return by.strip() if by and by.strip() else cli_actor()


def _print_record(record: Any, links: list[Any] | None = None) -> None:
    out = console()
    document = record.to_document(with_identifiers=links is not None)
    out.print(f"[bold]{escape(record.request_id)}[/] ({record.kind})")
    out.print(f"  status:    {record.status}")
    out.print(f"  received:  {record.received}")
    style = _URGENCY_STYLE[record.urgency()]
    deadline = f"{record.deadline} ({record.urgency()})"
    out.print("  deadline:  " + (f"[{style}]{deadline}[/]" if style else deadline))
    if record.extension_months:
        out.print(
            f"  extended:  by {record.extension_months} month(s) from {record.first_deadline}; "
            f"subject told {record.extension_told}; reason: {escape(record.extension_reason or '')}"
        )
    if record.verified_method:
        out.print(
            f"  verified:  {record.verified_method} by {escape(record.verified_by or '')} "
            f"at {record.verified_at}"
        )
    else:
        out.print("  verified:  [yellow]not yet[/]")
    for identifier in document.get("identifiers", []):
        out.print(f"  {identifier['type']}: {escape(identifier['value'])}")
    for link in links or []:
        out.print(f"  {link.kind}: {escape(link.path)}")


@click.group()
@data_options
def requests(data: Path | None, db_url: str | None) -> None:
    """The register of requests: deadlines, identity verification, status, links."""
    remember_group_options(data, db_url)


@requests.command("add")
@data_options
@click.option("--id", "request_id", required=True, help="Request id, e.g. REQ-2026-0001.")
@click.option("--kind", type=click.Choice(KIND_CHOICES), required=True, help="Kind of request.")
@click.option(
    "--received",
    required=True,
    callback=_date,
    metavar="DATE",
    help="Date the request was received (YYYY-MM-DD); the deadline is one month later.",
)
@click.option(
    "--lang", "language", type=click.Choice(["nl", "en"]), default="nl", show_default=True
)
@click.option("--client", default=None, help="The subject's employer (client organisation).")
@click.option("--by", default=None, help="Who registers it (default $DISCOVER_REVIEWER or login).")
@identifier_options
def add(
    data: Path | None,
    db_url: str | None,
    request_id: str,
    kind: str,
    received: date,
    language: str,
    client: str | None,
    by: str | None,
    **options: tuple[str, ...],
) -> None:
    """Register a request with the subject's identifiers (each checked as `search` does)."""
    from discover.desk.intake import new_request

    identifiers = [
        (name.removeprefix("id_"), value) for name, values in options.items() for value in values
    ]
    request = new_request(
        identifiers,
        request_id=request_id,
        kind=kind,
        received=received,
        language=language,
        client=client,
    )
    with open_desk(data, db_url, create=True) as desk:
        record = desk.add_request(request, kind=kind, actor=_actor(by))
    console().print(
        f"registered {escape(record.request_id)} ({record.kind}), deadline {record.deadline}"
    )


@requests.command("list")
@data_options
@click.option(
    "--due-within",
    type=click.IntRange(min=0),
    default=None,
    metavar="DAYS",
    help="Only open requests due within DAYS days (overdue ones included).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def list_requests(
    data: Path | None, db_url: str | None, due_within: int | None, as_json: bool
) -> None:
    """Requests by deadline; overdue and due-this-week ones stand out."""
    with open_desk(data, db_url) as desk:
        records = desk.listing(due_within=due_within)
    if as_json:
        print_json([record.to_document() for record in records])
        return
    table = Table(
        title="Requests", title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True
    )
    for column in ("request", "kind", "deadline", "due", "status", "verified"):
        table.add_column(column, no_wrap=column != "verified", overflow="fold")
    for record in records:
        urgency = record.urgency()
        style = _URGENCY_STYLE[urgency]
        due = {"overdue": "OVERDUE", "due-soon": "this week"}.get(urgency, "")
        table.add_row(
            escape(record.request_id),
            record.kind,
            str(record.deadline) + ("*" if record.extension_months else ""),
            f"[{style}]{due}[/]" if style and due else due,
            record.status,
            record.verified_method or "-",
        )
    console().print(table)
    console().print(f"{len(records)} request(s); * extended deadline")


@requests.command("show")
@data_options
@click.argument("request_id")
@click.option("--json", "as_json", is_flag=True, help="Print the request as JSON.")
def show(data: Path | None, db_url: str | None, request_id: str, as_json: bool) -> None:
    """One request with its identifiers, verification, deadline and linked cases/packages."""
    with open_desk(data, db_url) as desk:
        record = desk.get(request_id)
        links = desk.links(request_id)
    if as_json:
        document = record.to_document(with_identifiers=True)
        document["links"] = [{"kind": link.kind, "path": link.path} for link in links]
        print_json(document)
        return
    _print_record(record, links)


@requests.command("verify")
@data_options
@click.argument("request_id")
@click.option("--method", type=click.Choice(METHOD_CHOICES), required=True, help="How.")
@click.option("--by", default=None, help="Who checked (default $DISCOVER_REVIEWER or login).")
def verify(
    data: Path | None, db_url: str | None, request_id: str, method: str, by: str | None
) -> None:
    """Record that the subject's identity was verified: how, by whom, now."""
    actor = _actor(by)
    with open_desk(data, db_url) as desk:
        record = desk.verify(request_id, method=method, by=actor, actor=actor)
    console().print(
        f"{escape(record.request_id)}: identity verified ({method}, by {escape(actor)})"
    )


@requests.command("extend")
@data_options
@click.argument("request_id")
@click.option("--months", type=int, required=True, help="1 or 2 further months (once).")
@click.option("--reason", required=True, help="Why (complexity, number of requests).")
@click.option(
    "--told",
    callback=_date,
    default=None,
    metavar="DATE",
    help="When the subject was told of the extension (default today).",
)
@click.option("--by", default=None, help="Who extends (default $DISCOVER_REVIEWER or login).")
def extend(
    data: Path | None,
    db_url: str | None,
    request_id: str,
    months: int,
    reason: str,
    told: date | None,
    by: str | None,
) -> None:
    """Extend the deadline once by up to two months (Article 12(3) GDPR)."""
    with open_desk(data, db_url) as desk:
        record = desk.extend(
            request_id, months=months, reason=reason, told=told or date.today(), actor=_actor(by)
        )
    console().print(
        f"{escape(record.request_id)}: deadline {record.first_deadline} -> {record.deadline}"
    )


@requests.command("sent")
@data_options
@click.argument("request_id")
@click.option("--by", default=None, help="Who sent it (default $DISCOVER_REVIEWER or login).")
def sent(data: Path | None, db_url: str | None, request_id: str, by: str | None) -> None:
    """Record that the answer (the package) was sent to the subject."""
    with open_desk(data, db_url) as desk:
        desk.get(request_id)
        record = desk.advance(request_id, "sent", actor=_actor(by), action="sent")
    console().print(f"{escape(record.request_id)}: {record.status}")


@requests.command("close")
@data_options
@click.argument("request_id")
@click.option("--by", default=None, help="Who closes it (default $DISCOVER_REVIEWER or login).")
def close(data: Path | None, db_url: str | None, request_id: str, by: str | None) -> None:
    """Close a request: it leaves the deadline lists."""
    with open_desk(data, db_url) as desk:
        desk.get(request_id)
        record = desk.advance(request_id, "closed", actor=_actor(by), action="closed")
    console().print(f"{escape(record.request_id)}: closed")
