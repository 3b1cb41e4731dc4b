"""The engine on the demo's customer databases and on small purpose-built ones.

Real SQLite databases and the real SQL connector throughout; the one stand-in is a
connector subclass that raises, to play a connector with a bug.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
import yaml
from engine_support import (
    JAN_EMAIL,
    JAN_MOBILE,
    build_demo,
    demo,
    fields,
    records,
    run,
    sources_file,
    sql_source,
    trace,
)

from connectors import load_mappings
from connectors.sql.connector import SqlConnector
from discover.demo.people import ACME, FATIMA, JAN, NAMESAKE, PEOPLE, PIETER, ZOE
from discover.engine import natural_key, open_connectors, search, search_many
from discover.hits import HITS_SCHEMA
from discover.register import default_register
from discover.request import build_request
from discover.sources import Settings, SourcesConfig

EXPANDED_VIA = f"{JAN_EMAIL} -> crm:contacts[id=1].mobile -> {JAN_MOBILE}"


# -- estates -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's CRM and telephony databases (built once; every search only reads)."""
    return build_demo(tmp_path_factory.mktemp("demo"))


def cdr_keys(person_index: int) -> set[str]:
    """The six call records the demo writes for the person at this position in PEOPLE."""
    return {f"id={person_index * 6 + n + 1}" for n in range(6)}


# -- identity expansion ------------------------------------------------------------------


def test_email_finds_the_contact_whose_mobile_finds_the_call_records(demo_dir: Path) -> None:
    result = run(demo(demo_dir), ("email", JAN.email.upper()))
    found = records(result)
    assert found[("crm", "contacts", "id=1")]["match"] == "normalised"
    assert found[("crm", "contacts", "id=1")]["via"] == JAN_EMAIL
    jan_calls = {k for (s, loc, k) in found if loc == "cdr"}
    assert jan_calls == cdr_keys(0) | {"id=31"}  # his own six, and Zoë calling him
    for key in jan_calls:
        assert found[("telephony", "cdr", key)] == {
            "match": "expanded",
            "via": EXPANDED_VIA,
            "matched_on": JAN_MOBILE,
        }
    assert found[("telephony", "retained_traffic", "id=1")]["via"] == EXPANDED_VIA
    mobile = trace(result, JAN_MOBILE)
    assert mobile["depth"] == 1 and mobile["parent"] == JAN_EMAIL and mobile["searched"]
    assert mobile["found_in"] == "crm:contacts[id=1].mobile"
    assert result.complete and not result.failed_sources


def test_related_records_name_the_record_and_relation_they_hang_from(demo_dir: Path) -> None:
    result = run(demo(demo_dir), ("email", JAN.email))
    line = records(result)[("crm", "internet_lines", "id=1")]
    assert line["match"] == "related"
    assert line["via"] == (
        f"{JAN_EMAIL} -> crm:contacts[id=1] -> crm:internet_lines[id=1] "
        "(internet_lines.technical_contact_id -> contacts.id)"
    )
    assert line["matched_on"] == f"{JAN_EMAIL}; {JAN_MOBILE}"  # both matched contact 1


def test_expand_false_columns_feed_no_expansion(demo_dir: Path, tmp_path: Path) -> None:
    result = run(demo(demo_dir), ("email", JAN.email))
    # retained_traffic.assigned_ip (expand: false) of Jan's session is not searched for
    assert not any(t.identifier.type == "ip" for t in result.traces)
    assert "100.64.12.7" in {r["value"] for r in result.hits.to_pylist()}

    expandable = yaml.safe_load(Path(default_mapping("telephony")).read_text(encoding="utf-8"))
    del expandable["tables"]["retained_traffic"]["columns"]["assigned_ip"]["expand"]
    mapping = tmp_path / "telephony.yaml"
    mapping.write_text(yaml.safe_dump(expandable), encoding="utf-8")
    for name in ("crm", "telephony"):
        (tmp_path / f"{name}.sqlite").write_bytes((demo_dir / f"{name}.sqlite").read_bytes())
    sources = sources_file(
        tmp_path,
        [
            sql_source("crm", "shipped:demo/crm.yaml", "sqlite:///crm.sqlite"),
            sql_source("telephony", mapping, "sqlite:///telephony.sqlite"),
        ],
    )
    assert "ip:100.64.12.7" in {
        str(t.identifier) for t in run(sources, ("email", JAN.email)).traces
    }


