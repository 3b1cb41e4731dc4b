"""What :func:`export_package` refuses by itself, whoever calls it: a package that would
silently lack undecided possible matches, and client records without the client's
instruction. Callers that mean otherwise say so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from discover.case import read_case
from exporters import export_package
from exporters.export import (
    MissingClientInstruction,
    UndecidedMatches,
    load_export_log,
    needs_client_instruction,
)


def _nothing_written(case: Path, out: Path, logged: int) -> None:
    assert not out.exists() or not any(out.iterdir())
    assert len(load_export_log(case)) == logged


def test_undecided_matches_are_refused_by_default(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    pending = read_case(case).summary["totals"]["needs_review"]
    assert pending > 0, "the demo case must hold possible matches"
    logged = len(load_export_log(case))
    with pytest.raises(UndecidedMatches) as refused:
        export_package(case, formats=["json"], out=tmp_path / "out")
    assert refused.value.count == pending
    assert f"discover review {case}" in str(refused.value)
    _nothing_written(case, tmp_path / "out", logged)


def test_leaving_undecided_matches_out_is_asked_for_and_logged(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    result = export_package(case, formats=["json"], out=tmp_path / "out", allow_undecided=True)
    assert result.path.is_dir() and result.selection.pending_review > 0
    entry = load_export_log(case)[-1]
    assert entry["allow_undecided"] is True
    assert entry["pending_review"] == result.selection.pending_review


@pytest.mark.parametrize("controller", ["client", "all"])
@pytest.mark.parametrize("instruction", [None, "", "   "])
def test_client_records_are_refused_without_the_clients_instruction(
    demo_case: Path,
    fresh_case: Callable[[Path], Path],
    tmp_path: Path,
    controller: str,
    instruction: str | None,
) -> None:
    case = fresh_case(demo_case)
    logged = len(load_export_log(case))
    with pytest.raises(MissingClientInstruction) as refused:
        export_package(
            case,
            formats=["json"],
            out=tmp_path / "out",
            controller=controller,  # type: ignore[arg-type]
            client_instruction=instruction,
            allow_undecided=True,
        )
    message = str(refused.value)
    assert repr(controller) in message and "client's instruction" in message
    assert "--client-instruction" in message
    _nothing_written(case, tmp_path / "out", logged)


def test_client_records_go_out_on_the_clients_instruction(
    demo_case: Path, fresh_case: Callable[[Path], Path], tmp_path: Path
) -> None:
    case = fresh_case(demo_case)
    result = export_package(
        case,
        formats=["json"],
        out=tmp_path / "out",
        controller="all",
        client_instruction="ACME-2026-17",
        allow_undecided=True,
    )
    assert result.path.name.endswith("-access")
    assert load_export_log(case)[-1]["client_instruction"] == "ACME-2026-17"


def test_the_provider_scope_needs_no_instruction() -> None:
    assert not needs_client_instruction("provider", None)
    assert needs_client_instruction("client", " ") and needs_client_instruction("all", None)
    assert not needs_client_instruction("all", "ACME-2026-17")
