"""``discover export``: a package from a (reviewed) case."""

from __future__ import annotations

import getpass
import json
import os
import sys
import tempfile
from pathlib import Path

import click
from rich.markup import escape

from discover.cli.options import (
    WRITING,
    DirPath,
    kind_option,
    language_option,
    parse_formats,
)
from discover.cli.output import console, console_err
from discover.errors import ExportError
from exporters.formats import FORMATS

PASSPHRASE_ENV = "DISCOVER_PASSPHRASE"  # noqa: S105 - the variable's name
REVIEWER_ENV = "DISCOVER_REVIEWER"


def default_exporter() -> str:
    """Who exports, when --by is not given: $DISCOVER_REVIEWER, else the OS user."""
    from_env = os.environ.get(REVIEWER_ENV, "").strip()
    if from_env:
        return from_env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's numeric user)
        return f"uid {os.getuid()}"


def _passphrase(encrypt: str | None, variable: str) -> str | None:
    """The passphrase: generated, from the environment, or typed at a prompt."""
    if encrypt is None:
        return None
    from exporters.encrypt import MIN_PASSPHRASE, check_passphrase, generate_passphrase

    if encrypt == "generate":
        passphrase = generate_passphrase()
        console_err().print(
            f"passphrase (send it separately, e.g. by text message): [bold]{escape(passphrase)}[/]"
        )
        return passphrase
    from_env = os.environ.get(variable)
    if from_env:
        return check_passphrase(from_env)
    if not sys.stdin.isatty():
        raise ExportError(
            f"--encrypt needs a passphrase: set {variable} or run interactively to be asked"
        )
    typed = click.prompt(
        f"passphrase (at least {MIN_PASSPHRASE} characters)",
        hide_input=True,
        confirmation_prompt=True,
        err=True,
    )
    return check_passphrase(typed)


def _check_case_writable(case_dir: Path) -> None:
    """Every export is logged in the case: a case that cannot take the log entry (a
    read-only file system, no write permission) is refused before a package is written,
    so that no package exists that its case does not record."""
    if not case_dir.is_dir():
        return  # reading the case says what is wrong with it
    try:
        with tempfile.TemporaryFile(dir=case_dir):
            pass
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(case_dir)) from None