def default_mapping(name: str) -> Path:
    from discover.config import shipped_path

    return shipped_path("demo", f"{name}.yaml")


# -- organisation and shared identifiers -------------------------------------------------


def test_a_switchboard_in_the_organisations_table_is_an_organisation_identifier(
    demo_dir: Path,
) -> None:
    for max_holders in (3, 10):  # the estate says whose it is, whatever the cap
        result = run(demo(demo_dir, max_holders=max_holders), ("email", JAN.email))
        switchboard = trace(result, f"phone:{ACME.switchboard}")
        assert switchboard["searched"] and switchboard["depth"] == 1
        assert switchboard["stopped"].startswith(
            "organisation identifier: held by the organisation record crm:organisations[id=1]"
        )
        contacts = {k for (_s, loc, k) in records(result) if loc == "contacts"}
        assert contacts == {"id=1"}  # not Zoë, Pieter, Fatima (they share the switchboard)
        organisation = records(result)[("crm", "organisations", "id=1")]
        assert organisation["match"] == "related"  # Jan's organisation, not via the switchboard
        assert ACME.switchboard not in organisation["matched_on"]
        assert f"phone:{ZOE.mobile}" not in {str(t.identifier) for t in result.traces}
        assert result.stopped == [
            {
                "identifier": f"phone:{ACME.switchboard}",
                "kind": "organisation",
                "reason": "held by the organisation record crm:organisations[id=1]",
                "depth": 1,
            }
        ]


def test_an_organisation_identifier_given_in_the_request_makes_no_record_the_subjects(
    demo_dir: Path,
) -> None:
    alone = run(demo(demo_dir), ("phone", "010-234 5678"))
    assert alone.hits.num_rows == 0
    assert any(
        "the phone number given in the request is not the subject's alone (organisation" in w
        for w in alone.warnings
    )
    assert [str(t.identifier) for t in alone.traces] == [f"phone:{ACME.switchboard}"]
    # with the subject's name, the contact row holding both is possible, nothing more
    named = run(demo(demo_dir), ("phone", "010-234 5678"), ("name", JAN.name))
    found = records(named)
    assert found[("crm", "contacts", "id=1")]["match"] == "possible"
    assert {v["match"] for v in found.values()} == {"possible"}


