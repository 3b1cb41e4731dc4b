"""The content of a package, independent of its file format.

Every exporter renders the same content: the request's own record, the Art. 15
information taken from the register and the texts files, and the included hits
(grouped service -> category -> source -> record for the access document, as record
types for tables). Building it once keeps the formats in agreement.

Texts come from ``exporters/texts/*.yaml`` (Dutch and English), never from code.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

import polars as pl
import yaml

from discover.case import Case
from discover.policy import ControllerScope, PackageKind, Selection
from discover.register import Register
from exporters.tables import RecordType

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


def one_month_later(day: date) -> date:
    """The Art. 12(3) deadline: one month after receipt (end of month if shorter)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


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


def controller_name(register: Register, who: str, client: str | None, language: str) -> str:
    """The organisation that is the controller: the provider, or the client by name."""
    if who == "provider":
        return register.organisation["name"]
    return client or texts()["client_unnamed"][language]


def request_record(case: Case, kind: PackageKind) -> dict[str, Any]:
    """The request's own record: id, dates, sources searched and failed."""
    request = case.request
    sources = case.summary.get("sources", [])
    return {
        "request_id": request.request_id,
        "kind": kind,
        "received": request.received.isoformat(),
        "deadline": one_month_later(request.received).isoformat(),
        "subject_name": request.subject_name,
        "client": request.client,
        "identifiers": [{"type": i.type, "value": i.value} for i in request.identifiers],
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


def category_info(
    register: Register, category_id: str, client: str | None, language: str
) -> dict[str, Any]:
    """The Art. 15(1) information for one category, in one language."""
    category = register.category(category_id)
    basis = register.legal_bases[category.legal_basis]
    recipients = [register.recipients[r][language] for r in category.recipients]
    info: dict[str, Any] = {
        "category": category.id,
        "description": category.description[language],
        "purposes": [register.purposes[p][language] for p in category.purposes],
        "recipients": recipients or [texts()["no_recipients"][language]],
        "retention": category.retention.describe(language),
        "controller": category.controller,
        "controller_name": controller_name(register, category.controller, client, language),
        "legal_basis": category.legal_basis,
        "legal_basis_label": f"{basis[language]} (art. {basis['article']} AVG/GDPR)",
        "portable": category.portable,
    }
    if category.legitimate_interest:
        info["legitimate_interest"] = category.legitimate_interest[language]
    return info


def information(
    register: Register,
    categories: Sequence[str],
    client: str | None,
    language: str,
    controller: ControllerScope,
) -> dict[str, Any]:
    """The general Art. 15 information: rights, complaint, source, controller split."""
    values = placeholders(register, client, language)
    t = texts()
    present = sorted({register.category(c).controller for c in categories})
    if controller != "all":
        present = sorted(set(present) | {controller})
    info: dict[str, Any] = {
        "intro": fill(t["intro"][language], values),
        "controller": {
            "provider": {
                "name": register.organisation["name"],
                "address": register.organisation["address"],
                "privacy_email": register.organisation["privacy_email"],
                "phone": register.organisation.get("phone"),
            },
            "client": client,
            "parts": [
                {
                    "controller": who,
                    "organisation": controller_name(register, who, client, language),
                    "statement": fill(t["controller_split"][who][language], values),
                    "categories": sorted(
                        c for c in categories if register.category(c).controller == who
                    ),
                }
                for who in present
            ],
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
    "match",
    "via",
    "recorded_at",
    "secret",
    "third_party",
)


def grouped_data(
    selection: Selection, register: Register, client: str | None, language: str
) -> list[dict[str, Any]]:
    """Included hits as service -> category -> source -> record -> fields."""
    frame = pl.from_arrow(selection.hits.select(list(_TREE_COLUMNS)))
    assert isinstance(frame, pl.DataFrame)
    withheld = (
        pl.when(pl.col("secret"))
        .then(pl.lit("secret"))
        .when(pl.col("third_party"))
        .then(pl.lit("third_party"))
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
        )
        .group_by(["service", "category", "source", "location", "record_key"], maintain_order=True)
        .agg(
            pl.col("match").first(),
            pl.col("via").first(),
            pl.col("recorded_at").first(),
            pl.col("field"),
            pl.col("value"),
            pl.col("value_type"),
            pl.col("withheld"),
        )
    )
    tree: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {}
    names = ("service", "category", "source", "location", "record_key", "match", "via")
    names += ("recorded_at", "field", "value", "value_type", "withheld")
    columns = [records.get_column(n).to_list() for n in names]
    for (
        service,
        category,
        source,
        location,
        key,
        match,
        via,
        recorded_at,
        field_names,
        values,
        value_types,
        withheld_as,
    ) in zip(*columns, strict=True):
        fields = [
            {"field": f, "value": v, "value_type": t, "withheld": w}
            for f, v, t, w in zip(field_names, values, value_types, withheld_as, strict=True)
        ]
        tree.setdefault(service, {}).setdefault(category, {}).setdefault(source, []).append(
            {
                "location": location,
                "record_key": key,
                "match": match,
                "via": via,
                "recorded_at": recorded_at,
                "fields": fields,
            }
        )
    services = []
    for service_id in sorted(tree):
        categories = []
        for category_id in sorted(tree[service_id]):
            sources = [
                {"source": name, "records": found}
                for name, found in sorted(tree[service_id][category_id].items())
            ]
            info = category_info(register, category_id, client, language)
            categories.append({**info, "sources": sources})
        services.append(
            {
                "service": service_id,
                "label": register.services[service_id][language],
                "categories": categories,
            }
        )
    return services


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


def access_document(
    case: Case,
    selection: Selection,
    register: Register,
    *,
    language: str,
    controller: ControllerScope,
    generated_at: str,
    with_data: bool = True,
) -> dict[str, Any]:
    """The whole access package as one document (the JSON format writes exactly this).

    ``with_data=False`` gives the metadata alone (the CSV sidecar and the XLSX cover
    carry it), with the Art. 15 information per category under ``categories``.
    """
    client = case.request.client
    values = placeholders(register, client, language)
    t = texts()
    categories = sorted(set(selection.hits.column("category").to_pylist()))
    document: dict[str, Any] = {
        "format": FORMAT_NAME["access"],
        "format_version": FORMAT_VERSION,
        "title": t["title"]["access"][language],
        "language": language,
        "generated_at": generated_at,
        "controller_scope": controller,
        "request": request_record(case, "access"),
    }
    if not document["request"]["complete"]:
        document["notice"] = t["incomplete"][language]
    document["information"] = information(register, categories, client, language, controller)
    if with_data:
        document["data"] = grouped_data(selection, register, client, language)
    else:
        document["categories"] = [category_info(register, c, client, language) for c in categories]
    document["withheld"] = {
        "explanation": fill(t["withheld"][language], values),
        "fields": selection.withheld,
    }
    document["redacted"] = {
        "explanation": fill(t["redacted"][language], values),
        "fields": selection.redacted,
    }
    document["left_out"] = left_out(selection, language)
    document["decisions_applied"] = decisions_summary(selection)
    return document


def record_type_documents(record_types: Sequence[RecordType]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "source": r.source,
            "location": r.location,
            "rows": r.rows,
            "columns": [c.to_document() for c in r.columns],
        }
        for r in record_types
    ]


