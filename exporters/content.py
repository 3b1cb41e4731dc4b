"""The content of a package, independent of its file format.

Every exporter renders the same content: the request's own record, the Art. 15
information taken from the register and the texts files, and the included hits
(grouped service -> category -> source -> record for the access document, as record
types for tables). Building it once keeps the formats in agreement.

Texts come from ``exporters/texts/*.yaml`` (Dutch and English), never from code.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import polars as pl
import pyarrow as pa
import yaml

from discover.case import Case
from discover.deadlines import add_months, first_deadline
from discover.policy import ControllerScope, PackageKind, Selection
from discover.register import Register
from exporters.tables import CONTROLLER, RecordType, display_names, e164, iso_datetime

FORMAT_NAME = {"access": "discover-access-package", "portability": "discover-portability-package"}
FORMAT_VERSION = 1


@cache
def _text_file(name: str) -> dict[str, Any]:
    entry = resources.files("exporters").joinpath("texts", name)
    return yaml.safe_load(entry.read_text(encoding="utf-8"))


def texts() -> dict[str, Any]:
    """The Art. 15 texts (exporters/texts/access.yaml)."""
    return _text_file("access.yaml")


def labels() -> dict[str, Any]:
    """Labels and README texts (exporters/texts/package.yaml)."""
    return _text_file("package.yaml")


def label(key: str, language: str) -> str:
    return str(labels()["labels"][key][language])


def fill(text: str, values: Mapping[str, str]) -> str:
    return text.format_map(dict(values))


def placeholders(register: Register, client: str | None, language: str) -> dict[str, str]:
    organisation = register.organisation
    return {
        "provider": organisation["name"],
        "privacy_email": organisation["privacy_email"],
        "address": organisation["address"],
        "authority": register.authority["name"],
        "authority_url": register.authority["url"],
        "client": client or texts()["client_unnamed"][language],
    }


def source_clients(case: Case) -> dict[str, dict[str, str]]:
    """Source name -> the client organisation it holds data for (from the sources file)."""
    found: dict[str, dict[str, str]] = {}
    for entry in case.summary.get("sources", []):
        client = entry.get("client") if isinstance(entry, dict) else None
        if isinstance(client, dict) and isinstance(client.get("name"), str):
            found[str(entry.get("name"))] = {str(k): str(v) for k, v in client.items()}
    return found


def case_clients(case: Case) -> dict[str, dict[str, str]]:
    """Client name -> its name and contact details: the clients the case's hits name,
    and each source's client (all a case written before records named their client)."""
    found = {client["name"]: client for client in source_clients(case).values()}
    named = case.summary.get("clients")
    for name, entry in (named if isinstance(named, dict) else {}).items():
        if isinstance(entry, dict):
            found[str(name)] = {**{str(k): str(v) for k, v in entry.items()}, "name": str(name)}
    return found


def hit_clients(hits: pa.Table, case: Case) -> list[str | None]:
    """The client organisation of every row of ``hits``, or None where none is known.

    A hit names its record's client (a client field, its place, or its source's
    ``client:``); a hit of a case written before hits named one takes its source's.
    """
    by_source = {source: client["name"] for source, client in source_clients(case).items()}
    return [
        client or by_source.get(source)
        for source, client in zip(
            hits.column("source").to_pylist(), hits.column("client").to_pylist(), strict=True
        )
    ]


def controller_name(
    register: Register, who: str, client: Mapping[str, str] | None, language: str
) -> str:
    """The organisation that is a record's controller: the provider, or the client the
    record is held for. Never the request's employer: a record of another client (a
    namesake at another organisation) is that client's; a record whose client is not
    known names "the client organisation" without a name, never a guess."""
    if who == "provider":
        return register.organisation["name"]
    if client and client.get("name"):
        return client["name"]
    return texts()["client_unnamed"][language]


def _client_details(
    clients: Mapping[str, dict[str, str]], who: str, client: str | None
) -> dict[str, str] | None:
    """A client-controlled record's client as packages name it (None: not known)."""
    if who != "client" or not client:
        return None
    return clients.get(client) or {"name": client}


