"""The model of a VoIP provisioning mapping (kind: voip).

A mapping says which files of a provisioning directory to read, how each vendor's
format is recognised, and where every field of a handset record (voip.handset) or a
phonebook entry (voip.contacts) comes from: a vendor key (``account.{n}.user_name``,
``reg.{n}.auth.userId``, ``P35``) for a handset, an element path (``Name``,
``Phone/phonenumber``, ``@Name``) for a phonebook. Adding a vendor key is therefore a
line in YAML, never code.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from discover.errors import ConfigError
from discover.mapping import FieldSpec, check_category, field_spec
from discover.register import Register

Syntax = Literal["key_value", "xml_attributes", "xml_elements", "grandstream", "snom", "xml"]
ScopeFrom = Literal["directory", "source", "none"]

#: computed values a handset field may take instead of a vendor key
COMPUTED = frozenset({"$mac", "$format", "$n"})

DEFAULT_INCLUDE = ("**/*.cfg", "**/*.xml")
DEFAULT_MAX_BYTES = 4 * 1024 * 1024

_EXTRA_FIELD_KEYS = ("min_digits", "max_digits", "join")
_NON_DIGITS = re.compile(r"\D")


@dataclass(frozen=True, slots=True)
class FieldRule:
    """A field's spec plus what this connector checks before keeping a value."""

    spec: FieldSpec
    min_digits: int | None = None
    max_digits: int | None = None
    join: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def accepts(self, value: str) -> bool:
        """Whether ``value`` belongs in this field by its number of digits."""
        if self.min_digits is None and self.max_digits is None:
            return True
        if "@" in value or ":" in value:
            value = sip_user_part(value)
        digits = len(_NON_DIGITS.sub("", value))
        if self.min_digits is not None and digits < self.min_digits:
            return False
        return self.max_digits is None or digits <= self.max_digits


@dataclass(frozen=True, slots=True)
class Detect:
    """How a format is recognised: a header line, or the XML root element."""

    header: str | None = None
    roots: tuple[str, ...] = ()

    @property
    def xml(self) -> bool:
        return bool(self.roots)


@dataclass(frozen=True, slots=True)
class HandsetFormat:
    """A vendor's configuration file: where each handset and account field comes from."""

    name: str
    syntax: Syntax
    detect: Detect
    device: dict[str, tuple[str, ...]]
    account: dict[str, tuple[str, ...]] | None
    accounts: tuple[dict[str, tuple[str, ...]], ...]
    references: tuple[str, ...]
    mac_key: str | None = None
    kind: Literal["handset"] = "handset"

    def account_numbers(self, keys: dict[str, str]) -> list[int]:
        """The account numbers N for which any account key holds a value."""
        numbers: set[int] = set()
        if self.account:
            patterns = [
                template_pattern(key)
                for sources in self.account.values()
                for key in sources
                if "{n}" in key
            ]
            for key, value in keys.items():
                if not value:
                    continue
                for pattern in patterns:
                    match = pattern.fullmatch(key)
                    if match:
                        numbers.add(int(match.group(1)))
        for index, sources in enumerate(self.accounts, start=1):
            if any(keys.get(key) for keys_ in sources.values() for key in keys_):
                numbers.add(index)
        return sorted(numbers)

    def account_sources(self, number: int) -> dict[str, tuple[str, ...]]:
        """Field -> vendor keys of account ``number`` (template and explicit list merged)."""
        merged: dict[str, tuple[str, ...]] = {}
        if 0 < number <= len(self.accounts):
            for name, sources in self.accounts[number - 1].items():
                merged[name] = sources
        for name, sources in (self.account or {}).items():
            expanded = tuple(key.replace("{n}", str(number)) for key in sources)
            merged[name] = merged.get(name, ()) + expanded
        return merged

    def reference_keys(self, keys: dict[str, str]) -> list[str]:
        """The vendor keys present in ``keys`` that name other files."""
        found: list[str] = []
        for reference in self.references:
            if "{n}" in reference:
                pattern = template_pattern(reference)
                found.extend(key for key in keys if pattern.fullmatch(key))
            elif reference in keys:
                found.append(reference)
        return found


@dataclass(frozen=True, slots=True)
class PhonebookFormat:
    """A vendor's phonebook: which elements are entries and where each field is."""

    name: str
    detect: Detect
    entries: tuple[str, ...]
    fields: dict[str, tuple[str, ...]]
    syntax: Syntax = "xml"
    kind: Literal["phonebook"] = "phonebook"


