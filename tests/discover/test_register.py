"""The processing register: it loads, it transcribes the privacy statement, it refuses nonsense.

``fixtures/privacy-statement.nl.txt`` is a copy of the provider's published statement
(../shared/reference/privacy-statement.nl.txt). The transcription test parses its
table independently of the register and checks every row against register.yaml:
the data (each statement row is covered by one or more categories whose Dutch
descriptions together say the same), the retention, the controller, the legal basis
and the interest for legitimate-interest rows, and portability (contract or consent
only, as the statement's "Overdracht van uw gegevens" says).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from discover.config import shipped_path
from discover.errors import ConfigError
from discover.identifiers import normalise
from discover.register import PORTABLE_BASES, Retention, default_register, load_register

STATEMENT = Path(__file__).parent / "fixtures" / "privacy-statement.nl.txt"


# -- the statement, parsed on its own -------------------------------------------------


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"</?[ui]>", "", text)).strip()


def statement_rows() -> list[dict[str, str]]:
    """The rows of the statement's table: service, data, retention, controller, basis."""
    lines = STATEMENT.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Type dienst\t"))
    rows: list[dict[str, str]] = []
    service = ""
    for line in lines[start + 1 :]:
        if line.startswith("--"):
            break
        if not line.strip():
            continue
        cells = [_clean(cell) for cell in line.split("\t")] + [""] * 5
        name, data, retention, controller, basis = cells[:5]
        if not (retention or controller or basis) or (basis and not (data or retention)):
            # a cell wrapped onto the next line: continue the previous row
            previous = rows[-1]
            if data:
                previous["data"] += " " + data
            if basis:
                previous["basis"] += " " + basis
            continue
        service = name or service
        rows.append(
            {
                "service": service,
                "data": data,
                "retention": retention,
                "controller": controller,
                "basis": basis,
            }
        )
    return rows


NUMBERS = {"zes": 6, "drie": 3}
UNITS = {"maanden": "months", "jaar": "years", "dagen": "days"}


def statement_retention(text: str) -> Retention:
    lowered = text.lower()
    if lowered == "tot einde dienstverlening":
        return Retention("end_of_service")
    if lowered == "afhankelijk van de gebruiker":
        return Retention("user_defined")
    amount, unit = lowered.split()
    count = NUMBERS.get(amount) or int(amount)
    return Retention("period", **{UNITS[unit]: count})


CONTROLLERS = {"Bezorgsupport": "provider", "Opdrachtgevende partij": "client"}
BASES = {
    "Uitvoering overeenkomst": "contract",
    "Wettelijke verplichting": "legal_obligation",
    "Gerechtvaardigd belang": "legitimate_interest",
    "Toestemming": "consent",
}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9()]+", text.lower().replace("-", " "))


def test_the_statement_parses_into_thirteen_rows() -> None:
    rows = statement_rows()
    assert len(rows) == 13
    assert rows[3]["data"].endswith(
        "in het kader van een wettelijke aftapverplichting of informatieverzoek."
    )
    assert rows[-1]["basis"].endswith("ter versterking van de beveiliging.")


# -- the shipped register -------------------------------------------------------------


def test_shipped_register_loads_and_validates() -> None:
    register = default_register()
    assert register.source == "register.yaml"
    assert len(register.categories) >= 16
    for category_id, category in register.categories.items():
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", category_id)
        assert category.description["nl"] and category.description["en"]
        assert category.service in register.services
        for purpose in category.purposes:
            assert purpose in register.purposes
        for recipient in category.recipients:
            assert recipient in register.recipients
    # load_register() without a path is the shipped one, with a path reads that file
    assert load_register() is register
    assert load_register(shipped_path("register.yaml")).categories == register.categories


def _categories_of_row(row: dict[str, str]) -> list[Any]:
    register = default_register()
    row_words = " ".join(_words(row["data"]))
    service = " ".join(_words(row["service"]))
    found = []
    for category in register.categories.values():
        if not category.in_statement:
            continue
        if " ".join(_words(register.services[category.service]["nl"])) != service:
            continue
        if " ".join(_words(category.description["nl"])) in row_words:
            found.append(category)
    return found


