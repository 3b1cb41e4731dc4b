"""Directory connector: LDAP and Active Directory servers through ldap3.

The search runs on the server: per entry type, one filter ORs the subject's
identifiers in the spellings directories store (see :mod:`connectors.directory.filter`,
every value escaped per RFC 4515), read with simple paged results (RFC 2696). Many
identifiers (a batch job) are split into OR-chunks. Size and time limits the server
or the sources file imposes are reported (``truncated`` and a warning), never
silently dropped. Every returned value is verified again after normalisation
(:mod:`connectors.directory.values`); declared relations (the groups whose ``member``
holds a found person's DN) are followed with escaped DN filters.

One connection per source, opened on first use, bound with the sources file's
``bind_dn`` and ``${VAR}`` password, optionally over ldaps:// or StartTLS, and
reused for every scan of the search. The connection is read-only (ldap3 refuses
writes on it).
"""

from __future__ import annotations

import contextlib
import ssl
from collections import defaultdict
from collections.abc import Collection
from typing import Any, ClassVar

from ldap3 import ANONYMOUS, BASE, LEVEL, NONE, SCHEMA, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as ldap_errors

from connectors.base import Link, Record, ScanResult, wanted_index
from connectors.directory.filter import dn_filters, search_filters
from connectors.directory.mapping import (
    DirectoryConnector,
    LdapEntryType,
    LdapRelation,
)
from connectors.directory.settings import LdapSettings, ldap_settings
from connectors.directory.values import RawEntry, build_record, dn_key, object_classes, raw_entry
from discover.errors import SourceError
from discover.identifiers import Identifier

_SCOPES = {"base": BASE, "one": LEVEL, "subtree": SUBTREE}
_PAGED_RESULTS = "1.2.840.113556.1.4.319"
_NO_SUCH_OBJECT = 32
#: result codes that end a search early but keep what was returned
_LIMITS = {
    3: "the server's time limit",
    4: "the size limit",
    11: "an administrative limit",
}


def _clean(text: object) -> str:
    return " ".join(str(text).split())[:300]