def portability_document(
    case: Case,
    selection: Selection,
    register: Register,
    record_types: Sequence[RecordType],
    *,
    controller: ControllerScope,
    generated_at: str,
    with_records: bool = True,
) -> dict[str, Any]:
    """The portability package: records per record type, no prose, stable names.

    Values are the source's text (``value_type`` says how to read them); a withheld
    or redacted field is null and listed under ``withheld``.
    """
    client = case.request.client
    categories = sorted(set(selection.hits.column("category").to_pylist()))
    datasets = []
    for record_type, described in zip(
        record_types, record_type_documents(record_types), strict=True
    ):
        dataset: dict[str, Any] = {
            "id": described["id"],
            "source": described["source"],
            "location": described["location"],
            "columns": described["columns"],
            "rows": described["rows"],
        }
        if with_records:
            names = record_type.frame.columns
            fields = names[1:-1]  # _record_key first, _recorded_at last
            dataset["records"] = [
                {
                    "record_key": row[0],
                    "recorded_at": _iso(row[-1]),
                    "values": dict(zip(fields, row[1:-1], strict=True)),
                }
                for row in record_type.frame.iter_rows()
            ]
        datasets.append(dataset)
    by_location = {(r.source, r.location): r.id for r in record_types}
    withheld = [
        {
            "dataset": by_location[(f["source"], f["location"])],
            "record_key": f["record_key"],
            "field": f["field"],
            "reason": reason,
        }
        for reason, fields in (("secret", selection.withheld), ("third_party", selection.redacted))
        for f in fields
    ]
    return {
        "format": FORMAT_NAME["portability"],
        "format_version": FORMAT_VERSION,
        "generated_at": generated_at,
        "request_id": case.request.request_id,
        "controller_scope": controller,
        "controllers": {
            "provider": register.organisation["name"],
            "client": client,
        },
        "categories": [
            {
                "category": c,
                "service": register.category(c).service,
                "controller": register.category(c).controller,
                "legal_basis": register.category(c).legal_basis,
            }
            for c in categories
        ],
        "datasets": datasets,
        "withheld": withheld,
        "left_out": dict(sorted(selection.left_out.items())),
    }