def hit_controller_names(
    hits: pa.Table, case: Case, register: Register, language: str
) -> list[str]:
    """The controller's name for every row of ``hits`` (see :func:`controller_name`)."""
    clients = case_clients(case)
    names: dict[tuple[str, str | None], str] = {}
    result = []
    for who, client in zip(
        hits.column("controller").to_pylist(), hit_clients(hits, case), strict=True
    ):
        key = (who, client)
        if key not in names:
            details = _client_details(clients, who, client)
            names[key] = controller_name(register, who, details, language)
        result.append(names[key])
    return result


def unattributed_records(hits: pa.Table, case: Case) -> int:
    """How many records of ``hits`` hold client data whose client is not known: their
    controller is named generically ("the client organisation")."""
    refs = set()
    for source, location, key, who, client in zip(
        hits.column("source").to_pylist(),
        hits.column("location").to_pylist(),
        hits.column("record_key").to_pylist(),
        hits.column("controller").to_pylist(),
        hit_clients(hits, case),
        strict=True,
    ):
        if who == "client" and not client:
            refs.add((source, location, key))
    return len(refs)


def identifier_type_label(kind: str, language: str) -> str:
    """An identifier type in words ("e-mailadres", "phone number")."""
    return str(texts()["identifier_types"].get(kind, {}).get(language, kind))


def visible_sources(case: Case, included: pa.Table) -> set[str]:
    """Sources a package may name: those of no single client, and those whose client's
    records the hits ``included`` hold (a source of that client, or a client record a
    source of several clients names it in). Another client's source name reveals that
    client's systems."""
    clients = source_clients(case)
    sources = included.column("source").to_pylist()
    shown_clients = {clients[s]["name"] for s in set(sources) if s in clients}
    shown_clients |= {
        client
        for who, client in zip(
            included.column("controller").to_pylist(), hit_clients(included, case), strict=True
        )
        if who == "client" and client
    }
    names = {str(e.get("name")) for e in case.summary.get("sources", []) if isinstance(e, dict)}
    return {n for n in names if n not in clients or clients[n]["name"] in shown_clients}


def scrub_via(hits: pa.Table, case: Case) -> pa.Table:
    """Provenance without the names of sources the package may not name.

    A record found through another client's directory says so by that client's name
    ("Acme Logistiek B.V."), not by its source and entry (see :func:`visible_sources`).
    """
    if hits.num_rows == 0:
        return hits
    clients = source_clients(case)
    shown = visible_sources(case, hits)
    hidden = {name: info["name"] for name, info in clients.items() if name not in shown}
    if not hidden:
        return hits

    def clean(via: str) -> str:
        steps = via.split(" -> ")
        for index, step in enumerate(steps):
            source = step.split(":", 1)[0]
            if source in hidden:
                steps[index] = hidden[source]
        return " -> ".join(steps)

    cleaned = pa.array([clean(v) for v in hits.column("via").to_pylist()], pa.string())
    return hits.set_column(hits.schema.get_field_index("via"), "via", cleaned)


