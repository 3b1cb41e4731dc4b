"""Whose an identifier is, judged on the records that hold it (discover/holders.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from engine_support import records, run, sources_file, sql_source, trace

from connectors.base import FieldValue, Match, Record
from discover.holders import judge, names_fit, role_mailbox
from discover.identifiers import Identifier
from discover.mapping import FieldSpec

PHONE = Identifier("phone", "+31611122233")


@pytest.mark.parametrize(
    ("a", "b", "fit"),
    [
        ("jan de vries", "jan de vries", True),
        ("j de vries", "jan de vries", True),
        ("jan", "jan de vries", True),
        ("vries jan de", "jan de vries", True),
        ("jan de vries", "piet de vries", False),
        ("jan de vries", "jan jansen", False),
        ("ann smit", "bob visser", False),
    ],
)
def test_names_fit(a: str, b: str, fit: bool) -> None:
    assert names_fit(a, b) is fit and names_fit(b, a) is fit


def test_role_mailboxes() -> None:
    boxes = ("info", "sales")
    assert role_mailbox(Identifier("email", "info@acme.nl"), boxes)
    assert role_mailbox(Identifier("email", "sales+nl@acme.nl"), boxes)
    assert not role_mailbox(Identifier("email", "jan.info@acme.nl"), boxes)
    assert not role_mailbox(Identifier("phone", "+31612345678"), boxes)


def _record(key: str, name: str | None, email: str | None, *, entity: str = "person") -> Record:
    specs = {
        "name": FieldSpec("name", "general.contact", identifier="name"),
        "email": FieldSpec("email", "general.contact", identifier="email"),
        "phone": FieldSpec("phone", "general.contact", identifier="phone"),
    }
    fields = [
        FieldValue(specs["name"], name),
        FieldValue(specs["email"], email),
        FieldValue(specs["phone"], "06-1112 2233"),
    ]
    return Record("people", key, fields, [Match(PHONE, "phone", False)], entity=entity)


def test_records_without_names_or_addresses_are_no_evidence() -> None:
    holdings = [("a", [_record("1", None, None)]), ("b", [_record("2", None, None)])]
    assert judge(PHONE, holdings, max_holders=3) is None
    assert judge(PHONE, holdings, max_holders=1) is None  # one per location
    three = [("a", [_record(str(n), None, None) for n in range(3)])]
    verdict = judge(PHONE, three, max_holders=2)
    assert verdict is not None and verdict.kind == "shared"
    assert verdict.reason == "held by 3 person records in a:people (more than 2)"


def test_an_event_holding_a_number_is_no_holder() -> None:
    holdings = [("a", [_record("1", "Ann", None), _record("2", "Bob", None, entity="event")])]
    assert judge(PHONE, holdings, max_holders=3) is None


def test_an_organisation_record_in_another_source_decides(tmp_path: Path) -> None:
    """The switchboard stands in a person row of the CRM and in the billing system's
    organisation table, a different source: the colleague's row never becomes Ann's."""
    metadata = sa.MetaData()
    people = sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(80)),
        sa.Column("phone", sa.String(40)),
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            people.insert(),
            [
                {"id": 1, "email": "ann@acme.nl", "phone": "010-234 5678"},
                {"id": 2, "email": "bob@acme.nl", "phone": "0102345678"},
            ],
        )
    engine.dispose()
    orgs = sa.MetaData()
    firms = sa.Table(
        "firms",
        orgs,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("general_line", sa.String(40)),
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'billing.sqlite'}")
    orgs.create_all(engine)
    with engine.begin() as connection:
        connection.execute(firms.insert(), [{"id": 7, "general_line": "+31 10 234 5678"}])
    engine.dispose()
    crm = {
        "version": 1,
        "kind": "sql",
        "tables": {
            "people": {
                "key": "id",
                "category": "general.contact",
                "columns": {
                    "id": {},
                    "email": {"identifier": "email"},
                    "phone": {"identifier": "phone"},
                },
            }
        },
    }
    billing = {
        "version": 1,
        "kind": "sql",
        "tables": {
            "firms": {
                "key": "id",
                "category": "general.billing",
                "entity": "organisation",
                "columns": {"id": {}, "general_line": {"identifier": "phone", "expand": False}},
            }
        },
    }
    (tmp_path / "crm.yaml").write_text(yaml.safe_dump(crm), encoding="utf-8")
    (tmp_path / "billing.yaml").write_text(yaml.safe_dump(billing), encoding="utf-8")
    sources = sources_file(
        tmp_path,
        [
            sql_source("crm", "crm.yaml", "sqlite:///crm.sqlite"),
            sql_source("billing", "billing.yaml", "sqlite:///billing.sqlite"),
        ],
    )
    result = run(sources, ("email", "ann@acme.nl"))
    assert set(records(result)) == {("crm", "people", "id=1")}
    assert (
        "held by the organisation record billing:firms[id=7]"
        in trace(result, "phone:+31102345678")["stopped"]
    )


def test_a_private_address_or_a_role_mailbox_is_no_disagreement() -> None:
    """The keyholder list holds Ann's private address, the SIM list the firm's info@:
    still one person. Namesakes at two clients with their work addresses: two."""
    crm = _record("1", "Ann Smit", "ann.smit@acme.nl")
    private = _record("2", "Ann Smit", "ann.smit74@gmail.com")
    role = _record("3", "Ann Smit", "info@acme.nl")
    namesake = _record("4", "Ann Smit", "ann.smit@bakker.nl")
    boxes = ("info",)
    assert (
        judge(PHONE, [("a", [crm]), ("b", [private, role])], max_holders=3, role_mailboxes=boxes)
        is None
    )
    verdict = judge(PHONE, [("a", [crm]), ("b", [namesake])], max_holders=3, role_mailboxes=boxes)
    assert verdict is not None and verdict.kind == "shared"