@pytest.mark.parametrize("index", range(13))
def test_register_transcribes_statement_row(index: int) -> None:
    row = statement_rows()[index]
    categories = _categories_of_row(row)
    assert categories, f"no register category for statement row {row['data']!r}"
    # Together the categories say everything the row says (a row may be split).
    covered = {word for category in categories for word in _words(category.description["nl"])}
    missing = [word for word in _words(row["data"]) if word not in covered]
    assert not missing, f"{row['data']!r}: not in the register's descriptions: {missing}"

    retention = statement_retention(row["retention"])
    basis_name, _, interest = row["basis"].partition(". ")
    for category in categories:
        assert category.retention == retention, category.id
        assert category.controller == CONTROLLERS[row["controller"]], category.id
        assert category.legal_basis == BASES[basis_name.rstrip(".")], category.id
        assert category.portable == (category.legal_basis in PORTABLE_BASES), category.id
        assert category.description["en"]
        if category.legal_basis == "legitimate_interest":
            assert category.legitimate_interest is not None
            assert _clean(category.legitimate_interest["nl"]) == _clean(interest)
        else:
            assert category.legitimate_interest is None


def test_every_statement_category_comes_from_one_row() -> None:
    register = default_register()
    rows_of: dict[str, int] = {}
    for index, row in enumerate(statement_rows()):
        for category in _categories_of_row(row):
            assert category.id not in rows_of, f"{category.id} matches two rows"
            rows_of[category.id] = index
    in_statement = {c.id for c in register.categories.values() if c.in_statement}
    assert set(rows_of) == in_statement
    # the split rows: VoIP into handset + contacts, mobile into SIM, device, notifications
    assert {c for c, i in rows_of.items() if i == 7} == {"voip.handset", "voip.contacts"}
    assert {c for c, i in rows_of.items() if i == 8} == {
        "mobile.sim",
        "mobile.device",
        "mobile.notifications",
    }


def test_only_contract_and_consent_are_portable() -> None:
    register = default_register()
    portable = {c.id for c in register.categories.values() if c.portable}
    assert "general.traffic_data" not in portable  # legal obligation
    assert "general.call_recordings" not in portable  # legitimate interest
    assert "web.analytics" not in portable
    assert "general.contact" in portable
    for category in register.categories.values():
        assert category.portable == (category.legal_basis in {"contract", "consent"})


def test_register_organisation_matches_statement() -> None:
    register = default_register()
    text = STATEMENT.read_text(encoding="utf-8")
    organisation = register.organisation
    assert organisation["privacy_email"] in text
    assert organisation["general_email"] in text
    assert normalise("phone", organisation["phone"]) == normalise("phone", "088 – 7777 900")
    assert "Delftweg 70" in organisation["address"]
    assert normalise("postcode", "2289BA") in organisation["address"].replace(" ", "")
    assert organisation["statement_date"] == "2018-05-22"  # "22 mei 2018"
    assert register.authority["name"] in text


def test_categories_outside_the_statement_are_marked() -> None:
    register = default_register()
    outside = {c.id for c in register.categories.values() if not c.in_statement}
    assert outside == {"managed_it.directory"}


# -- retention rules ------------------------------------------------------------------


def test_retention_expiry() -> None:
    six_months = Retention("period", months=6)
    assert six_months.expires(datetime(2024, 8, 31)) == datetime(2025, 2, 28)
    assert Retention("period", days=180).expires(datetime(2024, 1, 1)) == datetime(2024, 6, 29)
    assert Retention("period", years=3).expires(datetime(2024, 2, 29)) == datetime(2027, 2, 28)
    assert Retention("end_of_service").expires(datetime(2024, 1, 1)) is None
    assert Retention("user_defined").expires(datetime(2024, 1, 1)) is None


def test_retention_describe() -> None:
    assert Retention("period", months=6).describe("nl") == "6 maanden"
    assert Retention("period", months=6).describe("en") == "6 months"
    assert Retention("period", years=1, days=1).describe("en") == "1 year and 1 day"
    assert Retention("end_of_service").describe("nl") == "tot einde dienstverlening"
    assert Retention("user_defined").describe("en") == "set by the user"