def request_record(
    case: Case,
    kind: PackageKind,
    *,
    language: str = "nl",
    shown: Collection[str] | None = None,
    extension: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The request's own record: id, dates, what was searched for, sources searched and failed.

    ``shown`` limits the sources named (:func:`visible_sources`); ``extension`` is an
    Art. 12(3) extension of the deadline (``months``, ``reason``).
    """
    request = case.request
    sources = [s for s in case.summary.get("sources", []) if isinstance(s, dict)]
    if shown is not None:
        sources = [s for s in sources if s.get("name") in shown]
    raw = list(request.raw_identifiers) or [(i.type, i.value) for i in request.identifiers]
    deadline = first_deadline(request.received)
    record: dict[str, Any] = {
        "request_id": request.request_id,
        "kind": kind,
        "received": request.received.isoformat(),
        "deadline": deadline.isoformat(),
        "subject_name": request.subject_name,
        "client": request.client,
        "identifiers": [
            {
                "type": kind_,
                "type_label": identifier_type_label(kind_, language),
                "value": value,
            }
            for kind_, value in raw
        ],
        "sources_searched": [s["name"] for s in sources if s.get("status") == "ok"],
        "sources_not_applicable": [s["name"] for s in sources if s.get("status") == "skipped"],
        "sources_failed": [
            {"source": s["name"], "error": s.get("error") or "unknown error"}
            for s in sources
            if s.get("status") == "failed"
        ],
        "identifiers_rejected": [
            {"type": r["type"], "value": r["value"], "reason": r["reason"]}
            for r in case.summary.get("rejected_identifiers", [])
        ],
        "complete": bool(case.summary.get("complete")),
    }
    if extension:
        months = int(extension["months"])
        # counted from the first deadline, as the register counts it (whole months)
        extended = add_months(deadline, months)
        record["deadline_extended"] = {
            "deadline": extended.isoformat(),
            "months": months,
            "reason": str(extension["reason"]),
            "text": fill(
                texts()["deadline_extended"][language],
                {"deadline": extended.isoformat(), "reason": str(extension["reason"])},
            ),
        }
    return record


def cite(article: str, language: str) -> str:
    """A GDPR citation as a Dutch or English reader expects it: "6(1)(b)" becomes
    "art. 6 lid 1 sub b AVG" or "Art. 6(1)(b) GDPR"."""
    if language == "en":
        return f"Art. {article} GDPR"
    parts = article.replace(")", "").split("(")
    text = f"art. {parts[0]}"
    if len(parts) > 1:
        text += f" lid {parts[1]}"
    if len(parts) > 2:
        text += f" sub {parts[2]}"
    return text + " AVG"


def category_info(
    register: Register, category_id: str, controller: str, language: str
) -> dict[str, Any]:
    """The Art. 15(1) and 15(2) information for one category, in one language.

    Everything comes from the register; where the privacy statement is silent on an
    item (the register's ``statement_silent``) the package says so rather than
    guessing, and a recipient the statement does not name is marked as such.
    """
    category = register.category(category_id)
    t = texts()
    unstated = t["not_in_statement"][language]
    basis = register.legal_bases[category.legal_basis]
    recipients = []
    for rid in category.recipients:
        entry = register.recipients[rid]
        text = entry[language]
        if entry.get("in_statement") is False:
            text += f" ({unstated[0].lower()}{unstated[1:].rstrip('.')})"
        recipients.append(text)
    if "recipients" in category.statement_silent:
        recipients.append(t["recipients_unstated"][language])
    elif not recipients:
        recipients.append(t["no_recipients"][language])
    purposes = [register.purposes[p][language] for p in category.purposes]
    if "purposes" in category.statement_silent:
        purposes.append(t["purposes_unstated"][language])
    transfers = [
        {"recipient": rid, "safeguard": register.recipients[rid]["outside_eea"][language]}
        for rid in register.transfers(category_id)
    ]
    if "transfers" in category.statement_silent:
        transfer_text = unstated
    elif transfers:
        transfer_text = " ".join(item["safeguard"] for item in transfers)
    else:
        transfer_text = t["no_transfers"][language]
    info: dict[str, Any] = {
        "category": category.id,
        "title": category.named(language),
        "description": category.description[language],
        "purposes": purposes,
        "recipients": recipients,
        "transfers": {"outside_eea": transfers, "text": transfer_text},
        "retention": category.retention.describe(language),
        "controller": category.controller,
        "controller_name": controller,
        "legal_basis": category.legal_basis,
        "legal_basis_label": f"{basis[language]} ({cite(basis['article'], language)})",
        "portable": category.portable,
        "origin": category.origin,
        "in_statement": category.in_statement,
        "statement_silent": list(category.statement_silent),
    }
    if not category.in_statement:
        info["statement_notice"] = t["category_not_in_statement"][language]
    if category.legitimate_interest:
        info["legitimate_interest"] = category.legitimate_interest[language]
    return info


def controller_parts(
    everything: pa.Table,
    case: Case,
    register: Register,
    language: str,
    scope: ControllerScope,
) -> list[dict[str, Any]]:
    """Who answers for what: one part per controller organisation, with its contact
    details and the categories held for it.

    ``everything`` is what a package of every controller would hold (so that a client
    whose records this package leaves out is still named, with the categories the
    provider holds for it as its processor, and the subject knows whom to address).
    """
    t = texts()
    clients = case_clients(case)
    organisation = register.organisation
    held: dict[tuple[str, str], set[str]] = {}
    contact_of: dict[str, dict[str, str]] = {}
    for who, category, named in zip(
        everything.column("controller").to_pylist(),
        everything.column("category").to_pylist(),
        hit_clients(everything, case),
        strict=True,
    ):
        client = _client_details(clients, who, named)
        name = controller_name(register, who, client, language)
        held.setdefault((who, name), set()).add(category)
        if client:
            contact_of[name] = client
    if scope in ("provider", "all"):
        held.setdefault(("provider", organisation["name"]), set())
    parts = []
    for (who, name), categories in sorted(
        held.items(), key=lambda i: (i[0][0] != "provider", i[0][1])
    ):
        included = scope == "all" or scope == who
        if who == "provider":
            contact = {
                "address": organisation["address"],
                "privacy_contact": organisation["privacy_email"],
                **({"phone": organisation["phone"]} if organisation.get("phone") else {}),
            }
        else:
            details = contact_of.get(name, {})
            contact = {
                k: details[k] for k in ("address", "privacy_contact", "phone") if k in details
            }
        values = {
            "provider": organisation["name"],
            "client": name,
            "contact": _contact_text(contact, language),
            "categories": ", ".join(
                register.category(c).named(language) for c in sorted(categories)
            ),
        }
        unnamed = who == "client" and name not in contact_of
        if who == "provider":
            statement = fill(t["controller_split"]["provider"][language], values)
        elif unnamed:
            which = "included" if included else "elsewhere"
            values["privacy_email"] = organisation["privacy_email"]
            statement = fill(t["client_unnamed_split"][which][language], values)
        elif included:
            statement = fill(t["controller_split"]["client"][language], values)
        else:
            statement = fill(t["controller_split"]["client_elsewhere"][language], values)
        parts.append(
            {
                "controller": who,
                "organisation": name,
                "role": "controller",
                "processor": None if who == "provider" else organisation["name"],
                "contact": contact,
                "included": included,
                "statement": statement,
                "categories": sorted(categories),
            }
        )
    return parts


def _contact_text(contact: Mapping[str, str], language: str) -> str:
    if not contact:
        return texts()["client_contact_unknown"][language]
    return ", ".join(contact[k] for k in ("privacy_contact", "address", "phone") if k in contact)


def information(
    register: Register,
    parts: list[dict[str, Any]],
    language: str,
    controller: ControllerScope,
) -> dict[str, Any]:
    """The general Art. 15 information: rights, complaint, source, who answers for what."""
    values = placeholders(register, None, language)
    t = texts()
    info: dict[str, Any] = {
        "intro": fill(t["intro"][language], values),
        "controller": {
            "provider": {
                "name": register.organisation["name"],
                "address": register.organisation["address"],
                "privacy_email": register.organisation["privacy_email"],
                "phone": register.organisation.get("phone"),
            },
            "parts": parts,
        },
    }
    if controller != "all":
        info["controller"]["scope"] = fill(t["controller_scope"][controller][language], values)
    info |= {
        "source_of_data": fill(t["source_of_data"][language], values),
        "automated_decisions": t["automated_decisions"][language],
        "rights": [{"right": r["id"], "text": r[language]} for r in t["rights"]],
        "how_to_exercise": fill(t["how_to_exercise"][language], values),
        "complaint": {
            "authority": register.authority["name"],
            "url": register.authority["url"],
            "text": fill(t["complaint"][language], values),
        },
    }
    return info


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


_TREE_COLUMNS = (
    "service",
    "category",
    "source",
    "location",
    "record_key",
    "field",
    "value",
    "value_type",
    "identifier",
    "match",
    "via",
    "recorded_at",
    "secret",
    "secret_kind",
    "third_party",
    "origin",
    "label_nl",
    "label_en",
)


def _field_entry(
    name: str,
    value: str | None,
    value_type: str,
    identifier: str | None,
    withheld: str | None,
    secret_kind: str | None,
    origin: str | None,
    label: str | None,
    masked: bool,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "field": name,
        "label": label or name,
        "value": iso_datetime(value) if identifier is None else value,
        "value_type": value_type,
        "origin": origin,
        "withheld": withheld,
    }
    if withheld == "secret":
        entry["secret"] = secret_kind or "system"
    if masked:
        entry["masked"] = True
    elif identifier == "phone" and value is not None:
        entry["e164"] = e164(value)
    return entry


def grouped_data(
    selection: Selection,
    register: Register,
    case: Case,
    language: str,
    attachments: Mapping[tuple[str, str, str, str], str] | None = None,
) -> list[dict[str, Any]]:
    """Included hits as service -> category (per controller) -> source -> record -> fields.

    A category held for two controllers (the directory of two clients) is two
    entries, each naming its controller; so is every record.
    """
    hits = selection.hits
    names = hit_controller_names(hits, case, register, language)
    frame = pl.from_arrow(hits.select(list(_TREE_COLUMNS)))
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(pl.Series("controller_name", names, dtype=pl.String))
    masked_refs = {
        (m["source"], m["location"], m["record_key"], m["field"]) for m in selection.masked
    }
    withheld = (  # another person's credential is their data first (see select_hits)
        pl.when(pl.col("third_party"))
        .then(pl.lit("third_party"))
        .when(pl.col("secret"))
        .then(pl.lit("secret"))
        .otherwise(pl.lit(None, pl.String))
    )
    # Records are built by polars (in Rust); Python only places them in the tree.
    records = (
        frame.with_columns(
            pl.when(pl.col("secret") | pl.col("third_party"))
            .then(pl.lit(None, pl.String))
            .otherwise(pl.col("value"))
            .alias("value"),
            withheld.alias("withheld"),
            pl.col("recorded_at")
            .dt.convert_time_zone("UTC")
            .dt.to_string("%Y-%m-%dT%H:%M:%S+00:00"),
            pl.col(f"label_{language}").alias("label"),
        )
        .group_by(
            ["service", "category", "controller_name", "source", "location", "record_key"],
            maintain_order=True,
        )
        .agg(
            pl.col("match").first(),
            pl.col("via").first(),
            pl.col("recorded_at").first(),
            pl.col("field"),
            pl.col("value"),
            pl.col("value_type"),
            pl.col("identifier"),
            pl.col("withheld"),
            pl.col("secret_kind"),
            pl.col("origin"),
            pl.col("label"),
        )
    )
    tree: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = {}
    columns = ("service", "category", "controller_name", "source", "location", "record_key")
    columns += ("match", "via", "recorded_at", "field", "value", "value_type", "identifier")
    columns += ("withheld", "secret_kind", "origin", "label")
    for row in zip(*(records.get_column(n).to_list() for n in columns), strict=True):
        service, category, controller, source, location, key, match, via, recorded = row[:9]
        fields = [
            _field_entry(*entry, masked=(source, location, key, entry[0]) in masked_refs)
            for entry in zip(*row[9:], strict=True)
        ]
        for entry in fields:
            attached = (attachments or {}).get((source, location, key, entry["field"]))
            if attached:
                entry["file"] = attached
        tree.setdefault((service, category, controller), {}).setdefault(source, []).append(
            {
                "location": location,
                "record_key": key,
                "controller_name": controller,
                "match": match,
                "via": via,
                "recorded_at": recorded,
                "fields": fields,
            }
        )
    services: dict[str, list[dict[str, Any]]] = {}
    for service_id, category_id, controller in sorted(tree):
        sources = [
            {"source": name, "records": found}
            for name, found in sorted(tree[(service_id, category_id, controller)].items())
        ]
        info = category_info(register, category_id, controller, language)
        services.setdefault(service_id, []).append({**info, "sources": sources})
    return [
        {
            "service": service_id,
            "label": register.services[service_id][language],
            "categories": categories,
        }
        for service_id, categories in services.items()
    ]


def left_out(selection: Selection, language: str) -> dict[str, Any]:
    """What the policy left out, as counts of fields per reason, with the reason in words."""
    t = texts()
    return {
        "explanation": t["left_out"][language],
        "reasons": [
            {"reason": reason, "fields": count, "text": t["left_out_reasons"][reason][language]}
            for reason, count in sorted(selection.left_out.items())
        ],
    }


def decisions_summary(selection: Selection) -> list[dict[str, str]]:
    """The review decisions the package applied, without reasons or reviewers' names.

    The full decisions (reason, who decided) are staff records: they stay in the case
    (decisions.json and the export log), because a reason may describe someone else.
    """
    return [
        {
            "source": d["source"],
            "location": d["location"],
            "record_key": d["record_key"],
            "action": d["action"],
            "decided_at": d["decided_at"],
        }
        for d in selection.decisions_applied
    ]


@dataclass(frozen=True, slots=True)
class PackageContext:
    """Everything a package's content is built from, once for every format.

    ``everything`` is the selection a package of every controller would hold: the
    client sections name each client whose data the provider holds as its processor,
    also when this package leaves that data out. ``extension`` is an Art. 12(3)
    extension of the deadline (``months`` and ``reason``).
    """

    case: Case
    selection: Selection
    register: Register
    language: str
    controller: ControllerScope
    generated_at: str
    everything: pa.Table
    extension: Mapping[str, Any] | None = None
    #: (source, location, record_key, field) -> the file's name in the package
    attachments: Mapping[tuple[str, str, str, str], str] = field(default_factory=dict)

    def categories(self) -> list[str]:
        return sorted(set(self.selection.hits.column("category").to_pylist()))

    def shown_sources(self) -> set[str]:
        return visible_sources(self.case, self.selection.hits)

    def request(self, kind: PackageKind) -> dict[str, Any]:
        return request_record(
            self.case,
            kind,
            language=self.language,
            shown=self.shown_sources(),
            extension=self.extension,
        )

    def parts(self) -> list[dict[str, Any]]:
        return controller_parts(
            self.everything, self.case, self.register, self.language, self.controller
        )

    def category_entries(self) -> list[dict[str, Any]]:
        """One entry per (category, controller) the package holds."""
        hits = self.selection.hits
        names = hit_controller_names(hits, self.case, self.register, self.language)
        records: dict[tuple[str, str], set[tuple[str, str, str]]] = {}
        for category, name, source, location, key in zip(
            hits.column("category").to_pylist(),
            names,
            hits.column("source").to_pylist(),
            hits.column("location").to_pylist(),
            hits.column("record_key").to_pylist(),
            strict=True,
        ):
            records.setdefault((category, name), set()).add((source, location, key))
        return [
            {**category_info(self.register, c, n, self.language), "records": len(refs)}
            for (c, n), refs in sorted(records.items())
        ]

    def statement_notices(self) -> list[dict[str, str]]:
        """Categories the package holds that the privacy statement does not mention."""
        t = texts()
        return [
            {
                "category": c,
                "title": self.register.category(c).named(self.language),
                "text": t["category_not_in_statement"][self.language],
            }
            for c in self.categories()
            if not self.register.category(c).in_statement
        ]


def _record_clients(hits: pa.Table, case: Case) -> dict[tuple[str, str, str], str | None]:
    """(source, location, record_key) -> the record's client (see :func:`hit_clients`)."""
    found: dict[tuple[str, str, str], str | None] = {}
    for source, location, key, client in zip(
        hits.column("source").to_pylist(),
        hits.column("location").to_pylist(),
        hits.column("record_key").to_pylist(),
        hit_clients(hits, case),
        strict=True,
    ):
        if found.get((source, location, key)) is None:
            found[(source, location, key)] = client
    return found


def _labels_of(selection: Selection, language: str) -> dict[tuple[str, str], str]:
    hits = selection.hits
    result: dict[tuple[str, str], str] = {}
    for source, name, text in zip(
        hits.column("source").to_pylist(),
        hits.column("field").to_pylist(),
        hits.column(f"label_{language}").to_pylist(),
        strict=True,
    ):
        result.setdefault((source, name), text or name)
    return result


def withheld_block(ctx: PackageContext) -> dict[str, Any]:
    """Withheld secrets: the subject's own may be asked for, the network's never."""
    t = texts()
    values = placeholders(ctx.register, None, ctx.language)
    names = _labels_of(ctx.selection, ctx.language)
    fields = [
        {**item, "label": names.get((item["source"], item["field"]), item["field"])}
        for item in ctx.selection.withheld
    ]
    return {
        "explanation": fill(t["withheld"][ctx.language], values),
        "subject": fill(t["withheld_subject"][ctx.language], values),
        "system": fill(t["withheld_system"][ctx.language], values),
        "fields": fields,
    }


#: categories whose records describe a sound recording held elsewhere
RECORDING_CATEGORIES = ("usage.recordings", "general.call_recordings")


def files_not_included(ctx: PackageContext) -> dict[str, Any]:
    """Files the package describes but does not hold, and how to obtain them.

    A directory photo or certificate reaches the case as its size and SHA-256 only (the
    connectors never copy binary values), and call recordings are stored outside the
    sources searched: each is listed, and the subject may ask for the file.
    """
    hits = ctx.selection.hits
    t = texts()
    values = placeholders(ctx.register, None, ctx.language)
    names = _labels_of(ctx.selection, ctx.language)
    items: list[dict[str, str]] = []
    seen_recordings: set[tuple[str, str, str]] = set()
    attached_records = {key[:3] for key in ctx.attachments}
    for source, location, key, name, value, value_type, category in zip(
        *(
            hits.column(c).to_pylist()
            for c in ("source", "location", "record_key", "field", "value", "value_type")
        ),
        hits.column("category").to_pylist(),
        strict=True,
    ):
        ref = (source, location, key)
        if value_type == "binary" and value is not None:
            if (source, location, key, name) in ctx.attachments:
                continue  # the package holds it as a file
            kind = "binary"
        elif (
            category in RECORDING_CATEGORIES
            and ref not in seen_recordings
            and ref not in attached_records
        ):
            seen_recordings.add(ref)
            kind, name, value = "recording", "", None
        else:
            continue
        items.append(
            {
                "kind": kind,
                "source": source,
                "location": location,
                "record_key": key,
                "field": name,
                "label": names.get((source, name), name) if name else "",
                "description": value or "",
            }
        )
    # name only the kinds of file actually missing (photos may all be in the package)
    kinds = [k for k in ("binary", "recording") if any(i["kind"] == k for i in items)]
    what = f" {t['files_not_included_and'][ctx.language]} ".join(
        t[f"files_not_included_{k}"][ctx.language] for k in kinds
    )
    return {
        "explanation": (
            fill(t["files_not_included"][ctx.language], {**values, "what": what}) if items else ""
        ),
        "items": items,
    }


def access_document(ctx: PackageContext, *, with_data: bool = True) -> dict[str, Any]:
    """The whole access package as one document (the JSON format writes exactly this).

    ``with_data=False`` gives the metadata alone (the CSV sidecar and the XLSX cover
    carry it), with the Art. 15 information per category under ``categories``.
    """
    language = ctx.language
    values = placeholders(ctx.register, None, language)
    t = texts()
    document: dict[str, Any] = {
        "format": FORMAT_NAME["access"],
        "format_version": FORMAT_VERSION,
        "title": t["title"]["access"][language],
        "language": language,
        "generated_at": ctx.generated_at,
        "controller_scope": ctx.controller,
        "request": ctx.request("access"),
    }
    if not document["request"]["complete"]:
        document["notice"] = t["incomplete"][language]
    document["information"] = information(ctx.register, ctx.parts(), language, ctx.controller)
    document["statement_notices"] = ctx.statement_notices()
    if with_data:
        document["data"] = grouped_data(
            ctx.selection, ctx.register, ctx.case, language, ctx.attachments
        )
    else:
        document["categories"] = ctx.category_entries()
    document["withheld"] = withheld_block(ctx)
    names = _labels_of(ctx.selection, language)
    document["redacted"] = {
        "explanation": fill(t["redacted"][language], values),
        "fields": [
            {**item, "label": names.get((item["source"], item["field"]), item["field"])}
            for item in ctx.selection.redacted
        ],
    }
    document["masked"] = {
        "explanation": t["masked"][language],
        "fields": [
            {**item, "label": names.get((item["source"], item["field"]), item["field"])}
            for item in ctx.selection.masked
        ],
    }
    document["files_not_included"] = files_not_included(ctx)
    document["left_out"] = left_out(ctx.selection, language)
    shown = ctx.shown_sources()
    document["decisions_applied"] = [
        d for d in decisions_summary(ctx.selection) if d["source"] in shown
    ]
    return document


def record_type_documents(
    record_types: Sequence[RecordType], names: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "title": names[i] if names else r.category,
            "category": r.category,
            "source": r.source,
            "location": r.location,
            "rows": r.rows,
            "columns": [c.to_document() for c in r.columns],
        }
        for i, r in enumerate(record_types)
    ]


def portability_document(
    ctx: PackageContext,
    record_types: Sequence[RecordType],
    *,
    with_records: bool = True,
) -> dict[str, Any]:
    """The portability package: records per record type, no prose, stable names.

    Values are the source's text (``value_type`` says how to read them); a withheld
    or redacted field is null and listed under ``withheld``. Every dataset and record
    names its controller; ``information`` is the Art. 15 information that goes with
    it (the same as an access package's), so that the package stands on its own.
    """
    register, case, language = ctx.register, ctx.case, ctx.language
    clients = case_clients(case)
    record_client = _record_clients(ctx.selection.hits, case)
    titles = {c: register.category(c).named(language) for c in register.categories}
    names = display_names(record_types, titles)
    datasets = []
    for record_type, described in zip(
        record_types, record_type_documents(record_types, names), strict=True
    ):
        who = register.category(record_type.category).controller
        frame = record_type.frame
        place = (record_type.source, record_type.location)
        given = frame.get_column(CONTROLLER).to_list() if CONTROLLER in frame.columns else None
        controllers = [
            (given[n] if given and given[n] else None)
            or controller_name(
                register,
                who,
                _client_details(clients, who, record_client.get((*place, key))),
                language,
            )
            for n, key in enumerate(frame.get_column(frame.columns[0]).to_list())
        ]
        dataset: dict[str, Any] = {
            "id": described["id"],
            "title": described["title"],
            "category": described["category"],
            # one name when every record has the same controller, else each of them
            "controller_name": " / ".join(dict.fromkeys(controllers))
            or controller_name(register, who, None, language),
            "source": described["source"],
            "location": described["location"],
            "columns": described["columns"],
            "rows": described["rows"],
        }
        if with_records:
            # _record_key first, _controller and _recorded_at last
            names = frame.columns
            fields_at = [i for i in range(1, len(names) - 1) if names[i] != CONTROLLER]
            dataset["records"] = [
                {
                    "record_key": row[0],
                    "controller_name": controller,
                    "recorded_at": _iso(row[-1]),
                    "values": {names[i]: row[i] for i in fields_at},
                }
                for row, controller in zip(frame.iter_rows(), controllers, strict=True)
            ]
        datasets.append(dataset)
    by_location = {(r.source, r.location): r.id for r in record_types}
    withheld = [
        {
            "dataset": by_location[(f["source"], f["location"])],
            "record_key": f["record_key"],
            "field": f["field"],
            "reason": reason,
            **({"secret": f["secret"]} if "secret" in f else {}),
        }
        for reason, fields in (
            ("secret", ctx.selection.withheld),
            ("third_party", ctx.selection.redacted),
        )
        for f in fields
    ]
    return {
        "format": FORMAT_NAME["portability"],
        "format_version": FORMAT_VERSION,
        "title": texts()["title"]["portability"][language],
        "language": language,
        "generated_at": ctx.generated_at,
        "request_id": case.request.request_id,
        "controller_scope": ctx.controller,
        "request": ctx.request("portability"),
        "controllers": {
            "provider": register.organisation["name"],
            "parts": ctx.parts(),
        },
        "information": information(register, ctx.parts(), language, ctx.controller),
        "statement_notices": ctx.statement_notices(),
        "categories": ctx.category_entries(),
        "datasets": datasets,
        "withheld": withheld,
        "withheld_explanation": withheld_block(ctx),
        "left_out": dict(sorted(ctx.selection.left_out.items())),
    }
