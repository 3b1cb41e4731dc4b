"""``discover review``: list what needs a decision in a case, and record decisions.

Without options it lists the records that need staff attention: possible matches
(found by name alone) nobody has decided on, which exports leave out until someone
confirms them, and records past their retention period, which stay in the subject's
package but should be deleted once the request is answered. ``--confirm`` and
``--exclude`` record decisions (with ``--reason`` and ``--by``) in the case's
decisions.json; ``--interactive`` walks through the open possible matches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from discover.cli.options import DirPath
from discover.cli.output import console, print_json
from discover.errors import InputError

if TYPE_CHECKING:
    from discover.policy import Decision
    from discover.review import ReviewItem

REVIEWER_ENV = "DISCOVER_REVIEWER"


def _short(value: str, width: int = 32) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def _table(items: list[ReviewItem]) -> Table:
    table = Table(title="Records", title_justify="left")
    for column in ("#", "record", "match", "overdue", "decision", "fields"):
        table.add_column(column, overflow="fold")
    for item in items:
        decision = item.decision
        shown = (
            f"{decision.action} by {decision.decided_by}: {decision.reason}"
            if decision
            else ("[bold yellow]needs decision[/]" if item.needs_decision else "")
        )
        table.add_row(
            str(item.index),
            escape(item.ref_text),
            escape(item.match),
            "[red]overdue[/]" if item.overdue else "",
            shown if not decision else escape(shown),
            escape("; ".join(f"{f}={_short(v)}" for f, v in item.preview[:4])),
        )
    return table


def _totals(items: list[ReviewItem]) -> dict[str, int]:
    return {
        "records": len(items),
        "needs_decision": sum(1 for i in items if i.needs_decision),
        "possible": sum(1 for i in items if i.match == "possible"),
        "confirmed": sum(1 for i in items if i.decision and i.decision.action == "confirm"),
        "excluded": sum(1 for i in items if i.decision and i.decision.action == "exclude"),
        "overdue": sum(1 for i in items if i.overdue),
    }


def _reviewer(by: str | None) -> str:
    name = by or os.environ.get(REVIEWER_ENV, "")
    if not name.strip():
        raise InputError(f"say who decides: --by NAME (or set {REVIEWER_ENV})")
    return name


def _interactive(case_dir: Path, items: list[ReviewItem], by: str) -> int:
    from discover.review import new_decision, record_decisions

    out = console()
    decided = 0
    open_items = [i for i in items if i.needs_decision]
    if not open_items:
        out.print("nothing needs a decision")
        return 0
    for item in open_items:
        out.print(f"\n[bold]#{item.index}[/] {escape(item.ref_text)} ({escape(item.match)})")
        out.print(f"  found on: {escape(item.matched_on)}")
        out.print(f"  via:      {escape(item.via)}")
        for field, value in item.preview:
            out.print(f"  {escape(field)}: {escape(value)}")
        choice = click.prompt(
            "  [c]onfirm as the subject's, [e]xclude, [s]kip, [q]uit",
            type=click.Choice(["c", "e", "s", "q"]),
            show_choices=False,
        )
        if choice == "q":
            break
        if choice == "s":
            continue
        reason = click.prompt("  reason")
        action = "confirm" if choice == "c" else "exclude"
        record_decisions(case_dir, [new_decision(item.ref, action, reason=reason, decided_by=by)])
        decided += 1
    return decided


@click.command()
@click.argument("case_dir", type=DirPath())
@click.option(
    "--confirm",
    "confirm_refs",
    multiple=True,
    metavar="REF",
    help="Confirm a record as the subject's (a listing number or source/location/key).",
)
@click.option(
    "--exclude",
    "exclude_refs",
    multiple=True,
    metavar="REF",
    help="Exclude a record from packages (not the subject's).",
)
@click.option("--reason", default=None, help="Why (required with --confirm/--exclude).")
@click.option("--by", default=None, help=f"Who decides (default ${REVIEWER_ENV}).")
@click.option("-i", "--interactive", is_flag=True, help="Decide on open possible matches.")
@click.option("--all", "show_all", is_flag=True, help="List every record, not only open ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
def review(
    case_dir: Path,
    confirm_refs: tuple[str, ...],
    exclude_refs: tuple[str, ...],
    reason: str | None,
    by: str | None,
    interactive: bool,
    show_all: bool,
    as_json: bool,
) -> None:
    """List the records of CASE_DIR that need a decision, or record decisions."""
    # The case (pyarrow) and the review (polars) load here, not for --help.
    from discover.case import read_case
    from discover.cli.search import print_identifier_notes
    from discover.review import (
        load_decisions,
        new_decision,
        record_decisions,
        resolve_ref,
        review_items,
    )

    case = read_case(case_dir)
    items = review_items(case)
    if confirm_refs or exclude_refs:
        reviewer = _reviewer(by)
        if not reason or not reason.strip():
            raise InputError("--confirm/--exclude need --reason TEXT")
        chosen: dict[tuple[str, str, str], str] = {}  # a repeat of a decision counts once
        for action, refs in (("confirm", confirm_refs), ("exclude", exclude_refs)):
            for ref in refs:
                item = resolve_ref(items, ref)
                if chosen.setdefault(item.ref, action) != action:
                    raise InputError(
                        f"record {item.ref_text!r} is both confirmed and excluded; "
                        "give one decision per record"
                    )
        decisions: list[Decision] = [
            new_decision(ref, action, reason=reason, decided_by=reviewer)  # type: ignore[arg-type]
            for ref, action in chosen.items()
        ]
        record_decisions(case_dir, decisions)
        from discover.desk.hooks import reviewed  # the register, when it knows the request

        reviewed(case.request.request_id, case_dir, decisions)
        for decision in decisions:
            console().print(
                f"{decision.action}: {escape('/'.join(decision.ref))} "
                f"({escape(decision.reason)}, by {escape(decision.decided_by)})"
            )
        items = review_items(case, load_decisions(case_dir))
    elif interactive:
        decided = _interactive(case_dir, items, _reviewer(by))
        if decided:
            from discover.desk.hooks import reviewed  # the register, when it knows the request
            from discover.review import load_history

            reviewed(case.request.request_id, case_dir, load_history(case_dir)[-decided:])
        items = review_items(case, load_decisions(case_dir))
    shown = items if show_all else [i for i in items if i.needs_attention or i.decision]
    totals = _totals(items)
    if as_json:
        print_json(
            {
                "case": str(case_dir),
                "totals": totals,
                "records": [i.to_document() for i in shown],
                "stopped_identifiers": case.summary.get("stopped_identifiers", []),
                "rejected_identifiers": case.summary.get("rejected_identifiers", []),
            }
        )
        return
    out = console()
    if shown:
        out.print(_table(shown))
    out.print(
        f"{totals['records']} records: {totals['needs_decision']} possible match(es) need a "
        f"decision (left out of packages until confirmed), {totals['confirmed']} confirmed, "
        f"{totals['excluded']} excluded; {totals['overdue']} past their retention period "
        "(they stay in the subject's package; schedule deletion after answering)"
    )
    print_identifier_notes(case.summary)
