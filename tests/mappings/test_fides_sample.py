"""A peer's test case: Fides' sample PostgreSQL database, searched through our mapping.

``fixtures/fides_postgres_sample.sql`` is Fides' sample database and
``fixtures/fides_postgres_example_test_dataset.yml`` Fides' annotations of it (both
from ethyca/fides, Apache-2.0, snapshot 96aa40cb). ``mappings/examples/fides-sample.yaml``
translates the annotations; these tests check the translation, then load the
database into a fresh PostgreSQL database and assert the rows Fides' own tests assert
for an access request by ``customer-1@example.com`` (see the reference NOTICE.md):
customer 1 "John Customer", the addresses 123 Example Street and 4 Example Lane, the
visit, service request ser_aaa-aaa with its alternative e-mail, and the orders, order
items, logins and payment card reached through the relations; and that nothing of
customers 2 and 3 or of the ``backup_schema`` copy appears. Unlike Fides, a search
in another letter case finds the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from connectors import load_mapping
from discover.cli import cli
from discover.config import shipped_path
from discover.engine import SearchResult, search
from discover.register import default_register
from discover.request import build_request
from discover.sources import load_sources

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_SQL = FIXTURES / "fides_postgres_sample.sql"
FIDES_DATASET = FIXTURES / "fides_postgres_example_test_dataset.yml"
MAPPING = shipped_path("examples", "fides-sample.yaml")
SOURCES = shipped_path("examples", "fides-sample.sources.yaml")

#: What must never appear for customer 1: customers 2 and 3, their cards, orders,
#: logins and requests, other addresses, and the backup_schema copy.
FOREIGN_VALUES = {
    "customer-2@example.com",
    "Jill Customer",
    "jane@example.com",
    "Jane Customer",
    "customer-3@example.com",
    "employee-1@example.com",
    "Jack Employee",
    "Example Ave",
    "Example Place",
    "54321",
    "12000",
    "987654321",
    "373719391",
    "Example Card 2",
    "Example Card 3",
    "ord_bbb-bbb",
    "ord_ddd-eee",
    "ser_bbb-bbb",
    "ser_ccc-ccc",
    "ser_ddd-ddd",
    "customer-500@example.com",
    "Johanna Customer",
    "Test Street",
    "79843",
    "admin-account@example.com",
    "CH-1",
    "CH-2",
}


# -- the translation (no database needed) ---------------------------------------------


def fides_collections() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(FIDES_DATASET.read_text(encoding="utf-8"))
    (dataset,) = document["dataset"]
    return {c["name"]: {f["name"]: f for f in c["fields"]} for c in dataset["collections"]}


def test_sample_files_are_credited() -> None:
    assert "ethyca/fides (Apache License 2.0), snapshot 96aa40cb" in SAMPLE_SQL.read_text()
    assert "ethyca/fides (Apache License 2.0), snapshot 96aa40cb" in FIDES_DATASET.read_text()


def test_mapping_translates_fides_dataset() -> None:
    mapping = load_mapping(MAPPING, default_register()).model
    relations = {
        (r.from_table, r.from_column, r.to_table, r.to_column): r.follow for r in mapping.relations
    }
    translated = set()
    for name, fields in fides_collections().items():
        table = mapping.tables[name]
        assert table.schema == "public"  # never the backup_schema copy
        assert set(table.columns) <= set(fields) | {"item_no", "description", "payment_card_id"}, (
            name
        )
        for field_name, field in fields.items():
            spec = table.columns[field_name]
            meta = field.get("fides_meta") or {}
            if meta.get("identity") == "email":
                assert spec.identifier == "email", f"{name}.{field_name}"
            if meta.get("primary_key"):
                assert field_name in table.key, f"{name}.{field_name}"
            if field["data_categories"] == ["user.contact.email"]:
                assert spec.category == "general.contact", f"{name}.{field_name}"
            if field["data_categories"][0].startswith("user.contact.address"):
                assert spec.category == "general.service_address", f"{name}.{field_name}"
            for reference in meta.get("references", []):
                target_table, target_column = reference["field"].split(".")
                edge = (name, field_name, target_table, target_column)
                if edge == ("service_request", "employee_id", "employee", "id"):
                    assert edge not in relations  # left out on purpose (see the mapping)
                    continue
                expected = "forward" if reference["direction"] == "to" else "backward"
                assert relations[edge] == expected, edge
                translated.add(edge)
    assert set(relations) == translated  # no relation Fides does not declare
    assert mapping.tables["payment_card"].columns["code"].secret
    assert not mapping.tables["payment_card"].columns["ccn"].secret
    assert mapping.tables["loyalty"].columns["id"].identifier == "account"


def test_sources_file_takes_the_url_from_the_environment() -> None:
    document = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))
    (source,) = document["sources"]
    assert source["connection"] == {"url": "${FIDES_SAMPLE_URL}"}
    assert source["mapping"] == "fides-sample.yaml"  # relative to the sources file
    config = load_sources(SOURCES, environ={"FIDES_SAMPLE_URL": "postgresql://x@h/db"})
    assert config.sources[0].mapping_path == MAPPING


# -- against the real database ---------------------------------------------------------


@pytest.fixture
def fides_url(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh PostgreSQL database holding Fides' sample; FIDES_SAMPLE_URL points at it."""
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(SAMPLE_SQL.read_text(encoding="utf-8"))
    finally:
        engine.dispose()
    monkeypatch.setenv("FIDES_SAMPLE_URL", postgres_url)
    yield postgres_url


