"""The model of a directory mapping (kind: ldap), shared by LDAP servers and LDIF exports.

A mapping names entry types (people, groups …): which object classes make an entry
one of them, where to look (bases relative to the connection's ``base_dn``), which
attributes hold which identifier types and register categories, which attributes
hold bytes (``binary``) and how stored values must be read (``transforms``:
Active Directory's ``SMTP:`` prefixes, ``tel:`` URIs). Attribute names are
case-insensitive in LDAP; the model keeps the mapping's spelling for hits and a
lower-case index for reading entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from connectors.base import Connector
from discover.errors import ConfigError
from discover.mapping import FieldSpec, check_category, field_spec
from discover.register import Register

Scope = Literal["base", "one", "subtree"]
BinaryKind = Literal["octets", "guid", "sid"]
Transform = Literal["proxy_address", "tel_uri", "sip_uri"]

#: Attributes that hold credentials: a mapping that names one must mark it secret.
KNOWN_SECRETS: frozenset[str] = frozenset(
    {
        "userpassword",
        "authpassword",
        "unicodepwd",
        "dbcspwd",
        "ntpwdhistory",
        "lmpwdhistory",
        "supplementalcredentials",
        "sambantpassword",
        "sambalmpassword",
        "sambapasswordhistory",
        "krbprincipalkey",
        "pwdhistory",
        "msds-managedpassword",
        "ms-mcs-admpwd",
        "mslaps-password",
        "mslaps-encryptedpassword",
    }
)

#: Which identifier types each transform can read.
TRANSFORM_TYPES: dict[str, frozenset[str]] = {
    "proxy_address": frozenset({"email"}),
    "tel_uri": frozenset({"phone"}),
    "sip_uri": frozenset({"email", "phone"}),
}


@dataclass(frozen=True, slots=True)
class LdapBase:
    """One search base: a DN relative to the connection's base_dn, and a scope."""

    dn: str
    scope: Scope = "subtree"

    def resolve(self, base_dn: str | None) -> str:
        """The absolute DN: ``dn,base_dn`` (or base_dn alone for an empty dn)."""
        if not base_dn:
            return self.dn
        return f"{self.dn},{base_dn}" if self.dn else base_dn


@dataclass(frozen=True, slots=True)
class LdapAttribute:
    """One mapped attribute: its field spec and how its values are read."""

    spec: FieldSpec
    binary: BinaryKind | None = None
    transform: Transform | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def lower(self) -> str:
        return self.spec.name.lower()


@dataclass(frozen=True, slots=True)
class LdapEntryType:
    """A kind of entry (people, groups): how to recognise it and what to read."""

    name: str
    object_classes: tuple[str, ...]
    exclude_object_classes: tuple[str, ...]
    bases: tuple[LdapBase, ...]
    key: str | None
    category: str
    entity: str
    attributes: dict[str, LdapAttribute]  # by lower-case attribute name
    dn_spec: FieldSpec = field(default=None)  # type: ignore[assignment]

    @property
    def searchable(self) -> list[LdapAttribute]:
        return [a for a in self.attributes.values() if a.spec.searchable]

    def requested(self) -> list[str]:
        """The attribute names to ask the server for (mapped ones, the key, objectClass)."""
        names = [a.name for a in self.attributes.values()]
        if self.key and self.key.lower() not in self.attributes:
            names.append(self.key)
        if "objectclass" not in self.attributes:
            names.append("objectClass")
        return names

    def accepts(self, object_classes: set[str]) -> bool:
        """Whether an entry with these (lower-case) object classes is of this type."""
        if not any(c.lower() in object_classes for c in self.object_classes):
            return False
        return not any(c.lower() in object_classes for c in self.exclude_object_classes)


@dataclass(frozen=True, slots=True)
class LdapRelation:
    """``from_type.attribute`` holds DNs of ``to_type`` entries; followed backward."""

    from_type: str
    attribute: str
    to_type: str

    @property
    def label(self) -> str:
        return f"{self.from_type}.{self.attribute} -> {self.to_type}"


@dataclass(frozen=True, slots=True)
class LdapMapping:
    """A whole directory mapping."""

    entries: dict[str, LdapEntryType]
    relations: tuple[LdapRelation, ...] = ()
    description: str = ""


def _bases(raw: list[dict[str, Any]] | None) -> tuple[LdapBase, ...]:
    if not raw:
        return (LdapBase(""),)
    return tuple(LdapBase(item["dn"].strip(), item.get("scope", "subtree")) for item in raw)