def _people_db(tmp_path: Path, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A one-table SQLite CRM of person rows (id, full_name, email, phone)."""
    metadata = sa.MetaData()
    table = sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        *(sa.Column(c, sa.String(80)) for c in ("full_name", "email", "phone", "general")),
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / f'{name}.sqlite'}")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), rows)
    engine.dispose()
    mapping = {
        "version": 1,
        "kind": "sql",
        "tables": {
            "people": {
                "key": "id",
                "category": "general.contact",
                "columns": {
                    "id": None,
                    "full_name": {"identifier": "name"},
                    "email": {"identifier": "email"},
                    "phone": {"identifier": "phone"},
                    "general": {"identifier": "phone", "organisation": True},
                },
            }
        },
    }
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return sql_source(name, f"{name}.yaml", f"sqlite:///{name}.sqlite")


def _row(key: int, name: str, email: str | None, phone: str | None, general: str | None = None):
    return {"id": key, "full_name": name, "email": email, "phone": phone, "general": general}


def test_a_number_two_people_hold_in_different_sources_is_shared(tmp_path: Path) -> None:
    """One holder per location, so no cap catches it: the names disagree across sources."""
    crm = _people_db(tmp_path, "crm", [_row(1, "Ann Smit", "ann@acme.nl", "06-1112 2233")])
    hr = _people_db(
        tmp_path,
        "hr",
        [
            _row(1, "A. Smit", None, "0611122233"),  # Ann herself: the names fit
            _row(2, "Bob Visser", "bob@acme.nl", "+31 6 1112 2233"),
        ],
    )
    sources = sources_file(tmp_path, [crm, hr], max_depth=3, max_holders=3)
    result = run(sources, ("email", "ann@acme.nl"))
    stopped = trace(result, "phone:+31611122233")["stopped"]
    assert stopped.startswith("shared: held by person records of 2 different people")
    found = records(result)
    assert found[("crm", "people", "id=1")]["match"] == "exact"
    # records holding only the shared number are possible, whoever they are
    assert found[("hr", "people", "id=1")]["match"] == "possible"
    assert found[("hr", "people", "id=2")]["match"] == "possible"
    assert "email:bob@acme.nl" not in {str(t.identifier) for t in result.traces}
    assert result.stopped[0]["kind"] == "shared"


def test_records_of_one_person_in_many_places_are_not_shared(tmp_path: Path) -> None:
    crm = _people_db(tmp_path, "crm", [_row(1, "Ann Smit", "ann@acme.nl", "06-1112 2233")])
    hr = _people_db(
        tmp_path,
        "hr",
        [_row(1, "Smit, Ann", "ann@acme.nl", "0611122233"), _row(2, "A Smit", None, "0611122233")],
    )
    sources = sources_file(tmp_path, [crm, hr], max_depth=3, max_holders=3)
    result = run(sources, ("email", "ann@acme.nl"))
    assert trace(result, "phone:+31611122233")["stopped"] is None
    found = records(result)
    assert found[("hr", "people", "id=2")]["match"] == "expanded"
    assert result.stopped == []


def test_homonyms_with_other_addresses_share_nothing(tmp_path: Path) -> None:
    """Two Jan de Vries at two clients: same name, different e-mail: different people."""
    crm = _people_db(
        tmp_path,
        "crm",
        [
            _row(1, "Jan de Vries", "jan@acme.nl", "06-1112 2233"),
            _row(2, "Jan de Vries", "jan@bakker.nl", "06-1112 2233"),
        ],
    )
    sources = sources_file(tmp_path, [crm], max_depth=3, max_holders=3)
    result = run(sources, ("email", "jan@acme.nl"))
    assert records(result)[("crm", "people", "id=2")]["match"] == "possible"
    assert "different people" in trace(result, "phone:+31611122233")["stopped"]


def test_an_organisation_level_field_and_a_role_mailbox_stop_expansion(tmp_path: Path) -> None:
    crm = _people_db(
        tmp_path,
        "crm",
        [
            _row(1, "Ann Smit", "ann@acme.nl", None, "010-234 5678"),
            _row(2, "Bob Visser", "bob@acme.nl", "010-234 5678"),
            _row(3, "Receptie", "info@acme.nl", "06-9998 8877"),
        ],
    )
    sources = sources_file(tmp_path, [crm], max_depth=3, max_holders=3)
    result = run(sources, ("email", "ann@acme.nl"))
    assert set(records(result)) == {("crm", "people", "id=1")}
    # the general number is not even a candidate for expansion: it stands in an
    # organisation-level field
    assert "phone:+31102345678" not in {str(t.identifier) for t in result.traces}
    bob = run(sources, ("email", "bob@acme.nl"))
    assert set(records(bob)) == {("crm", "people", "id=2")}
    assert trace(bob, "phone:+31102345678")["stopped"].startswith(
        "organisation identifier: held in crm:people.general, an organisation-level field"
    )
    info = run(sources, ("email", "INFO@acme.nl"), ("name", "Receptie"))
    assert records(info)[("crm", "people", "id=3")]["match"] == "possible"
    assert info.stopped[0]["reason"] == "a role mailbox (info@), not a person's address"
    assert "phone:+31699988877" not in {str(t.identifier) for t in info.traces}


def test_a_cap_on_holders_in_one_place_still_applies(tmp_path: Path) -> None:
    rows = [_row(n, "", None, "06-1112 2233") for n in range(1, 5)]
    rows.append(_row(5, "Ann Smit", "ann@acme.nl", "06-1112 2233"))
    crm = _people_db(tmp_path, "crm", rows)
    result = run(sources_file(tmp_path, [crm], max_holders=3), ("email", "ann@acme.nl"))
    assert (
        "held by 5 person records in crm:people (more than 3)"
        in trace(result, "phone:+31611122233")["stopped"]
    )
    assert {v["match"] for k, v in records(result).items() if k[2] != "id=5"} == {"possible"}


def test_an_unreadable_stored_phone_is_a_warning_with_its_place(tmp_path: Path) -> None:
    crm = _people_db(tmp_path, "crm", [_row(1, "Ann Smit", "ann@acme.nl", "06-123 45")])
    result = run(sources_file(tmp_path, [crm]), ("email", "ann@acme.nl"))
    assert result.unreadable == ["crm:people[id=1].phone"]
    assert result.warnings == [
        "crm:people[id=1].phone: stored value '06-123 45' cannot be read as phone number "
        "(no rule accepts it); it was not searched"
    ]
    assert result.summary_fields()["unreadable_values"] == 1


def test_a_number_outside_the_issued_ranges_meets_itself(tmp_path: Path) -> None:
    """Possible in its region (full length) but not issued: matched on one normal form."""
    crm = _people_db(
        tmp_path,
        "crm",
        [_row(1, "Ann Smit", None, "06-9999 9999"), _row(2, "Bob", None, "+31 6 9999 9998")],
    )
    result = run(sources_file(tmp_path, [crm]), ("phone", "0031699999999"))
    assert {k: v["match"] for k, v in records(result).items()} == {
        ("crm", "people", "id=1"): "normalised"
    }


# -- third parties -----------------------------------------------------------------------


def test_third_party_columns_are_searched_and_redacted_unless_matched(demo_dir: Path) -> None:
    result = run(demo(demo_dir), ("email", JAN.email))
    zoe_calls_jan = fields(result, "cdr", "id=31")
    assert zoe_calls_jan["called_number"]["third_party"] is False  # Jan's own number
    assert zoe_calls_jan["calling_number"]["third_party"] is True  # Zoë's
    jan_calls_out = fields(result, "cdr", "id=1")
    assert jan_calls_out["calling_number"]["third_party"] is False
    assert jan_calls_out["called_number"]["third_party"] is True
    assert jan_calls_out["duration_s"]["third_party"] is False
    assert f"phone:{ZOE.mobile}" not in {str(t.identifier) for t in result.traces}


def test_a_record_found_through_a_third_party_field_expands_nothing(tmp_path: Path) -> None:
    """Zoë's phonebook lists Jan's mobile: it is found, but Zoë's e-mail is not Jan's."""
    metadata = sa.MetaData()
    phonebook = sa.Table(
        "phonebook",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_email", sa.String(100)),
        sa.Column("entry_number", sa.String(30)),
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pbx.sqlite'}")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            phonebook.insert(),
            [
                {"id": 1, "owner_email": ZOE.email, "entry_number": "06-1234 5678"},
                {"id": 2, "owner_email": JAN.email, "entry_number": "06-8765 4321"},
            ],
        )
    engine.dispose()
    mapping = {
        "version": 1,
        "kind": "sql",
        "tables": {
            "phonebook": {
                "key": "id",
                "category": "voip.contacts",
                "columns": {
                    "id": None,
                    "owner_email": {"identifier": "email"},
                    "entry_number": {"identifier": "phone", "third_party": True},
                },
            }
        },
    }
    (tmp_path / "pbx.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    sources = sources_file(tmp_path, [sql_source("pbx", "pbx.yaml", "sqlite:///pbx.sqlite")])
    result = run(sources, ("phone", JAN.mobile))
    assert set(records(result)) == {("pbx", "phonebook", "id=1")}
    assert [str(t.identifier) for t in result.traces] == [JAN_MOBILE]
    row = fields(result, "phonebook", "id=1")
    assert (
        row["entry_number"]["third_party"] is False and row["owner_email"]["third_party"] is False
    )


# -- depth -------------------------------------------------------------------------------

CHAIN = {
    "people": ("email", "phone"),
    "sims": ("phone", "imei"),
    "devices": ("imei", "iccid"),
    "cards": ("iccid", "imsi"),
}
CHAIN_VALUES = {
    "email": "ann@example.nl",
    "phone": "06-1112 2233",
    "imei": "352099001761481",
    "iccid": "8931041012345678902",
    "imsi": "204041234567890",
}


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """Four tables, each found by the identifier the previous one holds."""
    metadata = sa.MetaData()
    tables = {
        name: sa.Table(
            name,
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            *(sa.Column(kind, sa.String(40)) for kind in kinds),
        )
        for name, kinds in CHAIN.items()
    }
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'chain.sqlite'}")
    metadata.create_all(engine)
    with engine.begin() as connection:
        for name, kinds in CHAIN.items():
            connection.execute(
                tables[name].insert(), [{"id": 1, **{k: CHAIN_VALUES[k] for k in kinds}}]
            )
    engine.dispose()
    mapping = {
        "version": 1,
        "kind": "sql",
        "tables": {
            name: {
                "key": "id",
                "category": "mobile.sim",
                "columns": {"id": None, **{k: {"identifier": k} for k in kinds}},
            }
            for name, kinds in CHAIN.items()
        },
    }
    (tmp_path / "chain.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("max_depth", "reached"),
    [
        (0, ["people"]),
        (1, ["people", "sims"]),
        (2, ["people", "sims", "devices"]),
        (3, ["people", "sims", "devices", "cards"]),
    ],
)
def test_depth_limit(chain: Path, max_depth: int, reached: list[str]) -> None:
    sources = sources_file(
        chain, [sql_source("db", "chain.yaml", "sqlite:///chain.sqlite")], max_depth=max_depth
    )
    result = run(sources, ("email", CHAIN_VALUES["email"]))
    assert sorted(loc for (_s, loc, _k) in records(result)) == sorted(reached)
    unsearched = [t for t in result.traces if not t.searched]
    assert [t.depth for t in unsearched] == [max_depth + 1]
    assert unsearched[0].stopped == f"depth limit ({max_depth}) reached"
    assert [t.depth for t in result.traces if t.searched] == list(range(max_depth + 1))


def test_depth_limit_on_the_demo(demo_dir: Path) -> None:
    shallow = run(demo(demo_dir, max_depth=0), ("email", JAN.email))
    deep = run(demo(demo_dir, max_depth=1), ("email", JAN.email))
    assert not any(loc == "cdr" for (_s, loc, _k) in records(shallow))
    assert trace(shallow, JAN_MOBILE)["stopped"] == "depth limit (0) reached"
    assert not trace(shallow, JAN_MOBILE)["searched"]
    assert {k for (_s, loc, k) in records(deep) if loc == "cdr"} == cdr_keys(0) | {"id=31"}
    direct = {ref for ref, r in records(shallow).items() if r["match"] != "related"}
    assert direct == {
        ("crm", "contacts", "id=1"),
        ("crm", "support_tickets", "id=1"),
        ("crm", "support_tickets", "id=3"),
        ("crm", "website_accounts", "id=1"),
    }


# -- weak identifiers --------------------------------------------------------------------


def test_a_name_alone_finds_possible_records_only_and_expands_nothing(demo_dir: Path) -> None:
    result = run(demo(demo_dir), ("name", "Jan de Vries"))
    found = records(result)
    assert {r["match"] for r in found.values()} == {"possible"}
    assert {k for (_s, loc, k) in found if loc == "contacts"} == {"id=1", "id=5"}  # namesakes
    assert found[("crm", "support_tickets", "id=4")]["via"].startswith("name:jan de vries -> ")
    assert found[("crm", "organisations", "id=2")]["match"] == "possible"  # related to possible
    assert [str(t.identifier) for t in result.traces] == ["name:jan de vries"]
    assert not any(loc == "cdr" for (_s, loc, _k) in found)


@pytest.fixture
def namesakes(tmp_path: Path) -> SourcesConfig:
    """Jan (found by e-mail) and his namesake, a ticket of Jan's, and a note on that
    ticket written by the namesake: one hop from a possible record, two from Jan."""
    metadata = sa.MetaData()
    people = sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("full_name", sa.String(100)),
    )
    tickets = sa.Table(
        "tickets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer),
        sa.Column("reporter", sa.String(100)),
    )
    notes = sa.Table(
        "notes",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer),
        sa.Column("author_id", sa.Integer),
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'desk.sqlite'}")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            people.insert(),
            [
                {"id": 1, "email": JAN.email, "full_name": JAN.name},
                {"id": 2, "email": NAMESAKE.email, "full_name": NAMESAKE.name},
            ],
        )
        connection.execute(tickets.insert(), [{"id": 10, "person_id": 1, "reporter": JAN.name}])
        connection.execute(notes.insert(), [{"id": 100, "ticket_id": 10, "author_id": 2}])
    engine.dispose()
    mapping = {
        "version": 1,
        "kind": "sql",
        "tables": {
            "people": {
                "key": "id",
                "category": "general.contact",
                "columns": {
                    "id": None,
                    "email": {"identifier": "email"},
                    "full_name": {"identifier": "name"},
                },
            },
            "tickets": {
                "key": "id",
                "category": "general.support",
                "entity": "event",
                "columns": {"id": None, "person_id": None, "reporter": {"identifier": "name"}},
            },
            "notes": {
                "key": "id",
                "category": "general.support",
                "entity": "event",
                "columns": {"id": None, "ticket_id": None, "author_id": None},
            },
        },
        "relations": [
            {"from": "tickets.person_id", "to": "people.id", "follow": "backward"},
            {"from": "notes.ticket_id", "to": "tickets.id", "follow": "backward"},
            {"from": "notes.author_id", "to": "people.id", "follow": "backward"},
        ],
    }
    (tmp_path / "desk.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return sources_file(tmp_path, [sql_source("desk", "desk.yaml", "sqlite:///desk.sqlite")])


def test_related_to_a_strong_record_beats_possible(namesakes: SourcesConfig) -> None:
    result = run(namesakes, ("email", JAN.email), ("name", JAN.name))
    found = records(result)
    assert found[("desk", "people", "id=1")]["match"] == "exact"
    assert found[("desk", "people", "id=2")]["match"] == "possible"
    # the ticket names Jan (a weak match) and hangs from Jan's row: related
    assert found[("desk", "tickets", "id=10")]["match"] == "related"
    assert "name:jan de vries" in found[("desk", "tickets", "id=10")]["matched_on"]
    # the note is one hop from the namesake, two from Jan: still Jan's, related
    note = found[("desk", "notes", "id=100")]
    assert note["match"] == "related"
    assert note["via"].startswith(f"{JAN_EMAIL} -> desk:people[id=1] -> desk:tickets[id=10]")


def test_name_only_records_stay_possible_without_a_strong_match(namesakes: SourcesConfig) -> None:
    result = run(namesakes, ("name", JAN.name))
    assert {r["match"] for r in records(result).values()} == {"possible"}
    assert len(records(result)) == 4


# -- failing sources ---------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_source_is_named_and_the_others_still_answer(demo_dir: Path) -> None:
    url = f"postgresql://nobody@127.0.0.1:{_closed_port()}/crm"
    broken = sql_source("crm-replica", "shipped:demo/crm.yaml", url)
    result = run(demo(demo_dir, extra=[broken]), ("email", JAN.email))
    assert not result.complete
    assert [s.name for s in result.failed_sources] == ["crm-replica"]
    failed = result.failed_sources[0]
    assert "refused" in failed.error.lower() and failed.transient
    assert {s.name: s.status for s in result.sources} == {
        "crm": "ok",
        "telephony": "ok",
        "crm-replica": "failed",
    }
    assert {src for (src, _loc, _k) in records(result)} == {"crm", "telephony"}
    assert any(loc == "cdr" for (_s, loc, _k) in records(result))


class _BuggyConnector(SqlConnector):
    """A stand-in for a connector with a bug: its second scan raises."""

    scans = 0

    def scan(self, identifiers):  # type: ignore[no-untyped-def]
        type(self).scans += 1
        if type(self).scans > 1:
            raise RuntimeError("index out of range in row 7")
        return super().scan(identifiers)


def test_a_connector_that_raises_is_named_and_the_others_still_answer(demo_dir: Path) -> None:
    sources = demo(demo_dir)
    register = default_register()
    connectors = open_connectors(sources, load_mappings(sources, register), register)
    crm = connectors[0]
    buggy = _BuggyConnector(crm.source, crm.mapping, register, sources.settings)
    try:
        result = search(
            build_request([("email", JAN.email)], request_id="REQ-T"),
            sources,
            connectors=[buggy, *connectors[1:]],
        )
    finally:
        for connector in (buggy, *connectors):
            connector.close()
    failed = {s.name: s.error for s in result.failed_sources}
    assert failed == {"crm": "RuntimeError: index out of range in row 7"}
    assert not result.complete
    found = records(result)
    assert ("crm", "contacts", "id=1") in found  # from the first round, before the bug
    assert {k for (s, loc, k) in found if loc == "cdr"} == cdr_keys(0) | {"id=31"}


# -- batch equals single -----------------------------------------------------------------


def _comparable(table: pa.Table) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in row.items() if k not in ("observed_at", "request_id")}
        for row in table.to_pylist()
    ]


def test_search_many_equals_one_search_per_subject(demo_dir: Path) -> None:
    sources = demo(demo_dir)
    requests = [build_request([("email", p.email)], request_id=f"R-{p.key}") for p in PEOPLE]
    requests.append(build_request([("name", JAN.name)], request_id="R-name"))
    requests.append(
        build_request([("phone", ACME.switchboard), ("name", JAN.name)], request_id="R-board")
    )
    batch = search_many(requests, sources)
    for request, together in zip(requests, batch, strict=True):
        alone = search(request, sources)
        assert together.request.request_id == request.request_id
        assert _comparable(together.hits) == _comparable(alone.hits), request.request_id
        assert [t.to_document() for t in together.traces] == [t.to_document() for t in alone.traces]
        assert together.warnings == alone.warnings
    assert {r.request.request_id for r in batch if r.hits.num_rows} == {
        r.request_id for r in requests
    }


# -- hits --------------------------------------------------------------------------------


def test_hits_are_in_the_schema_in_a_stable_natural_order(demo_dir: Path) -> None:
    sources = demo(demo_dir)
    first = run(sources, ("email", JAN.email))
    second = run(sources, ("email", JAN.email))
    assert first.hits.schema.equals(HITS_SCHEMA)
    assert _comparable(first.hits) == _comparable(second.hits)
    order = [
        (r["source"], r["location"], natural_key(r["record_key"])) for r in first.hits.to_pylist()
    ]
    assert order == sorted(order)
    cdr = list(dict.fromkeys(k for (_s, loc, k) in records(first) if loc == "cdr"))
    assert cdr == ["id=1", "id=2", "id=3", "id=4", "id=5", "id=6", "id=31"]


def test_overdue_follows_the_category_retention(demo_dir: Path) -> None:
    result = run(demo(demo_dir), ("email", JAN.email))
    rows = result.hits.to_pylist()
    calls = {r["record_key"]: r["overdue"] for r in rows if r["location"] == "cdr"}
    # call records are kept 6 months: the demo's calls of 190 and 235 days ago are due
    assert calls == {f"id={n}": n in (5, 6) for n in range(1, 7)} | {"id=31": False}
    tickets = {r["record_key"]: r["overdue"] for r in rows if r["location"] == "support_tickets"}
    assert tickets == {"id=1": False, "id=3": True}  # 3 years for support; id=3 is 4 years old
    contact = [r for r in rows if r["location"] == "contacts"]
    assert contact and not any(r["overdue"] for r in contact)  # until the end of the service
    assert all(r["recorded_at"] is not None for r in rows if r["location"] == "cdr")


def test_secrets_are_flagged_and_never_valued(demo_dir: Path) -> None:
    result = run(demo(demo_dir), ("email", JAN.email))
    line = fields(result, "internet_lines", "id=1")["pppoe_password"]
    account = fields(result, "website_accounts", "id=1")["password_hash"]
    for hit in (line, account):
        assert hit["secret"] is True and hit["value"] is None
    assert sum(1 for r in result.hits.to_pylist() if r["secret"]) == 2


def test_settings_can_be_tightened_per_search(demo_dir: Path) -> None:
    sources = demo(demo_dir)
    tight = dataclasses.replace(sources, settings=Settings(max_depth=0, max_holders=1))
    assert not any(loc == "cdr" for (_s, loc, _k) in records(run(tight, ("email", JAN.email))))
    assert PIETER.email and FATIMA.email  # part of the cast used above


def test_what_reading_an_identifier_assumed_is_a_warning_of_the_search(tmp_path: Path) -> None:
    crm = _people_db(tmp_path, "crm", [_row(1, "Ann Smit", "ann@acme.nl", "06-1112 2233")])
    request = build_request(
        [("email", "ann@acme.nl"), ("imei", "35209900176148")], request_id="REQ-N"
    )
    result = search(request, sources_file(tmp_path, [crm]))
    assert result.warnings == [
        "IMEI 35209900176148 has 14 digits: read as an IMEI without its check digit "
        "and searched as 352099001761481"
    ]


def test_relations_do_not_pass_through_an_organisation_to_colleagues(tmp_path: Path) -> None:
    """contacts.organisation_id followed both ways: the organisation is related to Ann,
    but the organisation's other contacts are not Ann's records."""
    with sa.create_engine(f"sqlite:///{tmp_path / 'crm.sqlite'}").begin() as connection:
        connection.execute(sa.text("CREATE TABLE orgs (id INTEGER PRIMARY KEY, name TEXT)"))
        connection.execute(sa.text("INSERT INTO orgs VALUES (1, 'Acme')"))
        connection.execute(
            sa.text("CREATE TABLE contacts (id INTEGER PRIMARY KEY, org_id INTEGER, email TEXT)")
        )
        connection.execute(
            sa.text("INSERT INTO contacts VALUES (1, 1, 'ann@acme.nl'), (2, 1, 'bob@acme.nl')")
        )
    mapping = {
        "version": 1,
        "kind": "sql",
        "tables": {
            "orgs": {
                "key": "id",
                "category": "general.billing",
                "entity": "organisation",
                "columns": {"id": {}, "name": {}},
            },
            "contacts": {
                "key": "id",
                "category": "general.contact",
                "columns": {"id": {}, "org_id": {}, "email": {"identifier": "email"}},
            },
        },
        "relations": [{"from": "contacts.org_id", "to": "orgs.id", "follow": "both"}],
    }
    (tmp_path / "crm.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    sources = sources_file(tmp_path, [sql_source("crm", "crm.yaml", "sqlite:///crm.sqlite")])
    found = records(run(sources, ("email", "ann@acme.nl")))
    assert {k: v["match"] for k, v in found.items()} == {
        ("crm", "contacts", "id=1"): "exact",
        ("crm", "orgs", "id=1"): "related",
    }


def test_ready_is_called_once_the_mappings_have_loaded_before_the_first_scan(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []
    real_scan = SqlConnector.scan

    def scan(self, identifiers):  # type: ignore[no-untyped-def]
        steps.append("scan")
        return real_scan(self, identifiers)

    monkeypatch.setattr(SqlConnector, "scan", scan)
    result = search(
        build_request([("email", JAN.email)], request_id="REQ-T"),
        demo(demo_dir),
        ready=lambda: steps.append("ready"),
    )
    assert result.complete
    assert steps[0] == "ready" and steps.count("ready") == 1 and "scan" in steps
