"""Synthetic cases of any size, for tests and benchmarks of the exporters.

A case is built from a constructed hits table (no source is searched), written with
:func:`discover.case.write_case` so that it is exactly what ``discover search`` writes.
The records imitate the demo estate's systems (CRM contacts and tickets, call-detail
records, SIM and device inventory, VoIP phonebooks, traffic data, web analytics) and
cover every policy case: secrets, other people's numbers, possible matches, overdue
records, legal-obligation and legitimate-interest categories, both controllers.

``leak_secrets=True`` puts a recognisable value into the hits of secret fields, as a
buggy connector might: the exporters must still never write it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from discover.case import write_case
from discover.engine import SearchResult, SourceStatus
from discover.hits import hits_table
from discover.register import Register, default_register
from discover.request import Request, build_request

SECRET_PREFIX = "S3CRET-"
THIRD_PARTY_PREFIX = "+3197"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str
    category: str
    identifier: str | None
    make: Callable[[int], str | None]
    value_type: str = "text"
    secret: bool = False
    third_party: bool = False


@dataclass(frozen=True, slots=True)
class RecordDef:
    source: str
    location: str
    fields: tuple[FieldDef, ...]
    weight: int
    age_days: Callable[[int], int | None]


def _luhn(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char)
        if position % 2 == 0:
            n *= 2
            n -= 9 if n > 9 else 0
        total += n
    return digits + str((10 - total % 10) % 10)


def _ts(i: int) -> str:
    return (NOW - timedelta(minutes=37 * i)).strftime("%Y-%m-%d %H:%M:%S")


RECORDS: tuple[RecordDef, ...] = (
    RecordDef(
        "crm",
        "contacts",
        (
            FieldDef("id", "general.contact", None, str, "integer"),
            FieldDef("full_name", "general.contact", "name", lambda i: "Jan de Vries"),
            FieldDef("email", "general.contact", "email", lambda i: f"jan{i}@acme-logistiek.nl"),
            FieldDef("mobile", "general.contact", "phone", lambda i: "06-1234 5678"),
            FieldDef("portal_password", "general.contact", None, lambda i: None, secret=True),
            FieldDef("created_at", "general.contact", None, _ts, "datetime"),
        ),
        1,
        lambda i: 300,
    ),
    RecordDef(
        "crm",
        "support_tickets",
        (
            FieldDef("id", "general.support", None, str, "integer"),
            FieldDef("subject", "general.support", None, lambda i: f"Storing lijn {i % 97}"),
            FieldDef(
                "body",
                "general.support",
                None,
                lambda i: (
                    f"Het toestel op bureau 201 belt niet uit; graag één monteur, ticket {i}."
                ),
            ),
            FieldDef("opened_at", "general.support", None, _ts, "datetime"),
        ),
        2,
        lambda i: 40 + (i * 97) % 1400,
    ),
    RecordDef(
        "telephony",
        "cdr",
        (
            FieldDef("id", "usage.calls", None, str, "integer"),
            FieldDef("calling_number", "usage.calls", "phone", lambda i: "31612345678"),
            FieldDef(
                "called_number",
                "usage.calls",
                "phone",
                lambda i: f"{THIRD_PARTY_PREFIX}{i:08d}",
                third_party=True,
            ),
            FieldDef("start_time", "usage.calls", None, _ts, "datetime"),
            FieldDef("duration_s", "usage.calls", None, lambda i: str(i % 900), "integer"),
            FieldDef(
                "charge_eur", "usage.calls", None, lambda i: f"{(i % 90) / 40:.4f}", "decimal"
            ),
        ),
        8,
        lambda i: (i * 37) % 240,
    ),
    RecordDef(
        "mobile",
        "sims",
        (
            FieldDef("iccid", "mobile.sim", "iccid", lambda i: _luhn(f"893104101{i:09d}")),
            FieldDef("imsi", "mobile.sim", "imsi", lambda i: f"20404{i:010d}"),
            FieldDef("puk", "mobile.sim", None, lambda i: None, secret=True),
            FieldDef("msisdn", "mobile.sim", "phone", lambda i: "+31612345678"),
        ),
        1,
        lambda i: None,
    ),
    RecordDef(
        "mobile",
        "devices",
        (
            FieldDef("imei", "mobile.device", "imei", lambda i: _luhn(f"35209900{i % 10**6:06d}")),
            FieldDef("model", "mobile.device", None, lambda i: "Fairphone 5"),
            FieldDef("activated_on", "mobile.device", None, lambda i: "2025-03-01", "date"),
        ),
        1,
        lambda i: None,
    ),
    RecordDef(
        "voip",
        "phonebook",
        (
            FieldDef("name", "voip.contacts", "name", lambda i: f"Zoë Çelik {i}"),
            FieldDef("number", "voip.contacts", "phone", lambda i: f"+3110234{i % 10**4:04d}"),
            FieldDef("mobile", "voip.contacts", "phone", lambda i: "+31687654321"),
            FieldDef("email", "voip.contacts", "email", lambda i: f"zoe{i}@acme-logistiek.nl"),
            FieldDef("company", "voip.contacts", None, lambda i: "Acme Logistiek B.V."),
        ),
        1,
        lambda i: None,
    ),
    RecordDef(
        "telephony",
        "retained_traffic",
        (
            FieldDef("msisdn", "general.traffic_data", "phone", lambda i: "316 12345678"),
            FieldDef("assigned_ip", "general.traffic_data", "ip", lambda i: f"100.64.{i % 250}.7"),
            FieldDef("session_start", "general.traffic_data", None, _ts, "datetime"),
        ),
        2,
        lambda i: (i * 41) % 220,
    ),
    RecordDef(
        "web",
        "visits",
        (
            FieldDef("visitor_id", "web.analytics", None, lambda i: f"v-{i:07d}"),
            FieldDef("page", "web.analytics", None, lambda i: f"/support/{i % 40}"),
            FieldDef("visited_at", "web.analytics", None, _ts, "datetime"),
        ),
        1,
        lambda i: (i * 53) % 900,
    ),
)


def _rows(
    request_id: str, n_hits: int, *, leak_secrets: bool, register: Register
) -> Iterable[dict[str, Any]]:
    weights = [r.weight * len(r.fields) for r in RECORDS]
    total = sum(weights)
    for number, record in enumerate(RECORDS):
        share = max(1, n_hits * weights[number] // total // len(record.fields))
        for i in range(1, share + 1):
            key = f"id={i}"
            match = "possible" if record.location == "contacts" and i % 3 == 0 else "expanded"
            age = record.age_days(i)
            recorded_at = NOW - timedelta(days=age) if age is not None else None
            for spec in record.fields:
                category = register.category(spec.category)
                value = spec.make(i)
                if spec.secret:
                    value = f"{SECRET_PREFIX}{record.location}-{i}" if leak_secrets else None
                elif value is None:
                    continue
                expires = category.retention.expires(recorded_at) if recorded_at else None
                yield {
                    "request_id": request_id,
                    "source": record.source,
                    "location": record.location,
                    "record_key": key,
                    "field": spec.name,
                    "value": value,
                    "value_type": spec.value_type,
                    "identifier": spec.identifier,
                    "category": spec.category,
                    "service": category.service,
                    "matched_on": "email:jan.devries@acme-logistiek.nl",
                    "match": match,
                    "via": "email:jan.devries@acme-logistiek.nl -> crm:contacts[id=1].mobile",
                    "observed_at": NOW,
                    "recorded_at": recorded_at,
                    "overdue": bool(expires and expires < NOW),
                    "controller": category.controller,
                    "legal_basis": category.legal_basis,
                    "portable": category.portable,
                    "secret": spec.secret,
                    "third_party": spec.third_party,
                }


def synthetic_request(request_id: str = "REQ-SYNTH-0001", *, language: str = "nl") -> Request:
    return build_request(
        [("email", "jan.devries@acme-logistiek.nl"), ("name", "Jan de Vries")],
        request_id=request_id,
        received=date(2026, 11, 28),
        language=language,  # type: ignore[arg-type]
        client="Acme Logistiek B.V.",
        subject_name="Jan de Vries",
    )


def write_synthetic_case(
    path: Path,
    n_hits: int = 1000,
    *,
    leak_secrets: bool = False,
    failed_source: str | None = None,
    request: Request | None = None,
    rows: Iterable[dict[str, Any]] | None = None,
    clients: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Write a case of about ``n_hits`` hits (or of the given hit rows); returns its summary.

    ``clients`` are the client organisations the rows' ``client`` column names, with
    their contact details, as the search keeps them in the summary.
    """
    register = default_register()
    request = request or synthetic_request()
    if rows is None:
        rows = _rows(request.request_id, n_hits, leak_secrets=leak_secrets, register=register)
    table = hits_table(rows)
    names = sorted(set(table.column("source").to_pylist()) | {"crm", "telephony"})
    statuses = [SourceStatus(name=n, kind="sql", status="ok", scans=1) for n in names]
    if failed_source:
        statuses.append(
            SourceStatus(
                name=failed_source, kind="ldap", status="failed", error="connection refused"
            )
        )
    result = SearchResult(
        request=request,
        hits=table,
        sources=statuses,
        traces=[],
        warnings=[],
        started_at=NOW,
        finished_at=NOW,
        clients=dict(clients or {}),
    )
    return write_case(result, path, force=True)
