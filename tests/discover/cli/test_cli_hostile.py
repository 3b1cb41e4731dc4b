"""The command line against hostile and broken surroundings: user values that look
like console markup, directories that are not discover's, a full disk, a read-only
file system, no permission, tampered cases, two exports racing. Each ends with its
documented exit code and a message naming the path, never a traceback or exit 3."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner, Result
from support.synthetic_case import write_synthetic_case

from discover.case import DECISIONS_FILE, HITS_FILE, SUMMARY_FILE, write_case
from discover.cli import cli
from discover.demo.databases import build_crm
from discover.demo.people import JAN
from discover.files import sha256_file

REPO = Path(__file__).resolve().parents[3]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "300"})


def flat(text: str) -> str:
    return " ".join(text.split())


def refused(result: Result, *expected: str) -> str:
    """Exit 2, no traceback, each expected text in the output."""
    text = flat(result.output)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output and "internal error" not in text
    for part in expected:
        assert part in text, (part, text)
    return text


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("estate")
    engine = sa.create_engine(f"sqlite:///{folder / 'crm.sqlite'}")
    try:
        build_crm(engine)
    finally:
        engine.dispose()
    source = {
        "name": "crm",
        "kind": "sql",
        "mapping": "shipped:demo/crm.yaml",
        "connection": {"url": "sqlite:///crm.sqlite"},
    }
    path = folder / "sources.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": [source]}), encoding="utf-8")
    return path


@pytest.fixture
def case(tmp_path: Path) -> Path:
    path = tmp_path / "case"
    write_synthetic_case(path, 200)
    return path


# -- console markup -------------------------------------------------------------------


def test_user_values_print_literally_never_as_markup(sources: Path, tmp_path: Path) -> None:
    case_dir = tmp_path / "c[/x]"
    name = "a[bold]b [/x] :x: [red]"
    result = invoke("search", "--sources", str(sources), "--name", name, "--case", str(case_dir))
    assert result.exit_code == 0, result.output
    for literal in ("a[bold]b", "[/x]", ":x:", "[red]", f"case written to {case_dir}"):
        assert literal in result.output, literal
    mac = invoke("search", "--sources", str(sources), "--mac", "00:15:65:ab:cd", "--case", "x")
    refused(mac, "00:15:65:ab:cd")
    assert "\N{NEGATIVE SQUARED AB}" not in mac.output
    missing = invoke(
        "search", "--sources", str(tmp_path / "no[bold]x:x:.yaml"), "--email", JAN.email
    )
    assert missing.exit_code == 2  # no MarkupError
    refused(
        invoke(
            "search",
            "--sources",
            str(tmp_path / "no[bold]x:x:.yaml"),
            "--email",
            JAN.email,
            "--case",
            str(tmp_path / "c2"),
        ),
        "no[bold]x:x:.yaml: file not found",
    )


# -- directories that are not ours ----------------------------------------------------


def test_export_out_keeps_the_mode_of_a_shared_directory(case: Path, tmp_path: Path) -> None:
    shared = tmp_path / "spool"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    result = invoke("export", "--allow-undecided", str(case), "--out", str(shared))
    assert result.exit_code == 0, result.output
    assert mode(shared) == 0o1777
    (package,) = shared.iterdir()
    assert mode(package) == 0o700


def test_search_case_in_an_existing_empty_directory_keeps_its_mode(
    sources: Path, tmp_path: Path
) -> None:
    given = tmp_path / "given"
    given.mkdir()
    os.chmod(given, 0o750)
    result = invoke("search", "--sources", str(sources), "--email", JAN.email, "--case", str(given))
    assert result.exit_code == 0, result.output
    assert mode(given) == 0o750
    assert mode(given / SUMMARY_FILE) == 0o600


def test_search_refuses_a_directory_with_other_files(sources: Path, tmp_path: Path) -> None:
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    before = mode(folder)
    result = invoke(
        "search", "--sources", str(sources), "--email", JAN.email, "--case", str(folder)
    )
    refused(result, f"{folder} is not empty and holds no case ('notes.txt')")
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"] and mode(folder) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_an_empty_directory_name_is_refused(sources: Path, case: Path) -> None:
    refused(
        invoke("search", "--sources", str(sources), "--email", JAN.email, "--case", ""),
        "--case",
        "empty name",
    )
    refused(invoke("export", "--allow-undecided", str(case), "--out", ""), "--out", "empty name")
    refused(invoke("review", ""), "empty name")


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("umask")
def test_parents_are_created_0700_whatever_the_umask(sources: Path, tmp_path: Path) -> None:
    case_dir = tmp_path / "a" / "b" / "case"
    result = invoke(
        "search", "--sources", str(sources), "--email", JAN.email, "--case", str(case_dir)
    )
    assert result.exit_code == 0, result.output
    for folder in (tmp_path / "a", tmp_path / "a" / "b", case_dir):
        assert mode(folder) == 0o700, folder
    out = tmp_path / "x" / "y"
    assert invoke("export", "--allow-undecided", str(case_dir), "--out", str(out)).exit_code == 0
    assert mode(tmp_path / "x") == mode(out) == 0o700


def test_a_path_under_a_regular_file_is_exit_2_naming_it(
    sources: Path, case: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x", encoding="utf-8")
    refused(
        invoke(
            "search", "--sources", str(sources), "--email", JAN.email, "--case", str(plain / "case")
        ),
        f"{plain} is not a directory",
    )
    refused(
        invoke("export", "--allow-undecided", str(case), "--out", str(plain / "out")),
        str(plain),
        "Not a directory",
    )


def test_a_name_too_long_for_the_file_system_is_exit_2(sources: Path, tmp_path: Path) -> None:
    long_case = tmp_path / ("c" * 300)
    result = invoke(
        "search", "--sources", str(sources), "--email", JAN.email, "--case", str(long_case)
    )
    refused(result, "File name too long", "c" * 40)


# -- the machine: full disk, read-only, no permission ---------------------------------


def _namespace_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not _namespace_works(), reason="needs unshare (user and mount namespaces) to mount a tmpfs"
)


def _discover_in_namespace(script: str) -> subprocess.CompletedProcess[str]:
    """Run a shell script as root of a private mount namespace; ``discover`` is this tree's."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"}
    runner = f'discover() {{ {sys.executable} -c "from discover.cli import main; main()" "$@"; }}'
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"{runner}\nset -u\n{script}"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=REPO,
    )