def run(*identifiers: tuple[str, str]) -> SearchResult:
    return search(build_request(list(identifiers)), load_sources(SOURCES))


def records(result: SearchResult) -> dict[str, dict[str, dict[str, Any]]]:
    """location -> record key -> {field: value, '_match': ..., '_via': ...}."""
    found: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for hit in result.hits.to_pylist():
        record = found[hit["location"]].setdefault(hit["record_key"], {})
        record[hit["field"]] = hit
        record["_match"] = hit["match"]
        record["_via"] = hit["via"]
    return found


def value(record: dict[str, Any], field: str) -> Any:
    return record[field]["value"]


def test_customer_1_gets_what_fides_asserts(fides_url: str) -> None:
    result = run(("email", "customer-1@example.com"))
    assert [s.status for s in result.sources] == ["ok"]
    assert result.complete
    found = records(result)

    # customer = one row: id 1, "John Customer", customer-1@example.com
    assert list(found["public.customer"]) == ["id=1"]
    customer = found["public.customer"]["id=1"]
    assert value(customer, "name") == "John Customer"
    assert value(customer, "email") == "customer-1@example.com"
    assert customer["_match"] == "exact"

    # address = two rows, reached through relations
    addresses = found["public.address"]
    assert set(addresses) == {"id=1", "id=2"}
    first, second = addresses["id=1"], addresses["id=2"]
    assert (value(first, "house"), value(first, "street"), value(first, "zip")) == (
        "123",
        "Example Street",
        "12345",
    )
    assert (value(second, "house"), value(second, "street"), value(second, "zip")) == (
        "4",
        "Example Lane",
        "12321",
    )
    for address in (first, second):
        assert value(address, "city") == "Exampletown" and value(address, "state") == "NY"
        assert address["_match"] == "related"
    assert "customer.address_id -> address.id" in first["_via"]
    assert "orders.shipping_address_id -> address.id" in second["_via"]

    # the visit and the service request, found by e-mail
    (visit,) = found["public.visit"].values()
    assert value(visit, "email") == "customer-1@example.com"
    assert value(visit, "last_visit").startswith("2021-01-06")
    assert list(found["public.service_request"]) == ["id=ser_aaa-aaa"]
    request = found["public.service_request"]["id=ser_aaa-aaa"]
    assert value(request, "alt_email") == "customer-1-alt@example.com"
    assert value(request, "email") == "customer-1@example.com"

    # orders, their items and products, logins and the payment card: through relations
    assert set(found["public.orders"]) == {"id=ord_aaa-aaa", "id=ord_ccc-ccc", "id=ord_ddd-ddd"}
    assert set(found["public.order_item"]) == {
        "order_id=ord_aaa-aaa;item_no=1",
        "order_id=ord_ccc-ccc;item_no=1",
        "order_id=ord_ccc-ccc;item_no=2",
        "order_id=ord_ddd-ddd;item_no=1",
    }
    assert set(found["public.product"]) == {"id=1", "id=2"}
    assert set(found["public.login"]) == {f"id={n}" for n in range(1, 7)}
    assert list(found["public.payment_card"]) == ["id=pay_aaa-aaa"]
    card = found["public.payment_card"]["id=pay_aaa-aaa"]
    assert value(card, "name") == "Example Card 1"
    assert value(card, "ccn") == "123456789"
    assert card["code"]["secret"] and card["code"]["value"] is None  # reported, withheld
    for location in ("orders", "order_item", "product", "login", "payment_card"):
        for record in found[f"public.{location}"].values():
            assert record["_match"] == "related", location
    item = found["public.order_item"]["order_id=ord_ccc-ccc;item_no=2"]
    assert "orders.customer_id -> customer.id" in item["_via"]
    assert "order_item.order_id -> orders.id" in item["_via"]

    # Fides' 11 collections: employee and report hold nothing of customer 1
    assert set(found) == {
        "public.customer",
        "public.address",
        "public.visit",
        "public.service_request",
        "public.orders",
        "public.order_item",
        "public.product",
        "public.login",
        "public.payment_card",
    }