def test_category_lookup_names_known_ids() -> None:
    register = default_register()
    assert register.category("general.contact").controller == "provider"
    assert "general.contact" in register
    with pytest.raises(KeyError, match=r"unknown category 'general\.contacts'; known: "):
        register.category("general.contacts")


# -- broken registers -----------------------------------------------------------------


def _shipped() -> dict[str, Any]:
    return yaml.safe_load(shipped_path("register.yaml").read_text(encoding="utf-8"))


def _index(document: dict[str, Any], category_id: str) -> int:
    return next(i for i, c in enumerate(document["categories"]) if c["id"] == category_id)


def _load_broken(tmp_path: Path, document: dict[str, Any]) -> ConfigError:
    path = tmp_path / "register.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_register(path)
    return caught.value


def test_bad_retention_rule(tmp_path: Path) -> None:
    document = _shipped()
    document["categories"][0]["retention"] = {"rule": "forever"}
    error = _load_broken(tmp_path, document)
    assert error.file == "register.yaml"
    assert error.place == "categories[0].retention"
    assert str(error).startswith(
        "register.yaml: categories[0].retention: {'rule': 'forever'} is not valid here: "
        "expected {rule: end_of_service}, {rule: user_defined}, or {rule: period}"
    )


def test_retention_period_without_a_duration(tmp_path: Path) -> None:
    document = _shipped()
    document["categories"][0]["retention"] = {"rule": "period"}
    error = _load_broken(tmp_path, document)
    assert error.place == "categories[0].retention"
    assert "with days, months and/or years" in error.message


def test_retention_period_with_a_misspelt_unit(tmp_path: Path) -> None:
    document = _shipped()
    document["categories"][0]["retention"] = {"rule": "period", "month": 6}
    error = _load_broken(tmp_path, document)
    assert error.place == "categories[0].retention.month"
    assert "unexpected key 'month' (did you mean 'months'?)" in error.message


def test_portable_legitimate_interest_category(tmp_path: Path) -> None:
    document = _shipped()
    index = _index(document, "web.analytics")
    document["categories"][index]["portable"] = True
    error = _load_broken(tmp_path, document)
    assert str(error) == (
        f"register.yaml: categories[{index}].portable: only data processed on consent or "
        "contract is portable (Art. 20(1)(a))"
    )


def test_only_the_phonebook_carries_other_peoples_data_into_portability() -> None:
    assert default_register().own_use_categories() == frozenset({"voip.contacts"})


def test_portable_third_party_needs_a_portable_category(tmp_path: Path) -> None:
    document = _shipped()
    index = _index(document, "general.traffic_data")
    document["categories"][index]["portable_third_party"] = True
    error = _load_broken(tmp_path, document)
    assert error.place == f"categories[{index}].portable_third_party"
    assert "only a portable category" in error.message


def test_unknown_purpose(tmp_path: Path) -> None:
    document = _shipped()
    document["categories"][2]["purposes"] = ["invoicing", "marketing"]
    error = _load_broken(tmp_path, document)
    assert error.place == "categories[2].purposes[1]"
    assert error.message.startswith("'marketing' is not defined under purposes: (defined: ")


def test_unknown_recipient_and_service(tmp_path: Path) -> None:
    document = _shipped()
    document["categories"][1]["recipients"] = ["advertisers"]
    assert _load_broken(tmp_path, document).place == "categories[1].recipients[0]"
    document = _shipped()
    document["categories"][1]["service"] = "television"
    error = _load_broken(tmp_path, document)
    assert error.place == "categories[1].service"
    assert "'television' is not one of the listed services" in error.message


def test_duplicate_category_id(tmp_path: Path) -> None:
    document = _shipped()
    document["categories"][1]["id"] = document["categories"][0]["id"]
    error = _load_broken(tmp_path, document)
    assert error.place == "categories[1].id"
    assert "duplicate category id 'general.contact'" in error.message