@click.command()
@click.argument("case_dir", type=DirPath())
@kind_option("access")
@click.option(
    "--format",
    "formats",
    default="json",
    show_default=True,
    callback=parse_formats,
    help=f"Comma-separated: {', '.join(FORMATS)} (portability adds contacts.vcf itself).",
)
@language_option(None, "Language of the package texts. Default: the request's language (Dutch).")
@click.option(
    "--controller",
    type=click.Choice(["provider", "client", "all"]),
    default="provider",
    show_default=True,
    help=(
        "Whose data goes in. provider: the provider's own data, and for each client "
        "organisation a section naming it as controller and whom to address; client or "
        "all: also the data processed for clients, which needs --client-instruction."
    ),
)
@click.option(
    "--client-instruction",
    metavar="REF",
    default=None,
    help="The client's instruction to answer for its data (a reference, kept in the export log).",
)
@click.option(
    "--allow-undecided",
    is_flag=True,
    help="Export although possible matches await review (they stay out; the log records it).",
)
@click.option(
    "--by",
    "exported_by",
    default=None,
    metavar="NAME",
    help=f"Who exports, for the export log (default ${REVIEWER_ENV}, else the OS user).",
)
@click.option(
    "--extend-deadline",
    type=click.IntRange(1, 2),
    default=None,
    metavar="MONTHS",
    help=(
        "Extend the one-month deadline by 1 or 2 months (Art. 12(3) GDPR); needs a reason. "
        "Recorded in the register too when it holds the request (once, as `requests extend`)."
    ),
)
@click.option(
    "--extension-reason",
    default=None,
    metavar="TEXT",
    help="Why the deadline is extended (complexity, number of requests): shown in the package.",
)
@click.option(
    "--out",
    type=DirPath(),
    default=None,
    help="Parent directory of the package (default CASE_DIR/packages).",
)
@click.option("--force", is_flag=True, help="Replace an existing package (atomically).")
@click.option(
    "--encrypt",
    type=click.Choice(["passphrase", "generate"]),
    default=None,
    help=(
        "Write the package as one AES-256 encrypted ZIP for e-mail. 'passphrase': taken "
        f"from ${PASSPHRASE_ENV} (see --passphrase-env) or asked for; 'generate': a random "
        "one, printed once on stderr."
    ),
)
@click.option(
    "--passphrase-env",
    default=PASSPHRASE_ENV,
    show_default=True,
    metavar="VAR",
    help="Environment variable holding the passphrase (never pass it as an argument).",
)
@click.option(
    "--vcard-version",
    type=click.Choice(["3.0", "4.0"]),
    default="3.0",
    show_default=True,
    help="vCard version of contacts.vcf (portability packages with phonebook contacts).",
)
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
    encrypt: str | None,
    passphrase_env: str,
    vcard_version: str,
    client_instruction: str | None,
    allow_undecided: bool,
    exported_by: str | None,
    extend_deadline: int | None,
    extension_reason: str | None,
) -> None:
    """Write an access or portability package from CASE_DIR.

    Possible matches must be decided first with `discover review` (or left out with
    --allow-undecided); secrets never leave; other people's data is redacted. When the
    register holds the case's request, its deadline extension goes into the package,
    and --extend-deadline is recorded there first. Exit 1 when the case is incomplete
    (a source failed): the package says so; exit 2 for undecided matches, a missing
    client instruction, a bad deadline extension or one other than the register's.
    """
    # the library's rule, checked before a passphrase is asked for or generated
    from exporters.export import require_client_instruction

    require_client_instruction(controller, client_instruction)
    if extension_reason and extend_deadline is None:
        raise ExportError("--extension-reason needs --extend-deadline MONTHS (1 or 2)")
    extension = (
        {"months": extend_deadline, "reason": extension_reason or ""}
        if extend_deadline is not None
        else None
    )
    _check_case_writable(case_dir)
    ctx.meta[WRITING] = out or case_dir / "packages"
    passphrase = _passphrase(encrypt, passphrase_env)
    exporter = exported_by or default_exporter()
    from discover.desk.extensions import agreed_extension

    # one extension per request: the register's goes into the package, the export's
    # into the register (first), and two different ones are refused
    agreed = agreed_extension(case_dir, extension, actor=exporter)
    if agreed.note:
        console().print(escape(agreed.note))
    from exporters import export_package  # loaded when a package is written, not for --help

    result = export_package(
        case_dir,
        kind=kind,  # type: ignore[arg-type]
        formats=formats,
        language=language,
        out=out,
        controller=controller,  # type: ignore[arg-type]
        force=force,
        passphrase=passphrase,
        vcard_version=vcard_version,  # type: ignore[arg-type]
        client_instruction=client_instruction,
        allow_undecided=allow_undecided,
        exported_by=exporter,
        extension=agreed.extension,
    )
    from discover.desk.hooks import exported  # the register, when it knows the request

    exported(
        case_dir,
        result.path,
        kind=kind,
        formats=formats,
        complete=result.complete,
    )
    out_console = console()
    selection = result.selection
    out_console.print(f"package written to {escape(str(result.path))}")
    out_console.print(
        f"{selection.records} records ({selection.hits.num_rows} fields) included; "
        f"{len(selection.withheld)} secret(s) withheld, {len(selection.redacted)} "
        f"field(s) of other people redacted; {len(selection.decisions_applied)} review "
        f"decision(s) applied"
        + (f"; {result.contacts} contact(s) in vCard" if result.contacts else "")
    )
    for name, count in sorted(selection.left_out.items()):
        out_console.print(f"left out: {escape(name)} ({count} fields)")
    if result.encrypted:
        out_console.print(
            "encrypted: send the .zip; the recipient opens it with 7-Zip, Keka or WinZip "
            "(AES-256) and the passphrase sent separately"
        )
    for notice in result.statement_notices:
        out_console.print(
            f"[yellow]attention:[/] the package holds {escape(notice)}, a category the "
            "privacy statement does not mention; have the statement updated"
        )
    for warning in result.warnings:
        out_console.print(f"[yellow]attention:[/] {escape(warning)}")
    if not result.complete:
        out_console.print(
            f"[bold red]the case is INCOMPLETE[/] ({escape(_incomplete_because(case_dir))}): "
            "the package says so"
        )
    ctx.exit(0 if result.complete else 1)


def _incomplete_because(case_dir: Path) -> str:
    """Why an exported case is incomplete, in a few words: staff must not look for a
    failed source when an identifier of the request was rejected."""
    try:
        summary = json.loads((case_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "see the case summary"
    reasons = []
    failed = summary.get("failed_sources") or []
    if failed:
        reasons.append("failed: " + ", ".join(str(name) for name in failed))
    rejected = summary.get("rejected_identifiers") or []
    if rejected:
        reasons.append(
            "rejected: "
            + ", ".join(
                f"{r.get('type')} {r.get('value')}" for r in rejected if isinstance(r, dict)
            )
        )
    truncated = [
        str(s.get("name"))
        for s in summary.get("sources") or []
        if isinstance(s, dict) and s.get("truncated") and s.get("name") not in failed
    ]
    if truncated:
        reasons.append("cut short: " + ", ".join(truncated))
    return "; ".join(reasons) or "see the case summary"