@needs_namespaces
def test_a_full_disk_is_exit_2_naming_the_path_and_leaves_nothing(
    sources: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    run = _discover_in_namespace(
        f"mount -t tmpfs -o size=64k tmpfs {disk}\n"
        f"dd if=/dev/zero of={disk}/fill bs=4k count=64 2>/dev/null || true\n"
        f"discover search --sources {sources} --email {JAN.email} --case {disk}/case\n"
        "echo exit=$?\n"
        f"ls -A {disk}\n"
    )
    assert "exit=2" in run.stdout, (run.stdout, run.stderr)
    assert f"{disk}/case/" in flat(run.stderr) and "No space left on device" in run.stderr
    assert ".tmp-" not in run.stderr  # the case is named, not where it was being built
    assert "Traceback" not in run.stderr
    assert run.stdout.split("exit=2")[1].split() == ["fill"]  # no case, no leftovers


@needs_namespaces
def test_a_case_on_a_read_only_file_system_is_refused_before_any_package(
    sources: Path, case: Path, tmp_path: Path
) -> None:
    disk, out = tmp_path / "ro", tmp_path / "out"
    disk.mkdir()
    run = _discover_in_namespace(
        f"mount -t tmpfs tmpfs {disk}\ncp -a {case} {disk}/case\n"
        f"mount -o remount,ro {disk}\n"
        f"discover export --allow-undecided {disk}/case --out {out}\necho exit=$?\n"
        f"discover review {disk}/case --confirm 1 --reason r --by A\necho exit=$?\n"
        f"discover search --sources {sources} --email {JAN.email} --case {disk}/new\n"
        "echo exit=$?\n"
    )
    assert run.stdout.split() == ["exit=2"] * 3, (run.stdout, run.stderr)
    errors = flat(run.stderr)
    assert f"{disk}/case: Read-only file system" in errors
    assert f"{disk}/case/.decisions.lock: Read-only file system" in errors
    assert f"{disk}/new: Read-only file system" in errors and "Traceback" not in errors
    assert not out.exists()  # no package that its case does not record


def test_permission_denied_is_exit_2_naming_the_path(case: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:
        if not _namespace_works():
            pytest.skip("as root, needs a user namespace to be denied anything")
        os.chown(locked, 65534, 65534)  # owned by nobody: not ours inside the namespace
        os.chmod(tmp_path, 0o755)
        env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"}
        run = subprocess.run(
            [
                "unshare",
                "--user",
                "--map-user=1000",
                "--map-group=1000",
                sys.executable,
                "-c",
                "from discover.cli import main; main()",
                "export",
                "--allow-undecided",
                str(case),
                "--out",
                str(locked / "out"),
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd=REPO,
        )
        code, output = run.returncode, run.stderr
    else:
        os.chmod(locked, 0o500)
        result = invoke("export", "--allow-undecided", str(case), "--out", str(locked / "out"))
        code, output = result.exit_code, result.output
    assert code == 2, output
    assert f"{locked}/out: Permission denied" in flat(output) and "Traceback" not in output


def test_two_exports_racing_end_with_one_package_and_exit_2_appeared_meanwhile(
    case: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "300"}
    command = [
        sys.executable,
        "-c",
        "from discover.cli import main; main()",
        "export",
        "--allow-undecided",
        str(case),
    ]
    for attempt in range(3):
        out = tmp_path / f"out-{attempt}"
        racers = [
            subprocess.Popen(
                [*command, "--out", str(out)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=REPO,
            )
            for _ in range(2)
        ]
        results = [(p.wait(), p.communicate()[1]) for p in racers]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 2], results
        loser = next(err for code, err in results if code == 2)
        assert "appeared meanwhile" in loser or "exists already" in loser, loser
        # the default scope is the provider's own part: the name says so
        assert [p.name for p in out.iterdir()] == ["REQ-SYNTH-0001-access-provider"]


# -- tampered cases -------------------------------------------------------------------


def _rewrite_hits(case_dir: Path, column: str, row: int, value: object) -> None:
    """Change one cell and the checksum with it: a tampering that keeps the case consistent."""
    hits = pq.read_table(case_dir / HITS_FILE)
    values = hits.column(column).to_pylist()
    values[row] = value
    index = hits.schema.get_field_index(column)
    field = hits.schema.field(column).with_nullable(True)
    pq.write_table(
        hits.set_column(index, field, pa.array(values, field.type)), case_dir / HITS_FILE
    )
    summary = json.loads((case_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    summary["checksums"][HITS_FILE] = sha256_file(case_dir / HITS_FILE)
    (case_dir / SUMMARY_FILE).write_text(json.dumps(summary), encoding="utf-8")


def test_a_category_not_in_the_register_is_exit_2_with_the_place(case: Path) -> None:
    _rewrite_hits(case, "category", 2, "made.up")
    refused(
        invoke("export", "--allow-undecided", str(case)),
        "case/hits.parquet: row 3, column category: 'made.up' is not a category of the register",
    )
    assert not (case / "packages").exists()


def test_a_null_source_is_exit_2_with_the_place(case: Path) -> None:
    _rewrite_hits(case, "source", 0, None)
    refused(
        invoke("export", "--allow-undecided", str(case)),
        "case/hits.parquet: row 1, column source: empty (null)",
    )
    refused(invoke("review", str(case)), "row 1, column source")


def test_wrong_types_in_decisions_are_exit_2_with_the_place(case: Path) -> None:
    decision = {
        "source": "crm",
        "location": "contacts",
        "record_key": "id=1",
        "action": "confirm",
        "reason": 5,
        "decided_by": "A",
        "decided_at": "2026-01-01",
    }
    (case / DECISIONS_FILE).write_text(
        json.dumps({"version": 1, "decisions": [decision]}), encoding="utf-8"
    )
    refused(
        invoke("export", "--allow-undecided", str(case)),
        "case/decisions.json: decisions[0].reason",
        "5 is not of type string",
    )
    refused(invoke("review", str(case)), "decisions[0].reason")


def test_a_summary_without_its_failed_sources_is_not_exported_as_complete(case: Path) -> None:
    summary = json.loads((case / SUMMARY_FILE).read_text(encoding="utf-8"))
    del summary["failed_sources"]
    (case / SUMMARY_FILE).write_text(json.dumps(summary), encoding="utf-8")
    refused(
        invoke("export", "--allow-undecided", str(case)),
        "case/summary.json",
        "required key 'failed_sources' is missing",
    )
    summary["failed_sources"] = []
    summary["sources"][0]["status"] = "failed"
    (case / SUMMARY_FILE).write_text(json.dumps(summary), encoding="utf-8")
    refused(invoke("export", "--allow-undecided", str(case)), "failed_sources: lacks")
    assert not (case / "packages").exists()


def test_a_secret_in_a_case_is_still_withheld(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky"
    write_synthetic_case(leaky, 300, leak_secrets=True)
    # every controller's part and the undecided matches too: no secret anywhere
    every = ["--controller", "all", "--client-instruction", "T-1", "--allow-undecided"]
    result = invoke("export", str(leaky), "--format", "json,csv", *every)
    assert result.exit_code == 0, result.output
    package = leaky / "packages" / "REQ-SYNTH-0001-access-provider"
    for file in package.rglob("*"):
        if file.is_file():
            assert b"S3CRET-" not in file.read_bytes(), file


def test_a_case_replaced_with_force_over_another_request_exports_only_the_new(
    sources: Path, tmp_path: Path
) -> None:
    case_dir = tmp_path / "case"
    first = invoke(
        "search",
        "--sources",
        str(sources),
        "--email",
        JAN.email,
        "--request-id",
        "REQ-A",
        "--case",
        str(case_dir),
    )
    assert first.exit_code == 0, first.output
    second = invoke(
        "search",
        "--sources",
        str(sources),
        "--email",
        "nobody@example.nl",
        "--request-id",
        "REQ-B",
        "--case",
        str(case_dir),
        "--force",
    )
    assert second.exit_code == 0, second.output
    assert write_case is not None
    exported = invoke("export", "--allow-undecided", str(case_dir), "--format", "json")
    assert exported.exit_code == 0, exported.output
    document = json.loads(
        (case_dir / "packages" / "REQ-B-access-provider" / "access.json").read_text(
            encoding="utf-8"
        )
    )
    assert JAN.email.lower() not in json.dumps(document).lower()


def test_batch_out_keeps_the_mode_of_a_shared_directory_and_refuses_foreign_files(
    sources: Path, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.csv"
    requests.write_text(f"request_id,email\nREQ-1,{JAN.email}\n", encoding="utf-8")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    args = ["batch", str(requests), "--sources", str(sources), "--no-progress"]
    result = invoke(*args, "--out", str(shared))
    assert result.exit_code == 0, result.output
    assert mode(shared) == 0o1777
    assert mode(shared / "cases") == mode(shared / "packages") == 0o700
    assert invoke(*args, "--out", str(shared)).exit_code == 0  # its own output: a rerun
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.odt").write_bytes(b"mine")
    refused(invoke(*args, "--out", str(home)), f"{home} is not empty and holds no batch output")
    assert [p.name for p in home.iterdir()] == ["thesis.odt"]


@needs_namespaces
@pytest.mark.parametrize("form", ["json", "xlsx"])
def test_a_full_disk_during_an_export_is_exit_2_naming_where(tmp_path: Path, form: str) -> None:
    case_dir = tmp_path / "big"
    write_synthetic_case(case_dir, 3000)
    disk = tmp_path / "disk"
    disk.mkdir()
    run = _discover_in_namespace(
        f"mount -t tmpfs -o size=64k tmpfs {disk}\n"
        f"discover export --allow-undecided {case_dir} --format {form} --out {disk}/out\n"
        "echo exit=$?\n"
        f"ls -A {disk}/out\n"
    )
    assert "exit=2" in run.stdout, (run.stdout, run.stderr)
    assert f"writing under {disk}/out: No space left on device" in flat(run.stderr)
    assert run.stdout.split("exit=2")[1].split() == []  # no package, no staging left