def _entry_type(
    name: str,
    raw: dict[str, Any],
    default_bases: tuple[LdapBase, ...],
    *,
    register: Register,
    file: str,
) -> LdapEntryType:
    where = f"entries.{name}"
    category = raw["category"]
    check_category(category, register, file=file, where=f"{where}.category")
    attributes: dict[str, LdapAttribute] = {}
    # by lower-case name: (the mapping's spelling, value)
    binary = {k.lower(): (k, v) for k, v in raw.get("binary", {}).items()}
    transforms = {k.lower(): (k, v) for k, v in raw.get("transforms", {}).items()}
    for attribute, spec_raw in raw["attributes"].items():
        here = f"{where}.attributes.{attribute}"
        lower = attribute.lower()
        if lower in attributes or lower == "dn":
            message = "'dn' is always reported" if lower == "dn" else "mapped twice"
            raise ConfigError(file, here, f"attribute {attribute!r} is {message}")
        spec = field_spec(
            attribute,
            spec_raw,
            default_category=category,
            register=register,
            file=file,
            where=here,
        )
        if lower in KNOWN_SECRETS and not spec.secret:
            raise ConfigError(file, here, f"{attribute} holds credentials: mark it secret: true")
        if spec.secret and spec.identifier:
            raise ConfigError(
                file, here, "a secret attribute cannot also be searched as an identifier"
            )
        _, kind = binary.pop(lower, (None, None))
        if kind and spec.identifier:
            raise ConfigError(
                file, f"{where}.binary.{attribute}", "a binary attribute cannot be an identifier"
            )
        _, transform = transforms.pop(lower, (None, None))
        if transform and spec.identifier not in TRANSFORM_TYPES[transform]:
            allowed = ", ".join(sorted(TRANSFORM_TYPES[transform]))
            raise ConfigError(
                file,
                f"{where}.transforms.{attribute}",
                f"{transform} reads identifiers of type {allowed}; "
                f"the attribute's identifier is {spec.identifier!r}",
            )
        attributes[lower] = LdapAttribute(spec, kind, transform)
    for section, leftover in (("binary", binary), ("transforms", transforms)):
        for attribute, _value in leftover.values():
            raise ConfigError(
                file,
                f"{where}.{section}.{attribute}",
                f"attribute {attribute!r} is not among the mapped attributes",
            )
    return LdapEntryType(
        name=name,
        object_classes=tuple(raw["object_classes"]),
        exclude_object_classes=tuple(raw.get("exclude_object_classes", ())),
        bases=_bases(raw.get("bases")) if raw.get("bases") else default_bases,
        key=raw.get("key"),
        category=category,
        entity=raw.get("entity", "person"),
        attributes=attributes,
        dn_spec=FieldSpec(name="dn", category=category, origin="system", label=DN_LABEL),
    )


#: the entry's distinguished name: how the directory names it, set by its administrators
#: (a system field, left out of portability packages like the entry's object id)
DN_LABEL = {"nl": "Naam in de directory (DN)", "en": "Directory entry name (DN)"}


def parse_ldap_mapping(document: dict[str, Any], *, register: Register, file: str) -> LdapMapping:
    """Build the LdapMapping from a schema-valid document, checking cross-references."""
    default_bases = _bases(document.get("bases"))
    entries = {
        name: _entry_type(name, raw, default_bases, register=register, file=file)
        for name, raw in document["entries"].items()
    }
    relations: list[LdapRelation] = []
    for index, raw in enumerate(document.get("relations", [])):
        where = f"relations[{index}]"
        from_type, _, attribute = raw["from"].partition(".")
        if from_type not in entries:
            raise ConfigError(file, f"{where}.from", f"entry type {from_type!r} is not mapped")
        mapped = entries[from_type].attributes.get(attribute.lower())
        if mapped is None:
            raise ConfigError(
                file, f"{where}.from", f"attribute {attribute!r} is not mapped in {from_type!r}"
            )
        if raw["to"] not in entries:
            raise ConfigError(file, f"{where}.to", f"entry type {raw['to']!r} is not mapped")
        relations.append(LdapRelation(from_type, mapped.name, raw["to"]))
    return LdapMapping(
        entries=entries, relations=tuple(relations), description=document.get("description", "")
    )


class DirectoryConnector(Connector):
    """What a live directory (kind ldap) and an LDIF export (kind ldif) share: one mapping.

    Both read the same directory mappings, so an LDIF export is scanned exactly as the
    server it came from.
    """

    mapping_schema: ClassVar[str] = "mapping-ldap.schema.json"
    mapping: LdapMapping

    @classmethod
    def parse_mapping(
        cls, document: dict[str, Any], *, register: Register, file: str
    ) -> LdapMapping:
        return parse_ldap_mapping(document, register=register, file=file)
