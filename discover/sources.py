"""The sources file: which systems to search, with which mapping and connection.

Connection settings and mapping paths may hold ``${VAR}`` (or ``${VAR:-default}``),
taken from the environment, or else from the secrets file the sources file names. A variable that
is set nowhere is an error that names it: a search must never run against a
half-configured source. Passwords are accepted only through ``${VAR}``, so that no
secret sits in a file that is shared or committed.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discover.clients import ClientDirectory, read_clients
from discover.config import place, read_document, shipped_path, validate
from discover.errors import ConfigError

SHIPPED_PREFIX = "shipped:"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MALFORMED_VARIABLE = re.compile(r"\$\{[^}]*\}?")
#: connection keys whose value is a credential: accepted only as ${VAR}
_SECRET_KEY = re.compile(r"(pass(word|wd|phrase)?|pwd|secret|token|api_?key)$", re.IGNORECASE)
#: user:password@ in a URL, the way SQLAlchemy reads it (the password runs to the last @)
_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:]*:([^@]*)@", re.IGNORECASE)
_QUERY_SECRET = re.compile(r"[?&]([^=&]+)=([^&]*)")
#: the connection setting without which a source of each kind cannot be opened
REQUIRED_CONNECTION = {
    "sql": ("url", "a database URL, e.g. postgresql+psycopg://user@host/db"),
    "ldap": ("url", "a directory URL, e.g. ldaps://ldap.example.nl"),
    "ldif": ("path", "the LDIF file"),
    "tabular": ("path", "the file or files (globs allowed)"),
    "voip": ("directory", "the provisioning directory"),
}


def _check_required_connection(
    kind: str, connection: Mapping[str, Any], *, file: str, where: str
) -> None:
    """A source must name what it opens: caught offline, not when the search reaches it."""
    key, what = REQUIRED_CONNECTION.get(kind, (None, ""))
    if key is None:
        return
    value = connection.get(key)
    values = value if isinstance(value, list) else [value]
    if not [v for v in values if v is not None and str(v).strip()]:
        raise ConfigError(file, f"{where}.connection.{key}", f"a {kind} source needs {key}: {what}")


@dataclass(frozen=True, slots=True)
class Settings:
    """Engine settings a sources file may tune."""

    max_depth: int = 3
    max_holders: int = 3
    chunk_size: int = 500
    #: seconds a source may take in one search (all its rounds) before it is failed
    time_limit: float = 300.0
    #: sources scanned at the same time within a round (1: one after another)
    parallel_sources: int = 2
    #: a single search starts a source's next-round scan on an idle worker while the
    #: round's last scans still run (see the engine's ``_scan_ahead``)
    scan_ahead: bool = True
    #: local parts of role mailboxes: info@…, sales@… are an organisation's, not a person's
    role_mailboxes: tuple[str, ...] = (
        "info",
        "receptie",
        "reception",
        "sales",
        "verkoop",
        "support",
        "helpdesk",
        "servicedesk",
        "service",
        "admin",
        "administratie",
        "facturatie",
        "billing",
        "finance",
        "boekhouding",
        "office",
        "kantoor",
        "contact",
        "hr",
        "noreply",
        "no-reply",
        "postmaster",
        "webmaster",
    )


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One configured source, with its connection settings resolved."""

    name: str
    kind: str
    mapping_path: Path
    connection: dict[str, Any]
    client: str | None = None
    description: str | None = None
    file: str = "sources.yaml"
    base_dir: Path = field(default_factory=Path.cwd)
    #: laid over the mapping for this source only (read, files, scope, headers)
    overrides: dict[str, Any] = field(default_factory=dict)
    #: an LDIF source may read ``attr:< file://`` values (below the export's directory)
    allow_file_urls: bool = False
    #: this source's own time limit in seconds (None: the settings' time_limit)
    time_limit: float | None = None
    #: the client's contact details from the sources file's ``clients:`` block
    client_contact: dict[str, str] | None = None

    def client_document(self) -> dict[str, str] | None:
        """The client organisation as packages name it: name and contact details."""
        if not self.client:
            return None
        return {"name": self.client, **(self.client_contact or {})}


@dataclass(frozen=True, slots=True)
class SourcesConfig:
    """A whole sources file."""

    path: Path
    sources: tuple[SourceConfig, ...]
    settings: Settings
    #: the ``clients:`` block: whom a record's client field or place names
    clients: ClientDirectory = field(default_factory=ClientDirectory)


