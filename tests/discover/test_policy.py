"""The package policy on constructed hits: every rule, and that rules compose."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.compute as pc

from discover.hits import hits_table
from discover.policy import Decision, select_hits

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def hit(record: str, field: str, value: str | None, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "request_id": "R",
        "source": "crm",
        "location": "contacts",
        "record_key": record,
        "field": field,
        "value": value,
        "value_type": "text",
        "identifier": None,
        "category": "general.contact",
        "service": "general",
        "matched_on": "email:a@b.nl",
        "match": "exact",
        "via": "email:a@b.nl",
        "observed_at": NOW,
        "recorded_at": None,
        "overdue": False,
        "controller": "provider",
        "legal_basis": "contract",
        "portable": True,
        "secret": False,
        "third_party": False,
    }
    row.update(extra)
    return row


def decision(record: str, action: str, *, at: str = "2026-11-28T10:00:00+00:00") -> Decision:
    return Decision("crm", "contacts", record, action, "checked", "A. Jansen", at)  # type: ignore[arg-type]


def values(selection, record: str) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    table = selection.hits.filter(pc.equal(selection.hits.column("record_key"), record))
    return dict(
        zip(table.column("field").to_pylist(), table.column("value").to_pylist(), strict=True)
    )


def test_secret_values_never_pass_even_when_a_connector_leaked_them() -> None:
    table = hits_table([hit("1", "email", "a@b.nl"), hit("1", "pin", "1234", secret=True)])
    selection = select_hits(table, kind="access")
    assert values(selection, "1") == {"email": "a@b.nl", "pin": None}
    assert selection.withheld == [
        {
            "source": "crm",
            "location": "contacts",
            "record_key": "1",
            "field": "pin",
            "category": "general.contact",
            "secret": "system",
        }
    ]
    assert "1234" not in str(selection.hits.to_pylist())


def test_other_peoples_fields_are_redacted_and_their_records_left_out() -> None:
    table = hits_table(
        [
            hit("1", "calling", "+31612345678"),
            hit("1", "called", "+31201234567", third_party=True),
            hit("2", "name", "Someone Else", third_party=True),
            hit("2", "phone", "+31207654321", third_party=True),
        ]
    )
    selection = select_hits(table, kind="access")
    assert values(selection, "1") == {"calling": "+31612345678", "called": None}
    assert values(selection, "2") == {}
    assert selection.left_out == {"third_party_record": 2}
    assert [r["field"] for r in selection.redacted] == ["called"]


def test_possible_hits_need_a_confirmation() -> None:
    table = hits_table([hit("1", "name", "Jan"), hit("2", "name", "Jan", match="possible")])
    assert values(select_hits(table, kind="access"), "2") == {}
    unconfirmed = select_hits(table, kind="access")
    assert unconfirmed.left_out == {"possible_unconfirmed": 1}
    assert unconfirmed.pending_review == 1
    confirmed = select_hits(table, kind="access", decisions=[decision("2", "confirm")])
    assert values(confirmed, "2") == {"name": "Jan"}
    assert confirmed.pending_review == 0
    assert [d["action"] for d in confirmed.decisions_applied] == ["confirm"]


def test_exclusion_works_on_any_record_and_the_latest_decision_wins() -> None:
    table = hits_table([hit("1", "name", "Jan"), hit("2", "name", "Jan", match="possible")])
    excluded = select_hits(table, kind="access", decisions=[decision("1", "exclude")])
    assert values(excluded, "1") == {} and excluded.left_out["excluded_by_review"] == 1
    changed = [decision("2", "confirm"), decision("2", "exclude", at="2026-11-28T11:00:00+00:00")]
    assert values(select_hits(table, kind="access", decisions=changed), "2") == {}
    stale = select_hits(table, kind="access", decisions=[decision("9", "exclude")])
    assert stale.decisions_applied == [] and stale.decisions_unmatched[0]["record_key"] == "9"


def test_portability_holds_consent_and_contract_only() -> None:
    table = hits_table(
        [
            hit("1", "email", "a@b.nl"),
            hit(
                "2",
                "ip",
                "100.64.1.7",
                category="general.traffic_data",
                legal_basis="legal_obligation",
                portable=False,
            ),
            hit(
                "3",
                "page",
                "/x",
                category="web.analytics",
                legal_basis="legitimate_interest",
                portable=False,
            ),
            # a wrongly flagged row: the legal basis decides, not the flag alone
            hit("4", "ip", "100.64.1.8", legal_basis="legal_obligation", portable=True),
            hit("5", "ok", "yes", legal_basis="consent"),
        ]
    )
    selection = select_hits(table, kind="portability")
    assert sorted(set(selection.hits.column("record_key").to_pylist())) == ["1", "5"]
    assert selection.left_out == {"not_portable": 3}
    access = select_hits(table, kind="access")
    assert access.hits.num_rows == 5


def test_controller_scope() -> None:
    table = hits_table([hit("1", "a", "x"), hit("2", "b", "y", controller="client")])
    assert select_hits(table, kind="access", controller="client").hits.column(
        "record_key"
    ).to_pylist() == ["2"]
    provider = select_hits(table, kind="access", controller="provider")
    assert provider.hits.column("record_key").to_pylist() == ["1"]
    assert provider.left_out == {"other_controller": 1}


def test_overdue_records_stay_in_the_package_and_are_counted_for_staff() -> None:
    table = hits_table([hit("1", "a", "x", overdue=True), hit("1", "b", "y", overdue=True)])
    selection = select_hits(table, kind="access")
    assert selection.hits.num_rows == 2
    assert selection.overdue_records == 1
    assert "overdue" in selection.hits.column_names  # the column stays; exporters drop it


def test_empty_case() -> None:
    selection = select_hits(hits_table([]), kind="portability")
    assert selection.hits.num_rows == 0 and selection.records == 0 and selection.left_out == {}


def test_own_phonebook_contacts_go_into_both_packages() -> None:
    phonebook = {"category": "voip.contacts", "service": "voip", "controller": "client"}
    table = hits_table(
        [
            hit("1", "email", "a@b.nl"),
            hit("1", "manager", "Piet", third_party=True),
            hit("2", "name", "Zoë Çelik", third_party=True, **phonebook),
            hit("2", "number", "+31102345202", third_party=True, **phonebook),
            hit("2", "pin", "4321", third_party=True, secret=True, **phonebook),
        ]
    )
    own_use = {"voip.contacts"}
    portability = select_hits(table, kind="portability", own_use_categories=own_use)
    assert values(portability, "2") == {"name": "Zoë Çelik", "number": "+31102345202", "pin": None}
    assert values(portability, "1") == {"email": "a@b.nl", "manager": None}  # still redacted
    assert [(f["record_key"], f["field"]) for f in portability.own_use] == [
        ("2", "name"),
        ("2", "number"),
    ]
    assert portability.left_out == {}
    access = select_hits(table, kind="access", own_use_categories=own_use)
    # the full copy (Art. 15(3)) holds the subject's own phonebook as it is
    assert values(access, "2") == values(portability, "2")
    assert access.own_use == portability.own_use
    without = select_hits(table, kind="portability")
    assert values(without, "2") == {} and without.left_out == {"third_party_record": 3}


def test_portability_keeps_provided_and_observed_fields_of_people_only() -> None:
    table = hits_table(
        [
            hit("1", "email", "a@b.nl", origin="provided"),
            hit("1", "start", "2026-11-01", origin="observed"),
            hit("1", "charge", "0.12", origin="derived"),
            hit("1", "objectSid", "S-1-5", origin="system"),
            hit("1", "legacy", "x"),  # no origin: the category's default (provided)
            hit("2", "name", "Acme", entity="organisation"),
        ]
    )
    portability = select_hits(table, kind="portability")
    assert values(portability, "1") == {"email": "a@b.nl", "start": "2026-11-01", "legacy": "x"}
    assert values(portability, "2") == {}
    assert portability.left_out == {"derived_or_system": 2, "organisation_record": 1}
    access = select_hits(table, kind="access")
    assert len(values(access, "1")) == 5 and values(access, "2") == {"name": "Acme"}


def test_call_partners_are_masked_as_on_an_itemised_bill() -> None:
    calls = {"category": "usage.calls", "service": "voip_mobile", "identifier": "phone"}
    table = hits_table(
        [
            hit("1", "calling", "31612345678", **calls),
            hit("1", "called", "31201234567", third_party=True, **calls),
            hit("2", "manager", "+31207654321", third_party=True, identifier="phone"),
            hit("2", "email", "a@b.nl"),
        ]
    )
    selection = select_hits(table, kind="access", masked_categories={"usage.calls": 4})
    assert values(selection, "1") == {"calling": "31612345678", "called": "+3120123xxxx"}
    assert [f["field"] for f in selection.masked] == ["called"]
    assert values(selection, "2")["manager"] is None  # not a masked category: left out
    assert [f["field"] for f in selection.redacted] == ["manager"]
    assert not any("01234567" in str(v) for v in selection.hits.column("value").to_pylist())


def test_withheld_fields_say_whose_secret_they_are() -> None:
    table = hits_table(
        [
            hit("1", "email", "a@b.nl"),
            hit("1", "sip_password", None, secret=True, secret_kind="subject"),
            hit("1", "admin_password", None, secret=True, secret_kind="system"),
        ]
    )
    selection = select_hits(table, kind="access")
    assert {w["field"]: w["secret"] for w in selection.withheld} == {
        "sip_password": "subject",
        "admin_password": "system",
    }