def test_nothing_of_other_customers_or_the_backup_schema(fides_url: str) -> None:
    result = run(("email", "customer-1@example.com"))
    hits = result.hits.to_pylist()
    assert hits
    for hit in hits:
        assert hit["value"] not in FOREIGN_VALUES, hit
        assert not hit["location"].startswith("backup_schema"), hit
    keys = {(hit["location"], hit["record_key"]) for hit in hits}
    assert ("public.payment_card", "id=pay_bbb-bbb") not in keys  # used in an order of 1
    assert ("public.customer", "id=2") not in keys  # shares address 2 with customer 1


def test_categories_match_fides_user_contact_rule(fides_url: str) -> None:
    # Fides' "user.contact" rule returns the visit e-mail, both full addresses, the
    # alternative e-mail and the customer e-mail; ours file them under contact and
    # service address.
    hits = run(("email", "customer-1@example.com")).hits.to_pylist()
    contact = {
        (h["location"], h["field"], h["value"]) for h in hits if h["category"] == "general.contact"
    }
    assert ("public.visit", "email", "customer-1@example.com") in contact
    assert ("public.customer", "email", "customer-1@example.com") in contact
    assert ("public.service_request", "alt_email", "customer-1-alt@example.com") in contact
    streets = {h["value"] for h in hits if h["category"] == "general.service_address"}
    assert {"Example Street", "Example Lane", "12345", "12321"} <= streets
    assert {h["controller"] for h in hits if h["category"] == "general.service_address"} == {
        "client"
    }
    assert not any(h["portable"] for h in hits if h["category"] == "web.analytics")


def test_mixed_case_finds_the_same(fides_url: str) -> None:
    lower = run(("email", "customer-1@example.com"))
    mixed = run(("email", "Customer-1@Example.COM"))

    def keys(result: SearchResult) -> set[tuple[str, str]]:
        return {(h["location"], h["record_key"]) for h in result.hits.to_pylist()}

    assert keys(mixed) == keys(lower)
    assert len(keys(mixed)) == 21


def test_loyalty_by_its_own_identity(fides_url: str) -> None:
    # Fides' extended dataset: loyalty is reached only by loyalty_id (ours: account)
    found = records(run(("account", "ch-1")))
    assert set(found) == {"public.loyalty"}
    assert list(found["public.loyalty"]) == ["id=CH-1"]
    assert value(found["public.loyalty"]["id=CH-1"], "tier") == "Cookie Rookie"
    assert "public.loyalty" not in records(run(("email", "customer-1@example.com")))


def test_cli_search_and_live_check(fides_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    case = tmp_path / "case"
    outcome = runner.invoke(
        cli,
        [
            "search",
            "--sources",
            str(SOURCES),
            "--email",
            "Customer-1@Example.COM",
            "--case",
            str(case),
            "--json",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    summary = json.loads(outcome.stdout)
    (source,) = summary["sources"]
    assert source["name"] == "fides-sample" and source["status"] == "ok"
    assert source["records"] == 21
    assert source["categories"]["general.service_address"] == 12
    assert {p.name for p in case.iterdir()} >= {"request.json", "hits.parquet", "summary.json"}

    outcome = runner.invoke(cli, ["mappings", "check", "--sources", str(SOURCES), "--live"])
    assert outcome.exit_code == 0, outcome.output
    assert "fides-sample (sql, " in outcome.stdout and ": ok" in outcome.stdout


def test_console_script_without_the_variable(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "FIDES_SAMPLE_URL"}
    script = Path(sys.executable).with_name("discover")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "discover.cli"]
    outcome = subprocess.run(
        [
            *command,
            "search",
            "--sources",
            str(SOURCES),
            "--email",
            "customer-1@example.com",
            "--case",
            str(tmp_path / "case"),
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert outcome.returncode == 2
    assert "Traceback" not in outcome.stderr
    assert (
        "fides-sample.sources.yaml: sources[0].connection.url: environment variable "
        "FIDES_SAMPLE_URL is not set" in " ".join(outcome.stderr.split())
    )
    assert not (tmp_path / "case").exists()
