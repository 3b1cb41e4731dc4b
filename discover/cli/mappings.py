"""``discover mappings check``: validate mappings offline, or against the live sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from connectors import connector_class, load_mapping
from discover.cli.output import console, print_json
from discover.errors import ConfigError, SourceError
from discover.mapping import LoadedMapping
from discover.register import default_register
from discover.sources import load_sources

EXIT_OK, EXIT_PROBLEMS, EXIT_MALFORMED = 0, 1, 2


@click.group()
def mappings() -> None:
    """Work with mappings (one YAML file per source, format v1)."""


def _live_problems(source: Any, loaded: LoadedMapping, register: Any, settings: Any) -> list[str]:
    """Connect to one source and list what its mapping names that the source lacks."""
    cls = connector_class(source.kind)
    connector = cls(source, loaded.model, register, settings)
    try:
        connector.check()
        problems = list(connector.check_mapping())
    except SourceError as exc:
        return [f"cannot connect: {exc.message}"]
    finally:
        connector.close()
    return problems + _value_problems(source, loaded)


def _value_problems(source: Any, loaded: LoadedMapping) -> list[str]:
    """Mapped places whose sampled values do not fit their declared identifier type.

    A column of full phone numbers declared 'extension' would be searched for nothing.
    """
    from connectors.sampling import sampler
    from discover.discovery.scan import declared_mismatch

    try:
        places = sampler(source.kind)(source, loaded.model, 200)
    except SourceError as exc:
        return [f"cannot sample values: {exc.message}"]
    return [problem for place in places if (problem := declared_mismatch(place))]


@mappings.command()
@click.argument("mapping_files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--sources",
    "sources_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sources file: check every mapping it names.",
)
@click.option("--live", is_flag=True, help="Connect and check that every mapped place exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def check(
    ctx: click.Context,
    mapping_files: tuple[Path, ...],
    sources_file: Path | None,
    live: bool,
    as_json: bool,
) -> None:
    """Validate mapping files, or the sources file and every mapping it names.

    \b
      discover mappings check --sources sources.yaml          (offline)
      discover mappings check --sources sources.yaml --live   (connects)
      discover mappings check mappings/examples/fides-sample.yaml

    Offline: the JSON Schema, register categories and the references inside each
    mapping (keys, relations). Every mapping is checked and every malformed one is
    reported, naming the file, the place inside it and what was expected.
    With --live (needs --sources): connect to each source and report missing
    tables, columns, attributes or bases.

    Exit codes: 0 all good; 1 a live check found problems or could not connect;
    2 a sources file or mapping is malformed.
    """
    if not sources_file and not mapping_files:
        raise click.UsageError("give --sources FILE or one or more MAPPING files")
    if live and not sources_file:
        raise click.UsageError("--live needs --sources FILE (it holds the connections)")
    register = default_register()
    report: list[dict[str, Any]] = []
    for path in mapping_files:
        entry: dict[str, Any] = {"source": None, "kind": None, "mapping": str(path)}
        try:
            entry["kind"] = load_mapping(path, register).kind
            entry["error"], entry["problems"] = None, []
        except ConfigError as exc:
            entry["error"], entry["problems"] = str(exc), []
        report.append(entry)
    if sources_file is not None:
        sources = load_sources(sources_file)
        for source in sources.sources:
            entry = {
                "source": source.name,
                "kind": source.kind,
                "mapping": str(source.mapping_path),
                "error": None,
                "problems": [],
            }
            try:
                loaded = load_mapping(
                    source.mapping_path,
                    register,
                    expected_kind=source.kind,
                    overrides=source.overrides,
                )
            except ConfigError as exc:
                entry["error"] = str(exc)
            else:
                if live:
                    entry["problems"] = _live_problems(source, loaded, register, sources.settings)
            report.append(entry)
    malformed = any(entry["error"] for entry in report)
    problems = any(entry["problems"] for entry in report)
    if as_json:
        print_json({"live": live, "ok": not (malformed or problems), "sources": report})
    else:
        _print_report(report, live=live)
    ctx.exit(EXIT_MALFORMED if malformed else EXIT_PROBLEMS if problems else EXIT_OK)


def _print_report(report: list[dict[str, Any]], *, live: bool) -> None:
    out = console()
    for entry in report:
        name = f"{entry['source']} ({entry['kind']}, {entry['mapping']})"
        if entry["source"] is None:
            name = entry["mapping"]
        if entry["error"]:
            status = "[bold red]malformed[/]"
        elif entry["problems"]:
            status = "[red]problems[/]"
        else:
            status = "[green]ok[/]"
        out.print(f"{escape(name)}: {status}", highlight=False)
        if entry["error"]:
            out.print(f"  - {entry['error']}", markup=False, highlight=False)
        for problem in entry["problems"]:
            out.print(f"  - {problem}", markup=False, highlight=False)
    out.print("live check" if live else "offline check (use --live to connect)")


SCAFFOLD_KINDS = ("sql", "ldap", "ldif", "tabular", "voip")


@mappings.command()
@click.option("--kind", required=True, type=click.Choice(SCAFFOLD_KINDS), help="Kind of source.")
@click.option("--url", help="sql: the database URL; ldap: the server URL (ldap://host).")
@click.option("--path", help="ldif: the export; tabular: the file(s); voip: the directory.")
@click.option(
    "--sources",
    "sources_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Take the connection from this sources file (with --source).",
)
@click.option("--source", "source_name", metavar="NAME", help="The source in --sources.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The mapping file to write (must not exist).",
)
@click.option("--sample", "rows", type=click.IntRange(1, 100_000), default=200, show_default=True)
def scaffold(
    kind: str,
    url: str | None,
    path: str | None,
    sources_file: Path | None,
    source_name: str | None,
    out: Path,
    rows: int,
) -> None:
    """Write a first mapping for a source from what it holds.

    \b
      discover mappings scaffold --kind sql --url sqlite:///crm.sqlite --out crm.yaml
      discover mappings scaffold --kind tabular --path exports/sims.xlsx --out sims.yaml
      discover mappings scaffold --kind ldap --sources sources.yaml --source dir --out dir.yaml

    Every table (entry type, file) with its key and columns, identifier types from
    the sampled values, entity kinds and register categories guessed from names;
    a '# TODO' marks each guess to review. The mapping written validates; check it
    with 'discover mappings check --live' and adjust the TODOs.
    """
    from discover.discovery.scaffold import scaffold as write_scaffold

    given = [x for x in (url, path, sources_file) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --url, --path or --sources (with --source)")
    if sources_file is not None and not source_name:
        raise click.UsageError("--sources needs --source NAME")
    if out.exists():
        raise click.UsageError(f"{out} exists; choose another --out")
    source = _scaffold_source(kind, url, path, sources_file, source_name, out)
    text = write_scaffold(kind, source, rows=rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    try:
        load_mapping(out, default_register(), expected_kind=kind)
    except ConfigError as exc:  # a bug: the scaffold must always validate
        raise RuntimeError(f"the scaffolded mapping does not validate: {exc}") from exc
    todos = text.count("# TODO")
    console().print(
        f"wrote {escape(str(out))}: {todos} TODO(s) to review; then run "
        "'discover mappings check --sources FILE --live'",
        highlight=False,
    )


def _scaffold_source(
    kind: str,
    url: str | None,
    path: str | None,
    sources_file: Path | None,
    source_name: str | None,
    out: Path,
) -> Any:
    from discover.sources import SourceConfig

    if sources_file is not None:
        config = load_sources(sources_file, mappings_exist=False)
        chosen = [s for s in config.sources if s.name == source_name]
        if not chosen:
            known = ", ".join(s.name for s in config.sources)
            raise click.UsageError(f"{sources_file} has no source {source_name!r} (one of {known})")
        if chosen[0].kind != kind and {chosen[0].kind, kind} != {"ldap", "ldif"}:
            raise click.UsageError(f"source {source_name!r} is of kind {chosen[0].kind!r}")
        return chosen[0]
    if kind in ("sql", "ldap"):
        if url is None:
            raise click.UsageError(f"--kind {kind} needs --url")
        connection: dict[str, Any] = {"url": url}
    else:
        if path is None:
            raise click.UsageError(f"--kind {kind} needs --path")
        connection = {"directory": path} if kind == "voip" else {"path": path}
    return SourceConfig(name=out.stem, kind=kind, mapping_path=out, connection=connection)
