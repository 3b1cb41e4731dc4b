"""Encrypted packages: one AES-256 ZIP (WinZip AE-2) with the complete package inside."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import pyzipper
from package_checks import UNDECIDED_OUT, assert_absent
from support.synthetic_case import SECRET_PREFIX

from discover.errors import ExportError
from exporters import export_package, verify_package
from exporters.encrypt import check_passphrase, decrypt_archive, generate_passphrase

PASSPHRASE = "correct horse battery staple"


def test_encrypted_package_holds_only_the_archive(synthetic_case: Path, tmp_path: Path) -> None:
    result = export_package(
        synthetic_case,
        formats=["json", "csv", "xlsx"],
        out=tmp_path,
        passphrase=PASSPHRASE,
        **UNDECIDED_OUT,
    )
    package = result.path
    archive = package / f"{package.name}.zip"
    assert sorted(p.name for p in package.iterdir()) == sorted(
        [archive.name, "SHA256SUMS", "manifest.json"]
    )
    assert verify_package(package) == []
    assert json.loads((package / "manifest.json").read_text())["encrypted"] is True
    with zipfile.ZipFile(archive) as plain:
        for info in plain.infolist():
            assert info.flag_bits & 0x1, f"{info.filename} is not encrypted"
            assert info.compress_type == 99, "not AES (WinZip AE-x)"
    # no personal data readable without the passphrase (only file names are)
    assert_absent(package, ["jan", "Jan de Vries", "31612345678", SECRET_PREFIX])

    inner = decrypt_archive(archive, PASSPHRASE, tmp_path / "opened")
    opened = tmp_path / "opened" / package.name
    assert opened / "access.json" in inner
    assert verify_package(opened) == []
    assert (opened / "access.xlsx").is_file() and (opened / "csv" / "metadata.json").is_file()
    assert_absent(opened, [SECRET_PREFIX])


def test_wrong_passphrase_opens_nothing(synthetic_case: Path, tmp_path: Path) -> None:
    package = export_package(
        synthetic_case, formats=["json"], out=tmp_path, passphrase=PASSPHRASE, **UNDECIDED_OUT
    ).path
    with pytest.raises(RuntimeError), pyzipper.AESZipFile(package / f"{package.name}.zip") as z:
        z.setpassword(b"not the passphrase at all")
        z.read(z.namelist()[0])


def test_short_passphrases_are_refused(synthetic_case: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="at least 12"):
        export_package(
            synthetic_case, formats=["json"], out=tmp_path, passphrase="short", **UNDECIDED_OUT
        )
    assert not any(p.name.endswith("-access") for p in tmp_path.iterdir())
    with pytest.raises(ExportError):
        check_passphrase("x" * 11)


def test_generated_passphrases_are_long_and_different() -> None:
    first, second = generate_passphrase(), generate_passphrase()
    assert first != second
    assert len(first) >= 20 and check_passphrase(first) == first


def test_names_inside_the_zip_name_categories_never_records(
    demo_case: Path, tmp_path: Path
) -> None:
    from package_checks import EVERY

    from discover.case import read_case

    package = export_package(
        demo_case,
        kind="access",
        formats=["json", "csv", "xlsx"],
        out=tmp_path,
        passphrase=PASSPHRASE,
        **EVERY,
    ).path
    with zipfile.ZipFile(package / f"{package.name}.zip") as plain:
        names = plain.namelist()  # readable without the passphrase
    assert any(n.endswith("/csv/VoIP-toestel.csv") for n in names), names
    values = {
        str(v)
        for v in read_case(demo_case).hits.column("value").to_pylist()
        if v is not None and len(str(v)) >= 6
    }
    values |= {"001565abcd01", "001565ABCD01", "acme-ad", "bakkerij"}
    for name in names:
        for value in values:
            assert value.lower() not in name.lower(), (name, value)
