"""Fast start: help and argument errors load no heavy library, and the overview of
commands says what each command's own help says.

Every command and subcommand of the click tree is probed: ``--help``, an unknown
option, an option without its value, a value of the wrong choice or type, a missing
required parameter, an unknown subcommand. Each probe runs in a process of its own
(forked from one interpreter that has loaded nothing but ``discover.cli``), so that
what one probe imports never hides what another does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from discover.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("polars", "sqlalchemy", "pyarrow", "openpyxl", "xlsxwriter", "ldap3")

#: one forked child per probe; each writes its exit code, output and heavy modules
DRIVER = (
    "import json, os, sys, time\n"
    "from discover.cli import cli\n"
    f"HEAVY = {HEAVY!r}\n"
    "work = sys.argv[1]\n"
    "probes = json.loads(sys.stdin.read())\n"
    "results = []\n"
    "for number, args in enumerate(probes):\n"
    "    out_path = os.path.join(work, f'{number}.out')\n"
    "    res_path = os.path.join(work, f'{number}.json')\n"
    "    pid = os.fork()\n"
    "    if pid == 0:\n"
    "        try:\n"
    "            fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
    "            os.dup2(fd, 1)\n"
    "            os.dup2(fd, 2)\n"
    "            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)\n"
    "            try:\n"
    "                cli.main(args=args, prog_name='discover')\n"
    "                code = 'returned'\n"
    "            except SystemExit as exc:\n"
    "                code = exc.code\n"
    "            except BaseException as exc:\n"
    "                code = f'raised {type(exc).__name__}: {exc}'\n"
    "            sys.stdout.flush()\n"
    "            sys.stderr.flush()\n"
    "            loaded = [m for m in HEAVY if m in sys.modules]\n"
    "            with open(res_path, 'w') as res:\n"
    "                json.dump({'code': code, 'loaded': loaded}, res)\n"
    "        finally:\n"
    "            os._exit(0)\n"
    "    deadline = time.monotonic() + 60\n"
    "    while os.waitpid(pid, os.WNOHANG) == (0, 0):\n"
    "        if time.monotonic() > deadline:\n"
    "            os.kill(pid, 9)\n"
    "            os.waitpid(pid, 0)\n"
    "            break\n"
    "        time.sleep(0.002)\n"
    "    try:\n"
    "        with open(res_path) as res:\n"
    "            result = json.load(res)\n"
    "    except OSError:\n"
    "        result = {'code': 'killed or crashed', 'loaded': []}\n"
    "    with open(out_path, errors='replace') as out:\n"
    "        result['output'] = out.read()\n"
    "    results.append(result)\n"
    "print(json.dumps(results))\n"
)


@dataclass(frozen=True)
class Probe:
    """One invocation and click's exit code for it: 0 for help, 2 for a usage error."""

    args: tuple[str, ...]
    code: int

    def __str__(self) -> str:
        return "discover " + " ".join(self.args)


