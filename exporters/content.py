"""The content of a package, independent of its file format.

Every exporter (JSON, CSV, XLSX) renders the same content: the request's own
record, the Art. 15 information taken from the register and the texts file, and the
included hits grouped service -> category -> source -> record. Building it once
keeps the formats in agreement.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml

from discover.case import Case
from discover.policy import PackageKind, Selection
from discover.register import Register

FORMAT_NAME = {"access": "discover-access-package", "portability": "discover-portability-package"}
FORMAT_VERSION = 1


@cache
def texts() -> dict[str, Any]:
    """The package texts (exporters/texts/access.yaml)."""
    entry = resources.files("exporters").joinpath("texts", "access.yaml")
    return yaml.safe_load(entry.read_text(encoding="utf-8"))


def one_month_later(day: date) -> date:
    """The Art. 12(3) deadline: one month after receipt (end of month if shorter)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _fill(text: str, values: Mapping[str, str]) -> str:
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
        "identifiers": [{"type": i.type, "value": i.value} for i in request.identifiers],
        "sources_searched": [s["name"] for s in sources if s.get("status") == "ok"],
        "sources_not_applicable": [s["name"] for s in sources if s.get("status") == "skipped"],
        "sources_failed": [
            {"source": s["name"], "error": s.get("error") or "unknown error"}
            for s in sources
            if s.get("status") == "failed"
        ],
        "complete": bool(case.summary.get("complete")),
    }


def category_info(register: Register, category_id: str, language: str) -> dict[str, Any]:
    """The Art. 15(1) information for one category, in one language."""
    category = register.category(category_id)
    info: dict[str, Any] = {
        "category": category.id,
        "description": category.description[language],
        "purposes": [register.purposes[p][language] for p in category.purposes],
        "recipients": [register.recipients[r][language] for r in category.recipients],
        "retention": category.retention.describe(language),
        "controller": category.controller,
        "legal_basis": category.legal_basis,
        "legal_basis_label": (
            f"{register.legal_bases[category.legal_basis][language]} "
            f"(art. {register.legal_bases[category.legal_basis]['article']} AVG/GDPR)"
        ),
        "portable": category.portable,
    }
    if category.legitimate_interest:
        info["legitimate_interest"] = category.legitimate_interest[language]
    return info


def information(
    register: Register, categories: list[str], client: str | None, language: str
) -> dict[str, Any]:
    """The general Art. 15 information: rights, complaint, source, controller split."""
    values = placeholders(register, client, language)
    t = texts()
    controllers_present = sorted({register.category(c).controller for c in categories})
    return {
        "intro": _fill(t["intro"][language], values),
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
                    "statement": _fill(t["controller_split"][who][language], values),
                    "categories": sorted(
                        c for c in categories if register.category(c).controller == who
                    ),
                }
                for who in controllers_present
            ],
        },
        "source_of_data": _fill(t["source_of_data"][language], values),
        "automated_decisions": t["automated_decisions"][language],
        "rights": [{"right": r["id"], "text": r[language]} for r in t["rights"]],
        "how_to_exercise": _fill(t["how_to_exercise"][language], values),
        "complaint": {
            "authority": register.authority["name"],
            "url": register.authority["url"],
            "text": _fill(t["complaint"][language], values),
        },
    }


def grouped_data(selection: Selection, register: Register, language: str) -> list[dict[str, Any]]:
    """Included hits as service -> category -> source -> record -> fields."""
    tree: dict[str, dict[str, dict[str, dict[tuple[str, str], dict[str, Any]]]]] = {}
    for row in selection.hits.to_pylist():
        service = tree.setdefault(row["service"], {})
        category = service.setdefault(row["category"], {})
        source = category.setdefault(row["source"], {})
        record = source.setdefault(
            (row["location"], row["record_key"]),
            {
                "location": row["location"],
                "record_key": row["record_key"],
                "match": row["match"],
                "via": row["via"],
                "recorded_at": _iso(row["recorded_at"]),
                "fields": [],
            },
        )
        field: dict[str, Any] = {
            "field": row["field"],
            "value": row["value"],
            "value_type": row["value_type"],
        }
        if row["secret"]:
            field["withheld"] = "secret"
        elif row["third_party"]:
            field["withheld"] = "third_party"
        record["fields"].append(field)
    services = []
    for service_id in sorted(tree):
        categories = []
        for category_id in sorted(tree[service_id]):
            sources = [
                {"source": name, "records": list(records.values())}
                for name, records in sorted(tree[service_id][category_id].items())
            ]
            categories.append(
                {**category_info(register, category_id, language), "sources": sources}
            )
        services.append(
            {
                "service": service_id,
                "label": register.services[service_id][language],
                "categories": categories,
            }
        )
    return services


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def package_document(
    case: Case,
    selection: Selection,
    register: Register,
    *,
    kind: PackageKind,
    language: str,
    controller: str,
) -> dict[str, Any]:
    """The whole package as one document (the JSON format writes exactly this)."""
    values = placeholders(register, case.request.client, language)
    t = texts()
    categories = sorted(set(selection.hits.column("category").to_pylist()))
    document: dict[str, Any] = {
        "format": FORMAT_NAME[kind],
        "format_version": FORMAT_VERSION,
        "title": t["title"][kind][language],
        "language": language,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "controller_scope": controller,
        "request": request_record(case, kind),
    }
    if not document["request"]["complete"]:
        document["notice"] = t["incomplete"][language]
    document["information"] = information(register, categories, case.request.client, language)
    document["data"] = grouped_data(selection, register, language)
    document["withheld"] = {
        "explanation": _fill(t["withheld"][language], values),
        "fields": selection.withheld,
    }
    document["redacted"] = {
        "explanation": _fill(t["redacted"][language], values),
        "fields": selection.redacted,
    }
    document["left_out"] = selection.left_out
    document["decisions_applied"] = selection.decisions_applied
    return document