def test_legitimate_interest_must_state_the_interest(tmp_path: Path) -> None:
    document = _shipped()
    index = _index(document, "web.analytics")
    del document["categories"][index]["legitimate_interest"]
    error = _load_broken(tmp_path, document)
    assert error.place == f"categories[{index}]"
    assert "must state the interest" in error.message


def test_unknown_legal_basis(tmp_path: Path) -> None:
    document = _shipped()
    document["categories"][0]["legal_basis"] = "contracts"
    error = _load_broken(tmp_path, document)
    assert error.place == "categories[0].legal_basis"
    assert "'contracts' is not one of ['contract', 'legal_obligation'" in error.message


def test_register_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "register.yaml"
    path.write_text("version: 1\ncategories:\n  - id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_register(path)
    assert caught.value.place.startswith("line ")
    assert "column" in caught.value.place
    assert "invalid YAML" in caught.value.message


def test_missing_register_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^nowhere\.yaml: file not found$"):
        load_register(tmp_path / "nowhere.yaml")


#: the provider's published privacy statement, as the register transcribes it
STATEMENT_TEXT = Path(__file__).parent / "privacy-statement.nl.txt"


def _statement() -> str:
    """The privacy statement as plain, lower-case text with single spaces."""
    raw = STATEMENT_TEXT.read_text(encoding="utf-8")
    return " ".join(re.sub(r"<[^>]+>", " ", raw).split()).lower()


def test_every_category_in_the_statement_is_described_as_the_statement_does() -> None:
    statement = _statement()
    for category in default_register().categories.values():
        text = category.description["nl"].rstrip(".").lower()
        if category.in_statement:
            # the statement's table wraps a cell over lines, between the other columns
            pattern = r"\s+(?:\S+\s+){0,8}?".join(re.escape(w) for w in text.split())
            assert re.search(pattern, statement), category.id
        assert category.title["nl"] and category.title["en"], category.id
        assert category.origin in ("provided", "observed", "derived", "system")


def test_the_statements_recipients_are_in_the_register() -> None:
    register = default_register()
    statement = _statement()
    assert "112" in statement and "afgeschermd telefoonnummer" in statement
    assert "autoriteiten" in statement
    calls = register.category("usage.calls")
    assert {"emergency_services", "other_providers", "authorities"} <= set(calls.recipients)
    assert "112" in register.recipients["emergency_services"]["nl"]
    assert "afgeschermd" in register.recipients["other_providers"]["nl"]
    for subscriber_data in ("general.contact", "mobile.sim", "general.traffic_data"):
        assert "authorities" in register.category(subscriber_data).recipients, subscriber_data
    # the other party of one's own calls is shown as on a Dutch itemised bill
    assert register.masked_categories() == {"usage.calls": 4}


def test_transfers_outside_the_eea_come_from_the_statement() -> None:
    register = default_register()
    assert "buiten europa" in _statement()
    assert register.transfers("general.contact") == ["suppliers"]
    assert "dezelfde waarborgen" in register.recipients["suppliers"]["outside_eea"]["nl"]
    assert register.transfers("usage.recordings") == []


def test_statement_gaps_name_every_silence_and_every_missing_category() -> None:
    gaps = default_register().statement_gaps()
    kinds = {(g["category"], g["kind"], g["item"]) for g in gaps}
    assert ("managed_it.directory", "category", "category") in kinds
    assert ("managed_it.directory", "silent", "purposes") in kinds
    assert ("alarm.keyholder", "recipient", "alarm_centre") in kinds
    assert ("general.contact", "silent", "recipients") in kinds
    assert not any(c == "usage.calls" for c, _k, _i in kinds)  # the statement covers it
    missing = {g["category"] for g in gaps if g["kind"] == "category"}
    assert missing == {c.id for c in default_register().categories.values() if not c.in_statement}


def test_statement_silent_must_name_known_items(tmp_path: Path) -> None:
    document = _shipped()
    document["categories"][0]["statement_silent"] = ["colour"]
    assert "statement_silent" in str(_load_broken(tmp_path, document))
