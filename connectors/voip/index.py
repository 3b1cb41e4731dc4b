"""From parsed provisioning files to records and an identifier index.

Every file is parsed once per scan (and not again while it is unchanged); each
searchable field value is normalised once, into an index ``(type, value) -> places``
(phone numbers by their last digits, normalised when a searched number ends in them),
so that a batch of thousands of identifiers costs one dictionary lookup each.

Records:

* **handset** (voip.handset): one per account (line) of a handset configuration,
  holding the handset's own fields (MAC, provisioning credentials withheld) and the
  account's (SIP user / extension, display name, SIP password withheld); one
  ``device`` record for a handset without accounts. The files of one handset are
  joined by MAC: the MAC in the file name, the vendor's MAC key, or the one
  configuration that references a file without a MAC (Polycom ``CONFIG_FILES``).
* **phonebook entry, as found** (voip.contacts): an entry matched by the subject's
  own identifiers is the subject's data. Its location names the client and an opaque
  token of the phonebook (the first 12 hex digits of the SHA-256 of its path), never
  the file, whose name holds the owner's MAC: the owner is not disclosed.
* **phonebook entry, as kept by its owner**: the entries of a phonebook that belongs
  to exactly one handset are linked to that handset's records, so that the owner's
  search returns them as related records of *other people* (``third_party``). A
  phonebook shared by several handsets, or by none, belongs to no one's handset.

Extensions are scoped by client ("acme/201"), so that an extension found in a
provisioning file is a strong identifier that expands to the handset's MAC.
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from connectors.base import WITHHELD, FieldValue, Link, Record
from connectors.voip.files import Unreadable, scan_directory
from connectors.voip.mapping import FieldRule, VoipMapping, sip_user_part
from connectors.voip.parsers import ParsedConfig, ParsedPhonebook, parse_file
from connectors.voip.references import (
    Resolver,
    names_of,
    target_name,
    target_path,
    written_references,
)
from discover.identifiers import try_normalise
from discover.mapping import FieldSpec

PHONEBOOK_RELATION = "phonebook of the handset"
_SCOPE = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/@:\s]*):[^/@\s]*@")

IndexKey = tuple[str, str]  # identifier type, normalised value
Place = tuple[int, str, bool]  # record number, field name, exact


def valid_scope(text: str | None) -> str | None:
    """``text`` as an extension scope (casefolded), or None when it cannot be one."""
    if not text:
        return None
    folded = text.strip().casefold()
    return folded if _SCOPE.fullmatch(folded) else None


def scrub_url_credentials(text: str) -> str:
    """``https://user:pw@host/`` -> ``https://user:(withheld)@host/``: no password in hits."""
    if "@" not in text:  # most values: every phonebook name and number
        return text
    return _URL_CREDENTIALS.sub(r"\1:(withheld)@", text)