def _tree(
    command: click.Command, path: tuple[str, ...], parent: click.Context | None
) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``command`` (itself included) with its path of names."""
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1] if path else "discover", parent=parent)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, (path, name)
            found += _tree(sub, (*path, name), ctx)
    return found


def _takes_value(option: click.Option) -> bool:
    optional_value = getattr(option, "_flag_needs_value", False)  # ``--opt`` alone is allowed
    return not (option.is_flag or option.count or optional_value)


def _bad_value(param: click.Parameter) -> str | None:
    """A value its type refuses, or None when it takes any string."""
    kind = param.type
    if isinstance(kind, click.Choice):
        return "no-such-choice"
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        return "not-a-number"
    if isinstance(kind, click.DateTime):
        return "not-a-date"
    if isinstance(kind, click.Path) and kind.exists:
        return "/no/such/path/anywhere"
    return None


def _probes_of(path: tuple[str, ...], command: click.Command) -> list[Probe]:
    probes = [Probe((*path, "--help"), 0), Probe((*path, "--no-such-option"), 2)]
    if isinstance(command, click.Group):
        probes.append(Probe((*path, "no-such-command"), 2))
        if not command.invoke_without_command:
            probes.append(Probe(path, 2))  # click shows the help: no subcommand given
        return probes
    if any(param.required for param in command.params):
        probes.append(Probe(path, 2))
    for param in command.params:
        if not isinstance(param, click.Option) or not _takes_value(param):
            continue
        name = param.opts[0]
        probes.append(Probe((*path, name), 2))  # the option without its value
        bad = _bad_value(param)
        if bad is not None:
            probes.append(Probe((*path, name, bad), 2))
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if arguments:
        bad = _bad_value(arguments[0])
        if bad is not None:
            probes.append(Probe((*path, bad), 2))
    return probes


def _all_probes() -> list[Probe]:
    return [probe for path, command in _tree(cli, (), None) for probe in _probes_of(path, command)]


def _run(probes: list[Probe], work: Path) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(work)],
        input=json.dumps([list(p.args) for p in probes]),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_probes_cover_every_command_and_kind_of_error() -> None:
    probes = _all_probes()
    commands = {p.args[0] for p in probes if p.args and p.args[0] in COMMANDS}
    assert commands == set(COMMANDS)
    assert any(p.args == ("search", "--kind", "no-such-choice") for p in probes)
    assert any(p.args == ("scan", "--sample", "not-a-number") for p in probes)
    assert any(p.args == ("export", "--format") for p in probes)
    assert any(p.args == ("mappings", "no-such-command") for p in probes)
    assert any(p.args == ("batch",) for p in probes)  # REQUESTS_FILE is missing
    assert Probe(("no-such-command",), 2) in probes
    assert Probe((), 2) in probes  # discover alone: click shows the overview


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the probes fork one process each")
def test_help_and_argument_errors_load_no_heavy_library(tmp_path: Path) -> None:
    probes = _all_probes()
    results = _run(probes, tmp_path)
    failures = []
    for probe, result in zip(probes, results, strict=True):
        output = result["output"]
        if result["code"] != probe.code:
            failures.append(f"{probe}: exit {result['code']}, expected {probe.code}\n{output}")
        elif probe.code == 0 and "Usage:" not in output:
            failures.append(f"{probe}: no help shown\n{output}")
        elif probe.code == 2 and not ("Usage:" in output or "Error: " in output):
            failures.append(f"{probe}: exit 2 but not click's usage error\n{output}")
        if result["loaded"]:
            failures.append(f"{probe}: imported {', '.join(result['loaded'])}")
    assert not failures, f"{len(failures)} of {len(probes)} probes:\n" + "\n".join(failures)


def test_a_heavy_import_in_a_command_module_is_caught(tmp_path: Path) -> None:
    """The probe itself sees a heavy library that a command module imports."""
    probe = Probe(("users", "--help"), 0)
    module = ROOT / "discover" / "cli" / "users.py"
    patched = tmp_path / "tree"
    (patched / "discover" / "cli").mkdir(parents=True)
    (patched / "discover" / "cli" / "users.py").write_text(
        module.read_text(encoding="utf-8") + "\nimport polars  # noqa: E402, F401\n",
        encoding="utf-8",
    )
    driver = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import discover.cli\n"
        f"discover.cli.__path__.insert(0, {str(patched / 'discover' / 'cli')!r})\n"
    )
    results = subprocess.run(
        [sys.executable, "-c", driver + DRIVER, str(tmp_path)],
        input=json.dumps([list(probe.args)]),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (result,) = json.loads(results.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert "polars" in result["loaded"]


def test_the_overview_matches_each_commands_own_help() -> None:
    ctx = click.Context(cli)
    assert set(cli.list_commands(ctx)) == set(COMMANDS)
    for name, (_module, _attribute, short) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(limit=300) == short, name