Format = HandsetFormat | PhonebookFormat


@dataclass(frozen=True, slots=True)
class VoipMapping:
    """A whole VoIP provisioning mapping."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]
    max_bytes: int
    encoding: str
    mac_prefixes: tuple[str, ...]
    scope_from: ScopeFrom
    scope_level: int
    handset_category: str
    handset_fields: dict[str, FieldRule]
    contact_category: str
    contact_fields: dict[str, FieldRule]
    formats: tuple[Format, ...]
    description: str = ""
    identifier_types: frozenset[str] = field(default=frozenset())
    #: the directory level whose name is a file's client (None: the place names none)
    client_level: int | None = None

    def format(self, name: str) -> Format:
        return next(f for f in self.formats if f.name == name)


def template_pattern(key: str) -> re.Pattern[str]:
    """``account.{n}.user_name`` -> a pattern whose group 1 is the account number."""
    return re.compile(re.escape(key).replace(re.escape("{n}"), r"(\d+)"))


def sip_user_part(value: str) -> str:
    """``sip:201@pbx.example.net`` -> ``201``: the user part of a SIP address."""
    text = value.strip()
    lowered = text.lower()
    for prefix in ("sips:", "sip:", "tel:"):
        if lowered.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text.split("@", 1)[0].split(";", 1)[0].strip()


def _keys(raw: Any) -> tuple[str, ...]:
    return (raw,) if isinstance(raw, str) else tuple(raw)


def _rules(
    raw: dict[str, Any], *, category: str, register: Register, file: str, where: str
) -> dict[str, FieldRule]:
    rules: dict[str, FieldRule] = {}
    for name, entry in raw.items():
        entry = dict(entry or {})
        extras = {key: entry.pop(key) for key in _EXTRA_FIELD_KEYS if key in entry}
        spec = field_spec(
            name,
            entry,
            default_category=category,
            register=register,
            file=file,
            where=f"{where}.{name}",
        )
        if spec.secret and spec.identifier:
            raise ConfigError(
                file, f"{where}.{name}", "a secret field cannot also be searched as an identifier"
            )
        low, high = extras.get("min_digits"), extras.get("max_digits")
        if low is not None and high is not None and low > high:
            raise ConfigError(file, f"{where}.{name}", "min_digits is larger than max_digits")
        rules[name] = FieldRule(spec, low, high, extras.get("join"))
    return rules


def _check_sources(
    sources: dict[str, tuple[str, ...]],
    fields: dict[str, FieldRule],
    *,
    file: str,
    where: str,
    in_account: bool,
    templated: bool,
) -> None:
    """Fields must exist; computed values must be known; {n} only in account templates."""
    for name, keys in sources.items():
        place = f"{where}.{name}"
        if name not in fields:
            known = ", ".join(fields)
            raise ConfigError(
                file, place, f"{name!r} is not a field of the records (one of {known})"
            )
        for key in keys:
            if key.startswith("$"):
                allowed = COMPUTED if in_account else COMPUTED - {"$n"}
                if key not in allowed:
                    raise ConfigError(
                        file,
                        place,
                        f"{key!r} is not a computed value here (one of "
                        f"{', '.join(sorted(allowed))})",
                    )
                if fields[name].spec.secret:
                    raise ConfigError(file, place, "a computed value is no secret")
            elif templated and "{n}" not in key:
                raise ConfigError(
                    file, place, f"account key {key!r} needs {{n}} (the account number)"
                )
            elif not templated and "{n}" in key:
                raise ConfigError(
                    file, place, f"{key!r}: {{n}} is only known in an account template"
                )


def _detect(raw: dict[str, Any]) -> Detect:
    return Detect(header=raw.get("header"), roots=tuple(raw.get("root", ())))


def _handset_format(
    name: str, raw: dict[str, Any], fields: dict[str, FieldRule], *, file: str
) -> HandsetFormat:
    where = f"formats.{name}"
    device = {key: _keys(value) for key, value in raw.get("device", {}).items()}
    _check_sources(
        device, fields, file=file, where=f"{where}.device", in_account=False, templated=False
    )
    account = None
    if "account" in raw:
        account = {key: _keys(value) for key, value in raw["account"].items()}
        _check_sources(
            account, fields, file=file, where=f"{where}.account", in_account=True, templated=True
        )
    accounts = tuple(
        {key: _keys(value) for key, value in entry.items()} for entry in raw.get("accounts", [])
    )
    for index, entry in enumerate(accounts):
        _check_sources(
            entry,
            fields,
            file=file,
            where=f"{where}.accounts[{index}]",
            in_account=True,
            templated=False,
        )
    syntax = raw["syntax"]
    detect = _detect(raw["detect"])
    if syntax == "key_value" and detect.xml:
        raise ConfigError(file, f"{where}.detect", "a key_value file is detected by its header")
    if syntax != "key_value" and not detect.xml:
        raise ConfigError(file, f"{where}.detect", "an XML format is detected by its root element")
    return HandsetFormat(
        name=name,
        syntax=syntax,
        detect=detect,
        device=device,
        account=account,
        accounts=accounts,
        references=tuple(raw.get("references", ())),
        mac_key=raw.get("mac_key"),
    )


def _phonebook_format(
    name: str, raw: dict[str, Any], fields: dict[str, FieldRule], *, file: str
) -> PhonebookFormat:
    where = f"formats.{name}"
    detect = _detect(raw["detect"])
    if not detect.xml:
        raise ConfigError(file, f"{where}.detect", "a phonebook is detected by its root element")
    paths = {key: tuple(value) for key, value in raw["fields"].items()}
    for field_name in paths:
        if field_name not in fields:
            known = ", ".join(fields)
            raise ConfigError(
                file,
                f"{where}.fields.{field_name}",
                f"{field_name!r} is not a contact field (one of {known})",
            )
        if fields[field_name].spec.secret:
            raise ConfigError(file, f"{where}.fields.{field_name}", "phonebooks hold no secrets")
    return PhonebookFormat(name=name, detect=detect, entries=tuple(raw["entries"]), fields=paths)


def parse_voip_mapping(document: dict[str, Any], *, register: Register, file: str) -> VoipMapping:
    """Build the VoipMapping from a schema-valid document, checking cross-references."""
    handsets, contacts = document["handsets"], document["contacts"]
    check_category(handsets["category"], register, file=file, where="handsets.category")
    check_category(contacts["category"], register, file=file, where="contacts.category")
    handset_fields = _rules(
        handsets["fields"],
        category=handsets["category"],
        register=register,
        file=file,
        where="handsets.fields",
    )
    contact_fields = _rules(
        contacts["fields"],
        category=contacts["category"],
        register=register,
        file=file,
        where="contacts.fields",
    )
    formats: dict[str, Format] = {}
    for name, raw in document["formats"].items():
        if raw["kind"] == "handset":
            formats[name] = _handset_format(name, raw, handset_fields, file=file)
        else:
            formats[name] = _phonebook_format(name, raw, contact_fields, file=file)
    detect = document.get("detect", "auto")
    if detect == "auto":
        order = list(formats)
    else:
        order = list(detect)
        for index, name in enumerate(order):
            if name not in formats:
                raise ConfigError(
                    file, f"detect[{index}]", f"{name!r} is not a format of this mapping"
                )
    files = document.get("files", {})
    encoding = files.get("encoding", "utf-8")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(file, "files.encoding", f"{encoding!r} is not a known encoding") from None
    scope = document.get("scope", {})
    client = document.get("client")
    identifier_types = frozenset(
        rule.spec.identifier
        for rules in (handset_fields, contact_fields)
        for rule in rules.values()
        if rule.spec.searchable and rule.spec.identifier
    )
    return VoipMapping(
        include=tuple(files.get("include", DEFAULT_INCLUDE)),
        exclude=tuple(files.get("exclude", ())),
        max_bytes=int(files.get("max_bytes", DEFAULT_MAX_BYTES)),
        encoding=encoding,
        mac_prefixes=tuple(files.get("mac_prefixes", ())),
        scope_from=scope.get("from", "directory"),
        scope_level=int(scope.get("level", 1)),
        handset_category=handsets["category"],
        handset_fields=handset_fields,
        contact_category=contacts["category"],
        contact_fields=contact_fields,
        formats=tuple(formats[name] for name in order),
        description=document.get("description", ""),
        identifier_types=identifier_types,
        client_level=int(client.get("level", 1)) if client is not None else None,
    )