@dataclass(slots=True)
class Index:
    """Everything one pass over the directory produced.

    ``places`` holds every searchable value by its normalised form, except phone
    numbers: normalising one (libphonenumber) costs a hundred times more than reading
    it, so they are kept by their last digits (``tails``) and normalised only when a
    searched number ends in the same digits — then verified exactly, and remembered.
    """

    records: list[Record] = field(default_factory=list)
    places: dict[IndexKey, list[Place]] = field(default_factory=lambda: defaultdict(list))
    tails: dict[str, list[tuple[int, str, str]]] = field(default_factory=lambda: defaultdict(list))
    #: handset record -> the personal phonebooks of its handset (ids into ``phonebooks``)
    children: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: personal phonebook: its file, its entries' record numbers, links to its handset
    phonebooks: list[tuple[str, range, tuple[Link, ...]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unreadable: int = 0
    files: int = 0
    rows: int = 0
    _phones: dict[str, str | None] = field(default_factory=dict)

    def kept_views(self, phonebook: int) -> list[Record]:
        """The entries of a personal phonebook as its owner keeps them: other people.

        Built when asked for, from the entries as found: they share their fields.
        """
        relpath, numbers, links = self.phonebooks[phonebook]
        return [
            Record(
                location=relpath,
                key=self.records[n].key,
                fields=self.records[n].fields,
                links=list(links),
                entity="person",
                third_party=True,
                client=self.records[n].client,
            )
            for n in numbers
        ]

    def lookup(self, kind: str, value: str) -> list[Place]:
        """Where the identifier ``kind:value`` (normalised) is stored, verified."""
        if kind != "phone":
            return self.places.get((kind, value), [])
        found: list[Place] = []
        for number, field_name, raw in self.tails.get(phone_tail(value) or "", ()):
            if raw not in self._phones:
                self._phones[raw] = try_normalise("phone", raw)
            if self._phones[raw] == value:
                found.append((number, field_name, raw == value))
        return found


#: digits that end a phone number in every notation (national, international, switch)
TAIL_DIGITS = 6
_NOT_NUMBER = re.compile(r"(?i)(?<=\d)\s*(?:ext\.?|x|#|;).*$")


def phone_tail(text: str) -> str | None:
    """The last digits of a phone number as stored, before any extension suffix.

    The national significant number ends every spelling of a number
    (``06-12345678``, ``+31 (0)6 1234 5678``, ``31612345678``), so its last digits
    select the candidates that are then normalised and compared exactly.
    """
    digits = re.sub(r"\D", "", _NOT_NUMBER.sub("", text))
    return digits[-TAIL_DIGITS:] if len(digits) >= TAIL_DIGITS else None


def unscoped_warning(unscoped: Collection[str]) -> str:
    """The warning for files outside a client directory (their extensions unscoped)."""
    sample = ", ".join(sorted(unscoped)[:3])
    return (
        f"{len(unscoped)} file(s) lie outside a client directory ({sample} ...): "
        "their extensions are unscoped and match only as 'possible'; set "
        "connection.scope (one client's directory), move them under "
        "PROVISIONING_DIR/<client>/, or, where extensions name no client, give the "
        "source override: {scope: {from: none}} in the sources file"
    )


@dataclass(slots=True)
class _Handset:
    mac: str | None
    configs: list[ParsedConfig]
    records: list[int] = field(default_factory=list)


class IndexBuilder:
    """Builds the :class:`Index` of one provisioning directory."""

    def __init__(self, root: Path, mapping: VoipMapping, fallback_scope: str | None) -> None:
        self.root = root
        self.mapping = mapping
        self.fallback_scope = fallback_scope
        self.index = Index()
        self._numbered: dict[tuple[str, int], FieldSpec] = {}
        self._unscoped: set[str] = set()
        self._normalised: dict[tuple[str, str], str | None] = {}
        self._prepared: dict[tuple[int, str, str | None], str | None] = {}
        self._scopes: dict[str, str | None] = {}
        self._tails: dict[str, str | None] = {}
        #: the files of the whole directory by name, for a build of part of it (see
        #: :class:`~connectors.voip.references.Resolver`); None: the parsed files'
        self.names: Mapping[str, Sequence[str]] | None = None

    def _normalise(self, kind: str, text: str) -> str | None:
        """try_normalise, remembered: the same colleague is in many phonebooks."""
        key = (kind, text)
        if key not in self._normalised:
            self._normalised[key] = try_normalise(kind, text)
        return self._normalised[key]

    # -- the pass -----------------------------------------------------------------

    def build(
        self, relpaths: Iterable[str] | None = None, skipped: Iterable[Unreadable] = ()
    ) -> Index:
        """Read every file and index it; the collector waits (millions of young objects).

        ``skipped``: what listing the directory could not use (each one a warning, and
        the result incomplete).
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            for problem in skipped:
                self._unreadable(problem)
            return self._build(relpaths)
        finally:
            if enabled:
                gc.enable()

    def _build(self, relpaths: Iterable[str] | None) -> Index:
        if relpaths is None:
            listing = scan_directory(self.root, self.mapping.include, self.mapping.exclude)
            for problem in listing.skipped:
                self._unreadable(problem)
            relpaths = listing.files
        configs: list[ParsedConfig] = []
        phonebooks: list[ParsedPhonebook] = []
        for relpath in relpaths:
            self.index.files += 1
            try:
                parsed = parse_file(self.root, relpath, self.mapping)
            except Unreadable as exc:  # also Unrecognised: a file not read is never silent
                self._unreadable(exc)
                continue
            self.index.warnings.extend(parsed.notes)
            if isinstance(parsed, ParsedConfig):
                configs.append(parsed)
                phonebooks.extend(parsed.embedded)
            else:
                phonebooks.append(parsed)
        self.assemble(configs, phonebooks)
        if self._unscoped:
            self.index.warnings.append(unscoped_warning(self._unscoped))
        return self.index

    def assemble(self, configs: list[ParsedConfig], phonebooks: list[ParsedPhonebook]) -> Index:
        """Records and index entries of parsed files: handsets joined, phonebooks owned."""
        references = self._references(configs, phonebooks)
        handsets = self._handsets(configs, references)
        for handset in handsets:
            self._handset_records(handset)
        owner_of = self._owners(handsets, phonebooks, references)
        for phonebook in phonebooks:
            self._phonebook_records(phonebook, owner_of.get(phonebook.relpath))
        return self.index

    @property
    def unscoped(self) -> set[str]:
        """The files whose extensions had no client scope."""
        return self._unscoped

    def _unreadable(self, exc: Unreadable) -> None:
        self.index.unreadable += 1
        self.index.warnings.append(f"{exc.relpath}: not read: {exc.reason}")

    # -- scopes -------------------------------------------------------------------

    def client_of(self, relpath: str) -> str | None:
        """The folder naming a file's client (the mapping's ``client`` level), as
        written; None without one, or for a file above that level."""
        level = self.mapping.client_level
        if level is None:
            return None
        folders = relpath.split("/")[:-1]
        return folders[level - 1] if len(folders) >= level else None

    def scope_of(self, relpath: str) -> str | None:
        """The client scope of a file: its directory at the mapping's level, or the source's."""
        if relpath not in self._scopes:
            self._scopes[relpath] = self._scope_of(relpath)
        return self._scopes[relpath]

    def _scope_of(self, relpath: str) -> str | None:
        relpath = relpath.split("#", 1)[0]
        if self.mapping.scope_from == "none":
            return None
        if self.mapping.scope_from == "directory":
            parts = relpath.split("/")
            level = self.mapping.scope_level
            if len(parts) > level:
                scope = valid_scope(parts[level - 1])
                if scope:
                    return scope
        if self.fallback_scope is None:
            self._unscoped.add(relpath)
        return self.fallback_scope

    # -- references and handsets --------------------------------------------------

    def _references(
        self, configs: list[ParsedConfig], phonebooks: list[ParsedPhonebook]
    ) -> dict[str, set[str]]:
        """file -> the configurations that name it (a phonebook URL, a config part)."""
        by_name = self.names
        if by_name is None:
            by_name = names_of(item.relpath for item in (*configs, *phonebooks))
        resolver = Resolver(by_name)
        referrers: dict[str, set[str]] = defaultdict(set)
        for config in configs:
            for target in written_references(config):
                resolved, fitting = resolver.resolve(target, config.relpath)
                if resolved is None and fitting > 1:
                    name = target_name(target_path(target))
                    self.index.warnings.append(
                        f"{config.relpath}: reference {name!r} matches {fitting} files; "
                        "not followed"
                    )
                if resolved and resolved != config.relpath:
                    referrers[resolved].add(config.relpath)
        return referrers

    def _handsets(
        self, configs: list[ParsedConfig], referrers: dict[str, set[str]]
    ) -> list[_Handset]:
        """Configurations grouped by handset (MAC); a part referenced by one MAC joins it."""
        by_path = {c.relpath: c for c in configs}
        for _ in range(4):  # a part of a part of a part ...
            changed = False
            for config in configs:
                if config.mac is not None:
                    continue
                macs = {by_path[r].mac for r in referrers.get(config.relpath, ()) if r in by_path}
                if len(macs) == 1 and None not in macs:
                    config.mac = macs.pop()
                    changed = True
            if not changed:
                break
        groups: dict[str, _Handset] = {}
        handsets: list[_Handset] = []
        for config in configs:
            if config.mac is None:
                handsets.append(_Handset(None, [config]))
                continue
            if config.mac not in groups:
                groups[config.mac] = _Handset(config.mac, [])
                handsets.append(groups[config.mac])
            groups[config.mac].configs.append(config)
        return handsets

    # -- handset records ----------------------------------------------------------

    def _handset_records(self, handset: _Handset) -> None:
        device: dict[str, object] = {}
        for config in handset.configs:
            for name, sources in config.format.device.items():
                if device.get(name) is None:
                    device[name] = self._value(name, sources, config, handset.mac, None)
        made = 0
        for config in handset.configs:
            for number in config.format.account_numbers(config.keys):
                values = dict(device)
                for name, sources in config.format.account_sources(number).items():
                    value = self._value(name, sources, config, handset.mac, number)
                    if value is not None or name not in values:
                        values[name] = value
                made += self._add_handset_record(handset, config, f"account {number}", values)
        if not made:
            primary = next((c for c in handset.configs if c.mac), handset.configs[0])
            self._add_handset_record(handset, primary, "device", device)

    def _add_handset_record(
        self, handset: _Handset, config: ParsedConfig, key: str, values: dict[str, object]
    ) -> int:
        fields = [
            FieldValue(rule.spec, values[name])
            for name, rule in self.mapping.handset_fields.items()
            if values.get(name) is not None
        ]
        if not any(f.spec.searchable and f.value is not WITHHELD for f in fields):
            return 0  # a shared file with no account and no MAC: nothing to find
        record = Record(
            location=config.relpath,
            key=key,
            fields=fields,
            entity="person",
            client=self.client_of(config.relpath),
        )
        handset.records.append(self._add(record))
        self.index.rows += 1
        return 1

    def _value(
        self,
        name: str,
        sources: tuple[str, ...],
        config: ParsedConfig,
        mac: str | None,
        number: int | None,
    ) -> object:
        """The first source of a field that holds a value, prepared for the record."""
        rule = self.mapping.handset_fields[name]
        for source in sources:
            if source == "$mac":
                raw = mac
            elif source == "$format":
                raw = config.format.name
            elif source == "$n":
                raw = str(number) if number is not None else None
            else:
                raw = config.keys.get(source)
            if not raw:
                continue
            if rule.spec.secret:
                return WITHHELD
            value = self._prepare(rule, raw, config.relpath)
            if value is not None:
                return value
        return None

    def _prepare(self, rule: FieldRule, raw: str, relpath: str) -> str | None:
        """A stored value as the record keeps it: digits checked, extensions scoped,
        the number of a SIP address (``sip:+3110…@host``) without its host."""
        scope = self.scope_of(relpath) if rule.spec.identifier == "extension" else None
        key = (id(rule), raw, scope)
        if key not in self._prepared:
            self._prepared[key] = self._prepare_value(rule, raw, scope)
        return self._prepared[key]

    def _prepare_value(self, rule: FieldRule, raw: str, scope: str | None) -> str | None:
        if not rule.accepts(raw):
            return None
        if rule.spec.identifier == "extension":
            user = sip_user_part(raw)
            if "/" not in user and self._normalise("extension", user) is not None:
                return f"{scope}/{user}" if scope else user
            return raw
        if rule.spec.identifier == "phone" and ("@" in raw or ":" in raw):
            return sip_user_part(raw)  # "sip:+31102345301@sip.example.net" -> the number
        return scrub_url_credentials(raw)

    # -- phonebooks ---------------------------------------------------------------

    def _owners(
        self,
        handsets: list[_Handset],
        phonebooks: list[ParsedPhonebook],
        referrers: dict[str, set[str]],
    ) -> dict[str, _Handset]:
        """phonebook -> its handset, when exactly one handset owns it."""
        handset_of = {c.relpath: h for h in handsets for c in h.configs}
        by_mac = {h.mac: h for h in handsets if h.mac}
        owners: dict[str, _Handset] = {}
        for phonebook in phonebooks:
            candidates: dict[int, _Handset] = {}
            for referrer in referrers.get(phonebook.relpath, ()):
                if referrer in handset_of:
                    candidates[id(handset_of[referrer])] = handset_of[referrer]
            if phonebook.mac and phonebook.mac in by_mac:
                candidates[id(by_mac[phonebook.mac])] = by_mac[phonebook.mac]
            if phonebook.embedded_in and phonebook.embedded_in in handset_of:
                owner = handset_of[phonebook.embedded_in]
                candidates[id(owner)] = owner
            if len(candidates) == 1:
                owner = next(iter(candidates.values()))
                if owner.records:
                    owners[phonebook.relpath] = owner
        return owners

    def _phonebook_records(self, phonebook: ParsedPhonebook, owner: _Handset | None) -> None:
        scope = self.scope_of(phonebook.relpath)
        token = hashlib.sha256(phonebook.relpath.encode("utf-8")).hexdigest()[:12]
        found_at = f"{scope}/phonebook-{token}" if scope else f"phonebook-{token}"
        first = len(self.index.records)
        client = self.client_of(phonebook.relpath)
        for number, entry in enumerate(phonebook.entries, start=1):
            fields = self._entry_fields(entry, phonebook.relpath)
            if not fields:
                continue
            self.index.rows += 1
            record = Record(location=found_at, key=f"entry {number}", fields=fields, client=client)
            self._add(record)
        numbers = range(first, len(self.index.records))
        if owner is None or not numbers:
            return
        parents = [self.index.records[i] for i in owner.records]
        links = tuple(Link(p.location, p.key, PHONEBOOK_RELATION) for p in parents)
        self.index.phonebooks.append((phonebook.relpath, numbers, links))
        for parent in owner.records:
            self.index.children[parent].append(len(self.index.phonebooks) - 1)

    def _entry_fields(self, entry: dict[str, list[str]], relpath: str) -> list[FieldValue]:
        fields: list[FieldValue] = []
        for name, rule in self.mapping.contact_fields.items():
            values = [
                v for v in (self._prepare(rule, raw, relpath) for raw in entry.get(name, [])) if v
            ]
            values = list(dict.fromkeys(values))
            if not values:
                continue
            if rule.join is not None:
                fields.append(FieldValue(rule.spec, rule.join.join(values)))
                continue
            for position, value in enumerate(values, start=1):
                fields.append(FieldValue(self._numbered_spec(rule.spec, position), value))
        return fields

    def _numbered_spec(self, spec: FieldSpec, position: int) -> FieldSpec:
        """``number``, ``number.2``, ``number.3`` … for several values of one field."""
        if position == 1:
            return spec
        key = (spec.name, position)
        if key not in self._numbered:
            self._numbered[key] = replace(spec, name=f"{spec.name}.{position}")
        return self._numbered[key]

    # -- the index ----------------------------------------------------------------

    def _add(self, record: Record) -> int:
        number = len(self.index.records)
        self.index.records.append(record)
        for value in record.fields:
            spec = value.spec
            if not spec.searchable or value.value is None or value.value is WITHHELD:
                continue
            if spec.identifier == "phone":
                text = str(value.value)
                if text not in self._tails:
                    self._tails[text] = phone_tail(text)
                tail = self._tails[text]
                if tail is not None:
                    self.index.tails[tail].append((number, spec.name, text))
                continue
            normalised = self._normalise(spec.identifier, str(value.value))
            if normalised is None:
                continue
            exact = str(value.value) == normalised
            self.index.places[(spec.identifier, normalised)].append((number, spec.name, exact))
            if spec.identifier == "extension" and "/" in normalised:
                # "201" typed without its client finds every client's 201, as weak matches
                bare = normalised.rsplit("/", 1)[1]
                self.index.places[("extension", bare)].append((number, spec.name, False))
        return number