class LdapConnector(DirectoryConnector):
    """Searches an LDAP or Active Directory server with a directory mapping."""

    kind: ClassVar[str] = "ldap"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._settings: LdapSettings | None = None
        self._connection: Connection | None = None

    # -- connection -----------------------------------------------------------------

    @property
    def ldap_settings(self) -> LdapSettings:
        if self._settings is None:
            self._settings = ldap_settings(self.source)
        return self._settings

    def _server(self, get_info: str) -> Server:
        settings = self.ldap_settings
        tls = None
        if settings.tls:
            tls = Tls(
                validate=ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE,
                ca_certs_file=str(settings.ca_file) if settings.ca_file else None,
            )
        return Server(
            settings.host,
            port=settings.port,
            use_ssl=settings.use_ssl,
            tls=tls,
            get_info=get_info,
            connect_timeout=settings.connect_timeout,
        )

    def _failure(self, exc: BaseException, doing: str) -> SourceError:
        """A SourceError naming what failed, for an ldap3 or socket error."""
        settings = self.ldap_settings
        text = _clean(exc)
        lowered = text.lower()
        if "timed out" in lowered or isinstance(exc, ldap_errors.LDAPResponseTimeoutError):
            limit = settings.connect_timeout if "open" in lowered else settings.timeout
            message = f"{settings.url} did not answer within {limit:g} s while {doing}"
        elif "refused" in lowered:
            message = f"cannot reach {settings.url}: connection refused (is the server down?)"
        elif isinstance(exc, ldap_errors.LDAPSocketOpenError):
            message = f"cannot reach {settings.url}: {text}"
        elif isinstance(exc, ldap_errors.LDAPStartTLSError):
            message = f"StartTLS with {settings.url} failed: {text}"
        else:
            message = f"{doing} on {settings.url} failed: {type(exc).__name__}: {text}"
        transient = isinstance(
            exc,
            ldap_errors.LDAPSocketOpenError
            | ldap_errors.LDAPSocketReceiveError
            | ldap_errors.LDAPSocketSendError
            | ldap_errors.LDAPSessionTerminatedByServerError
            | ldap_errors.LDAPResponseTimeoutError
            | OSError,
        )
        return SourceError(self.name, message, transient=transient)

    def _open(self, get_info: str = NONE) -> Connection:
        """A bound connection (StartTLS first when asked); SourceError otherwise."""
        settings = self.ldap_settings
        if settings.bind_dn and not settings.password:
            raise SourceError(
                self.name,
                f"connection.password is empty for bind_dn {settings.bind_dn}: set it through "
                "${VAR} (an empty password would be an unauthenticated bind)",
            )
        connection = Connection(
            self._server(get_info),
            user=settings.bind_dn,
            password=settings.password,
            authentication=SIMPLE if settings.bind_dn else ANONYMOUS,
            read_only=True,
            raise_exceptions=False,
            receive_timeout=settings.timeout,
            auto_referrals=False,
            return_empty_attributes=False,
        )
        try:
            connection.open()
            if settings.start_tls and not connection.start_tls():
                raise SourceError(
                    self.name,
                    f"StartTLS with {settings.url} failed: {_clean(connection.result)}",
                )
            if not connection.bind():
                result = connection.result or {}
                who = f"as {settings.bind_dn}" if settings.bind_dn else "anonymously"
                detail = result.get("description", "refused")
                extra = _clean(result.get("message") or "")
                raise SourceError(
                    self.name,
                    f"bind {who} to {settings.url} refused: {detail}"
                    + (f" ({extra})" if extra else ""),
                )
        except SourceError:
            connection.unbind()
            raise
        except (ldap_errors.LDAPException, OSError) as exc:
            connection.unbind()
            raise self._failure(exc, "connecting") from exc
        return connection

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = self._open()
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(ldap_errors.LDAPException, OSError):
                self._connection.unbind()
            self._connection = None

    def close(self) -> None:
        self._drop()

    def check(self) -> None:
        _ = self.connection

    def _base_dn(self, entry_type: LdapEntryType, index: int) -> str:
        dn = entry_type.bases[index].resolve(self.ldap_settings.base_dn)
        if not dn:
            raise SourceError(
                self.name,
                f"entries.{entry_type.name}: the mapping's base is relative but "
                "connection.base_dn is not set in the sources file",
            )
        return dn

    def check_mapping(self) -> list[str]:
        """Object classes and attributes against the server's schema; bases that do not exist."""
        problems: list[str] = []
        connection = self._open(get_info=SCHEMA)
        try:
            schema = connection.server.schema
            if schema is None:
                problems.append(
                    "the server did not publish its schema: attribute names were not checked"
                )
            checked_bases: set[str] = set()
            for name, entry_type in self.mapping.entries.items():
                where = f"entries.{name}"
                if schema is not None:
                    classes = [*entry_type.object_classes, *entry_type.exclude_object_classes]
                    for object_class in classes:
                        if object_class not in schema.object_classes:
                            problems.append(
                                f"object class {object_class!r} ({where}.object_classes) "
                                "is not in the server's schema"
                            )
                    for attribute in entry_type.attributes.values():
                        if attribute.name not in schema.attribute_types:
                            problems.append(
                                f"attribute {attribute.name!r} ({where}.attributes."
                                f"{attribute.name}) is not in the server's schema"
                            )
                    if entry_type.key and entry_type.key not in schema.attribute_types:
                        problems.append(
                            f"key attribute {entry_type.key!r} ({where}.key) "
                            "is not in the server's schema"
                        )
                for index in range(len(entry_type.bases)):
                    base = self._base_dn(entry_type, index)
                    if base.lower() in checked_bases:
                        continue
                    checked_bases.add(base.lower())
                    try:
                        connection.search(base, "(objectClass=*)", BASE, attributes=["1.1"])
                    except (ldap_errors.LDAPException, OSError) as exc:
                        raise self._failure(exc, "checking the bases") from exc
                    if connection.result["result"] == _NO_SUCH_OBJECT:
                        problems.append(
                            f"base {base!r} ({where}.bases[{index}]) does not exist on the server"
                        )
        finally:
            connection.unbind()
        return problems

    # -- searching --------------------------------------------------------------------

    def _search(
        self, base: str, scope: str, search_filter: str, attributes: list[str], result: ScanResult
    ) -> list[tuple[str, RawEntry]]:
        """Every entry of one (paged) search; limits become warnings, errors SourceError."""
        settings = self.ldap_settings
        connection = self.connection
        entries: list[tuple[str, RawEntry]] = []
        cookie: bytes | None = None
        while True:
            try:
                connection.search(
                    base,
                    search_filter,
                    search_scope=_SCOPES[scope],
                    attributes=attributes,
                    size_limit=settings.size_limit,
                    time_limit=settings.time_limit,
                    paged_size=settings.page_size or None,
                    paged_cookie=cookie,
                )
            except (ldap_errors.LDAPException, OSError) as exc:
                self._drop()
                raise self._failure(exc, "searching") from exc
            outcome = connection.result or {}
            for item in connection.response or []:
                if item.get("type") == "searchResEntry":
                    result.rows_read += 1
                    entries.append((item["dn"], raw_entry(item["raw_attributes"])))
                elif item.get("type") == "searchResRef":
                    warning = f"referral(s) under {base} not followed: {item.get('uri')}"
                    if warning not in result.warnings:
                        result.warnings.append(warning)
            code = outcome.get("result", 0)
            if code == _NO_SUCH_OBJECT:
                raise SourceError(self.name, f"search base {base!r} does not exist on the server")
            if code in _LIMITS:
                result.truncated = True
                result.warnings.append(
                    f"search under {base} stopped at {_LIMITS[code]} after {len(entries)} "
                    "entries: the result is incomplete"
                )
                return entries
            if code not in (0, 10):  # 10 = referral (auto_referrals is off)
                detail = outcome.get("description", code)
                message = _clean(outcome.get("message") or "")
                raise SourceError(
                    self.name,
                    f"search under {base} failed: {detail}" + (f" ({message})" if message else ""),
                )
            controls = outcome.get("controls") or {}
            cookie = controls.get(_PAGED_RESULTS, {}).get("value", {}).get("cookie")
            if not cookie:
                return entries

    def _find(
        self,
        entry_type: LdapEntryType,
        filters: list[str],
        wanted: dict[str, dict[str, Identifier]],
        found: dict[tuple[str, ...], Record],
        result: ScanResult,
    ) -> list[tuple[Record, RawEntry]]:
        """Run filters under every base of an entry type; new entries, verified."""
        fresh: list[tuple[Record, RawEntry]] = []
        attributes = entry_type.requested()
        for index, base in enumerate(entry_type.bases):
            base_dn = self._base_dn(entry_type, index)
            for search_filter in filters:
                for dn, entry in self._search(
                    base_dn, base.scope, search_filter, attributes, result
                ):
                    if not entry_type.accepts(object_classes(entry)):
                        continue
                    key = dn_key(dn)
                    if key in found:
                        continue
                    record = build_record(entry_type, dn, entry, base_dn, wanted)
                    found[key] = record
                    fresh.append((record, entry))
        return fresh

    def scan(self, identifiers: Collection[Identifier]) -> ScanResult:
        wanted = wanted_index(identifiers)
        result = ScanResult()
        max_terms = self.ldap_settings.filter_terms
        # per entry type: DN key -> record (matched or reached through a relation)
        found: dict[str, dict[tuple[str, ...], Record]] = defaultdict(dict)
        frontier: dict[str, list[Record]] = defaultdict(list)
        for name, entry_type in self.mapping.entries.items():
            mine = sorted(i for i in identifiers if i.type in self._types(entry_type))
            if not mine:
                continue
            filters = search_filters(entry_type, mine, max_terms=max_terms)
            candidates: dict[tuple[str, ...], Record] = {}
            for record, _entry in self._find(entry_type, filters, wanted, candidates, result):
                if record.matches:
                    found[name][dn_key(str(record.fields[0].value))] = record
                    frontier[name].append(record)
        self._follow_relations(found, frontier, wanted, result)
        result.records = [record for records in found.values() for record in records.values()]
        return result

    @staticmethod
    def _types(entry_type: LdapEntryType) -> set[str]:
        return {str(a.spec.identifier) for a in entry_type.searchable}

    def _follow_relations(
        self,
        found: dict[str, dict[tuple[str, ...], Record]],
        frontier: dict[str, list[Record]],
        wanted: dict[str, dict[str, Identifier]],
        result: ScanResult,
    ) -> None:
        """From found entries, fetch the entries whose DN-valued attribute names them.

        Relations between the same two entry types (groups.member and
        groups.uniqueMember -> people) share one search.
        """
        max_terms = self.ldap_settings.filter_terms
        grouped: dict[tuple[str, str], list[LdapRelation]] = defaultdict(list)
        for relation in self.mapping.relations:
            grouped[(relation.from_type, relation.to_type)].append(relation)
        while any(frontier.values()):
            next_frontier: dict[str, list[Record]] = defaultdict(list)
            for (from_type, to_type), relations in grouped.items():
                parents = frontier.get(to_type, [])
                if not parents:
                    continue
                by_dn = {dn_key(str(p.fields[0].value)): p for p in parents}
                dns = sorted({str(p.fields[0].value) for p in parents})
                entry_type = self.mapping.entries[from_type]
                attributes = [relation.attribute for relation in relations]
                filters = dn_filters(entry_type, attributes, dns, max_terms=max_terms)
                children: dict[tuple[str, ...], Record] = {}
                for child, entry in self._find(entry_type, filters, wanted, children, result):
                    key = dn_key(str(child.fields[0].value))
                    existing = found[from_type].get(key)
                    target = existing or child
                    for relation in relations:
                        for value in entry.get(relation.attribute.lower(), []):
                            parent = by_dn.get(dn_key(value.decode("utf-8", "replace")))
                            if parent is None or parent is target:
                                continue
                            link = Link(parent.location, parent.key, relation.label)
                            if link not in target.links:
                                target.links.append(link)
                    if existing is None and target.links:
                        found[from_type][key] = target
                        next_frontier[from_type].append(target)
            frontier = next_frontier
