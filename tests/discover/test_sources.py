"""The sources file: ${VAR} resolution, the secrets file, and no secret ever written down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import load_mappings
from discover.config import shipped_path
from discover.errors import ConfigError
from discover.sources import Settings, expand_variables, load_sources, read_secrets_file

CRM = shipped_path("demo", "crm.yaml")


def write_sources(folder: Path, *sources: dict[str, Any], **top: Any) -> Path:
    path = folder / "sources.yaml"
    document = {"version": 1, **top, "sources": list(sources)}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def source(name: str = "crm", **connection: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "sql",
        "mapping": str(CRM),
        "connection": connection or {"url": "sqlite:///crm.sqlite"},
    }


def failure(path: Path, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_sources(path, environ=environ or {})
    return caught.value


def test_loads_sources_and_settings(tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "crm.yaml").write_text(CRM.read_text(encoding="utf-8"), encoding="utf-8")
    path = write_sources(
        tmp_path,
        {**source("crm"), "mapping": "maps/crm.yaml", "client": "Acme", "description": "CRM"},
        {**source("shipped"), "mapping": "shipped:demo/telephony.yaml"},
        {**source("off"), "enabled": False},
        settings={"max_depth": 2, "max_holders": 5},
    )
    config = load_sources(path, environ={})
    assert [s.name for s in config.sources] == ["crm", "shipped"]  # disabled left out
    crm, shipped = config.sources
    assert crm.mapping_path == tmp_path / "maps" / "crm.yaml"  # relative to the file
    assert crm.base_dir == tmp_path.resolve()
    assert crm.client == "Acme" and crm.description == "CRM"
    assert crm.file == "sources.yaml"
    assert shipped.mapping_path == shipped_path("demo", "telephony.yaml")
    assert config.settings == Settings(max_depth=2, max_holders=5, chunk_size=500)
    loaded = load_mappings(config)
    assert loaded["crm"].kind == "sql"
    assert "contacts" in loaded["crm"].model.tables


def test_variables_from_the_environment(tmp_path: Path) -> None:
    path = write_sources(
        tmp_path,
        source(
            url="postgresql://discover:${PGPASSWORD}@${PGHOST:-localhost}/crm",
            password="${PGPASSWORD}",
            hosts=["${PGHOST:-db1}", "db2"],
            timeout=5,
        ),
    )
    config = load_sources(path, environ={"PGPASSWORD": "s3cr:et@"})
    connection = config.sources[0].connection
    assert connection["url"] == "postgresql://discover:s3cr:et@@localhost/crm"
    assert connection["password"] == "s3cr:et@"
    assert connection["hosts"] == ["db1", "db2"]
    assert connection["timeout"] == 5


def test_process_environment_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCOVER_TEST_CRM_URL", "sqlite:///from-env.sqlite")
    path = write_sources(tmp_path, source(url="${DISCOVER_TEST_CRM_URL}"))
    assert load_sources(path).sources[0].connection["url"] == "sqlite:///from-env.sqlite"


def test_unset_variable_is_named(tmp_path: Path) -> None:
    path = write_sources(tmp_path, source("a"), source("fides", url="${FIDES_SAMPLE_URL}"))
    error = failure(path)
    assert error.file == "sources.yaml"
    assert error.place == "sources[1].connection.url"
    assert error.message.startswith("environment variable FIDES_SAMPLE_URL is not set")


@pytest.mark.parametrize("text", ["${ PGHOST}", "${PGHOST", "$(PGHOST)x${1X}", "${}"])
def test_malformed_variable_reference(tmp_path: Path, text: str) -> None:
    path = write_sources(tmp_path, source(url=f"postgresql://u@{text}/db"))
    error = failure(path, {"PGHOST": "h"})
    assert error.place == "sources[0].connection.url"
    assert "is not a variable reference: expected ${NAME} or ${NAME:-default}" in error.message


def test_expand_variables_leaves_other_values() -> None:
    assert expand_variables(5, {}, file="f", where="w") == 5
    assert expand_variables(True, {}, file="f", where="w") is True
    assert expand_variables("$HOME", {}, file="f", where="w") == "$HOME"


# -- no literal secrets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ({"url": "x", "password": "hunter2"}, "a password must come from the environment"),
        ({"url": "x", "bind_password": "hunter2"}, "a bind_password must come from"),
        ({"url": "x", "api_key": "abc123"}, "a api_key must come from"),
        ({"url": "x", "client_secret": "abc123"}, "a client_secret must come from"),
        ({"url": "x", "token": "abc"}, "a token must come from"),
        ({"url": "x", "password": 1234}, "a password must come from"),  # not only strings
        ({"url": "x", "password": "${PW}extra"}, "a password must come from"),
        ({"url": "postgresql://crm:hunter2@db/crm"}, "the URL holds a password"),
        ({"url": "postgresql://crm:pa/ss@db/crm"}, "the URL holds a password"),
        ({"url": "mysql://crm@db/crm?password=hunter2"}, "the URL's password= holds a secret"),
    ],
)
def test_literal_secrets_are_refused(
    tmp_path: Path, connection: dict[str, Any], expected: str
) -> None:
    path = write_sources(tmp_path, source(**connection))
    error = failure(path, {"PW": "x"})
    assert error.file == "sources.yaml"
    assert error.place.startswith("sources[0].connection.")
    assert expected in error.message
    assert "hunter2" not in str(error)  # the secret is not repeated in the message


def test_literal_secret_in_a_disabled_source_is_refused(tmp_path: Path) -> None:
    path = write_sources(tmp_path, {**source(url="x", password="hunter2"), "enabled": False})
    assert failure(path).place == "sources[0].connection.password"


@pytest.mark.parametrize(
    "connection",
    [
        {"url": "postgresql://crm:${PGPASSWORD}@db/crm", "password": "${PGPASSWORD}"},
        {"url": "postgresql://crm@db:5432/crm"},
        {"url": "postgresql://crm:@db/crm"},
        {"url": "sqlite:///crm.sqlite", "password_file": "/run/secrets/x", "use_password": True},
        {"url": "mysql://crm@db/crm?password=${PW}&charset=utf8mb4"},
    ],
)
def test_references_and_non_secrets_are_accepted(
    tmp_path: Path, connection: dict[str, Any]
) -> None:
    path = write_sources(tmp_path, source(**connection))
    load_sources(path, environ={"PGPASSWORD": "x", "PW": "y"})


# -- the secrets file -----------------------------------------------------------------


def write_secrets(folder: Path, text: str, mode: int = 0o600) -> Path:
    path = folder / "secrets.env"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_secrets_file_supplies_variables(tmp_path: Path) -> None:
    write_secrets(
        tmp_path,
        "# crm\nPGPASSWORD='from file'\nexport PGUSER=discover\n\nPGHOST = \"db.internal\"\n",
    )
    path = write_sources(
        tmp_path,
        source(url="postgresql://${PGUSER}:${PGPASSWORD}@${PGHOST}/crm"),
        secrets_file="secrets.env",
    )
    config = load_sources(path, environ={"PGHOST": "from-env"})  # the environment wins
    assert config.sources[0].connection["url"] == "postgresql://discover:from file@from-env/crm"


def test_secrets_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    write_secrets(tmp_path, "PGPASSWORD=x\n", mode=0o644)
    path = write_sources(tmp_path, source(), secrets_file="secrets.env")
    error = failure(path)
    assert error.place == "secrets_file"
    assert "is readable by others (mode -rw-r--r--); chmod 600 it" in error.message


def test_secrets_file_group_readable_is_refused(tmp_path: Path) -> None:
    write_secrets(tmp_path, "PGPASSWORD=x\n", mode=0o640)
    path = write_sources(tmp_path, source(), secrets_file="secrets.env")
    assert "readable by others" in failure(path).message


def test_secrets_file_missing(tmp_path: Path) -> None:
    path = write_sources(tmp_path, source(), secrets_file="nowhere.env")
    error = failure(path)
    assert error.place == "secrets_file"
    assert "cannot read" in error.message and "No such file" in error.message


def test_secrets_file_bad_line(tmp_path: Path) -> None:
    secrets = write_secrets(tmp_path, "GOOD=1\nthis is not a setting\n")
    with pytest.raises(ConfigError) as caught:
        read_secrets_file(secrets, file="sources.yaml")
    assert str(caught.value) == "secrets.env: line 2: expected KEY=VALUE"
    assert "GOOD" not in str(caught.value)


# -- malformed sources files ----------------------------------------------------------


def test_variables_in_the_mapping_path(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "crm.yaml").write_text(CRM.read_text(encoding="utf-8"), encoding="utf-8")
    path = write_sources(
        tmp_path,
        {**source("crm"), "mapping": "${MAPPINGS_DIR}/crm.yaml"},
        {**source("shipped"), "mapping": "shipped:demo/${TELEPHONY_MAPPING:-telephony.yaml}"},
    )
    crm, shipped = load_sources(path, environ={"MAPPINGS_DIR": "site"}).sources
    assert crm.mapping_path == tmp_path.resolve() / "site" / "crm.yaml"
    assert shipped.mapping_path == shipped_path("demo", "telephony.yaml")
    error = failure(path)
    assert error.place == "sources[0].mapping"
    assert error.message.startswith("environment variable MAPPINGS_DIR is not set")


def test_duplicate_source_name(tmp_path: Path) -> None:
    path = write_sources(tmp_path, source("crm"), source("crm"))
    assert str(failure(path)) == "sources.yaml: sources[1].name: duplicate source name 'crm'"


def test_mapping_not_found(tmp_path: Path) -> None:
    path = write_sources(tmp_path, {**source(), "mapping": "missing.yaml"})
    error = failure(path)
    assert error.place == "sources[0].mapping"
    assert error.message == f"mapping file {tmp_path.resolve() / 'missing.yaml'} not found"


def test_wrong_version_and_unknown_kind(tmp_path: Path) -> None:
    path = write_sources(tmp_path, source())
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["version"] = 2
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert str(failure(path)) == "sources.yaml: version: expected 1, got 2"
    document["version"] = 1
    document["sources"][0]["kind"] = "mysql"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    error = failure(path)
    assert error.place == "sources[0].kind"
    assert error.message.startswith("'mysql' is not one of ['sql'")


def test_misspelt_key(tmp_path: Path) -> None:
    misspelt = source()
    misspelt["conection"] = misspelt.pop("connection")
    path = write_sources(tmp_path, misspelt)
    error = failure(path)
    assert error.place == "sources[0]"
    assert "required key 'connection' is missing (is 'conection' a misspelling?)" in error.message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("version: 1\nsources:\n  - name: crm\n   kind: sql\n", encoding="utf-8")
    error = failure(path)
    assert error.file == "sources.yaml"
    assert error.place == "line 4 column 4"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("", encoding="utf-8")
    assert str(failure(path)) == "sources.yaml: (top): None is not of type object"


def test_environment_is_not_leaked_into_messages(tmp_path: Path) -> None:
    path = write_sources(tmp_path, source(url="${DISCOVER_NOT_SET_ANYWHERE}"))
    message = str(failure(path, dict(os.environ)))
    assert "DISCOVER_NOT_SET_ANYWHERE" in message