def read_secrets_file(path: Path, *, file: str) -> dict[str, str]:
    """Parse KEY=VALUE lines (``#`` comments, optional quotes, optional ``export``).

    The file must be readable by its owner only (chmod 600): a secrets file that
    others can read is refused before it is read.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(file, "secrets_file", f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(file, "secrets_file", f"{path} is not a regular file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            file,
            "secrets_file",
            f"{path} is readable by others (mode {stat.filemode(mode)}); chmod 600 it",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(file, "secrets_file", f"cannot read {path}: {reason}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = stripped.removeprefix("export ").lstrip()
        key, sep, value = stripped.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ConfigError(path.name, f"line {number}", "expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def expand_variables(value: Any, variables: Mapping[str, str], *, file: str, where: str) -> Any:
    """Replace ``${VAR}`` in strings (recursively in lists); unset variables are errors."""
    if isinstance(value, list):
        return [
            expand_variables(item, variables, file=file, where=f"{where}[{i}]")
            for i, item in enumerate(value)
        ]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise ConfigError(
            file,
            where,
            f"environment variable {name} is not set (set it, or give {name}=… in the "
            "secrets_file)",
        )

    leftover = _MALFORMED_VARIABLE.search(_VARIABLE.sub("", value))
    if leftover:
        raise ConfigError(
            file,
            where,
            f"{leftover.group(0)!r} is not a variable reference: expected ${{NAME}} or "
            "${NAME:-default} (NAME of letters, digits and _)",
        )
    return _VARIABLE.sub(substitute, value)


def _is_reference(text: str) -> bool:
    """Whether ``text`` is nothing but ``${VAR}`` references (a secret's only safe form)."""
    return bool(text) and not _VARIABLE.sub("", text).strip()


def _check_no_literal_secret(key: str, raw: Any, *, file: str, where: str) -> None:
    """Refuse a credential written into the sources file itself.

    A key that names a credential (password, token, api_key …) must be ``${VAR}``; so
    must the password inside a URL (``postgresql://user:${PGPASSWORD}@host/db``) and a
    ``password=`` in a URL's query string.
    """
    if isinstance(raw, list):
        for index, item in enumerate(raw):
            _check_no_literal_secret(key, item, file=file, where=f"{where}[{index}]")
        return
    if isinstance(raw, bool) or raw is None:
        return
    text = str(raw)
    if _SECRET_KEY.search(key) and text and not _is_reference(text):
        raise ConfigError(
            file, where, f"a {key} must come from the environment: write ${{VAR}}, not the value"
        )
    if not isinstance(raw, str):
        return
    match = _URL_PASSWORD.match(raw)
    if match and match.group(1) and not _is_reference(match.group(1)):
        raise ConfigError(
            file, where, "the URL holds a password: write user:${VAR}@host and set VAR instead"
        )
    if "://" in raw:
        for name, value in _QUERY_SECRET.findall(raw):
            if _SECRET_KEY.search(name) and value and not _is_reference(value):
                raise ConfigError(
                    file, where, f"the URL's {name}= holds a secret: write {name}=${{VAR}} instead"
                )


def resolve_mapping_path(raw: str, base_dir: Path) -> Path:
    """A mapping path relative to the sources file, or ``shipped:<path>`` inside discover."""
    if raw.startswith(SHIPPED_PREFIX):
        return shipped_path(*raw[len(SHIPPED_PREFIX) :].split("/"))
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base_dir / path


def _client_contact(clients: ClientDirectory, client: str | None) -> dict[str, str] | None:
    """The contact details of a source's client (address, privacy contact), if any."""
    if not client:
        return None
    return dict(clients.contacts.get(client, {})) or None


def load_sources(
    path: Path, *, environ: Mapping[str, str] | None = None, mappings_exist: bool = True
) -> SourcesConfig:
    """Read and validate a sources file, resolving ``${VAR}`` in connections and mapping paths.

    ``mappings_exist=False`` lets a mapping file be missing (it is about to be scaffolded).
    """
    file = path.name
    document = read_document(path, label=file)
    validate(document, "sources.schema.json", file=file)
    base_dir = path.resolve().parent
    variables: dict[str, str] = {}
    if "secrets_file" in document:
        secrets_path = resolve_mapping_path(document["secrets_file"], base_dir)
        variables.update(read_secrets_file(secrets_path, file=file))
    variables.update(os.environ if environ is None else environ)
    clients = read_clients(document.get("clients"), file=file)

    names: set[str] = set()
    sources: list[SourceConfig] = []
    for index, raw in enumerate(document["sources"]):
        where = place(["sources", index])
        if raw["name"] in names:
            raise ConfigError(file, f"{where}.name", f"duplicate source name {raw['name']!r}")
        names.add(raw["name"])
        for key, value in raw["connection"].items():  # disabled sources too: no secret in files
            _check_no_literal_secret(key, value, file=file, where=f"{where}.connection.{key}")
        if raw.get("allow_file_urls") and raw["kind"] != "ldif":
            raise ConfigError(
                file,
                f"{where}.allow_file_urls",
                f"applies to kind ldif only (this source is {raw['kind']}); remove it",
            )
        if raw.get("enabled", True) is False:
            continue
        connection: dict[str, Any] = {}
        for key, value in raw["connection"].items():
            key_place = f"{where}.connection.{key}"
            connection[key] = expand_variables(value, variables, file=file, where=key_place)
        _check_required_connection(raw["kind"], connection, file=file, where=where)
        mapping = expand_variables(raw["mapping"], variables, file=file, where=f"{where}.mapping")
        mapping_path = resolve_mapping_path(mapping, base_dir)
        if mappings_exist and not mapping_path.is_file():
            raise ConfigError(file, f"{where}.mapping", f"mapping file {mapping_path} not found")
        sources.append(
            SourceConfig(
                name=raw["name"],
                kind=raw["kind"],
                mapping_path=mapping_path,
                connection=connection,
                client=raw.get("client"),
                client_contact=_client_contact(clients, raw.get("client")),
                description=raw.get("description"),
                file=file,
                base_dir=base_dir,
                overrides=dict(raw.get("override", {})),
                allow_file_urls=raw.get("allow_file_urls", False),
                time_limit=raw.get("time_limit"),
            )
        )
    if not sources:
        raise ConfigError(
            file,
            "sources",
            "every source is disabled (enabled: false): nothing would be searched; "
            "enable at least one",
        )
    raw_settings = dict(document.get("settings", {}))
    if "role_mailboxes" in raw_settings:
        raw_settings["role_mailboxes"] = tuple(m.lower() for m in raw_settings["role_mailboxes"])
    settings = Settings(**raw_settings)
    return SourcesConfig(path=path, sources=tuple(sources), settings=settings, clients=clients)
