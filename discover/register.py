"""The processing register: categories of personal data and the terms they are kept on.

It is data (``mappings/register.yaml``), transcribed from the provider's privacy
statement, because it changes when the statement changes and privacy staff must be
able to read and review it without reading code. Every hit carries the category id
of its field, and packages take the Art. 15 information from here.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

from discover.config import read_document, shipped_path, validate
from discover.errors import ConfigError

Language = Literal["nl", "en"]
Controller = Literal["provider", "client"]
LegalBasis = Literal["contract", "legal_obligation", "legitimate_interest", "consent"]
PORTABLE_BASES: frozenset[str] = frozenset({"contract", "consent"})


@dataclass(frozen=True, slots=True)
class Retention:
    """A retention rule: a fixed period, until the end of the service, or set by the user."""

    rule: Literal["period", "end_of_service", "user_defined"]
    days: int = 0
    months: int = 0
    years: int = 0

    def expires(self, recorded_at: datetime) -> datetime | None:
        """When a record made at ``recorded_at`` is due for deletion; None if no fixed date."""
        if self.rule != "period":
            return None
        month_index = recorded_at.month - 1 + self.months + 12 * self.years
        year = recorded_at.year + month_index // 12
        month = month_index % 12 + 1
        day = min(recorded_at.day, calendar.monthrange(year, month)[1])
        return recorded_at.replace(year=year, month=month, day=day) + timedelta(days=self.days)

    def describe(self, language: Language) -> str:
        """The rule in words, for packages."""
        if self.rule == "end_of_service":
            return (
                "tot einde dienstverlening" if language == "nl" else "until the end of the service"
            )
        if self.rule == "user_defined":
            return "afhankelijk van de gebruiker" if language == "nl" else "set by the user"
        units_nl = (("jaar", "jaar", self.years), ("maand", "maanden", self.months))
        units_nl += (("dag", "dagen", self.days),)
        units_en = (("year", "years", self.years), ("month", "months", self.months))
        units_en += (("day", "days", self.days),)
        units = units_nl if language == "nl" else units_en
        parts = [f"{n} {one if n == 1 else many}" for one, many, n in units if n]
        joiner = " en " if language == "nl" else " and "
        return joiner.join(parts)


@dataclass(frozen=True, slots=True)
class Category:
    """One row of the processing register."""

    id: str
    service: str
    description: dict[str, str]
    retention: Retention
    controller: Controller
    legal_basis: LegalBasis
    portable: bool
    purposes: tuple[str, ...]
    recipients: tuple[str, ...]
    in_statement: bool = True
    #: Other people's data that the subject keeps for their own use (the contacts in
    #: their own phonebook). The Article 29 Working Party's portability guidelines
    #: (WP242 rev.01, 2.2) count it as the subject's to take along: a portability
    #: package carries it; an access package still redacts it (Art. 15(4)).
    portable_third_party: bool = False
    legitimate_interest: dict[str, str] | None = None
    #: a short name for sheet and file names (the description is a sentence)
    title: dict[str, str] = field(default_factory=dict)
    #: default origin of the category's fields (WP242): provided | observed | derived | system
    origin: str = "provided"
    #: what the privacy statement does not say for this category
    statement_silent: tuple[str, ...] = ()
    #: other people's phone numbers shown with this many last digits masked (0: left out)
    third_party_mask: int = 0

    def named(self, language: str) -> str:
        """The category's short title in a language (its id when it has none)."""
        return self.title.get(language) or self.id


@dataclass(frozen=True, slots=True)
class Register:
    """The whole register, with the texts packages need."""

    categories: dict[str, Category]
    services: dict[str, dict[str, str]]
    controllers: dict[str, dict[str, str]]
    legal_bases: dict[str, dict[str, str]]
    purposes: dict[str, dict[str, str]]
    recipients: dict[str, dict[str, Any]]
    organisation: dict[str, str]
    authority: dict[str, str]
    source: str = field(default="register.yaml")

    def category(self, category_id: str) -> Category:
        """The category with this id; KeyError names the known ids."""
        try:
            return self.categories[category_id]
        except KeyError:
            known = ", ".join(sorted(self.categories))
            raise KeyError(f"unknown category {category_id!r}; known: {known}") from None

    def own_use_categories(self) -> frozenset[str]:
        """Ids of categories whose other people's data is portable (see Category)."""
        return frozenset(c.id for c in self.categories.values() if c.portable_third_party)

    def masked_categories(self) -> dict[str, int]:
        """Category id -> digits masked of other people's phone numbers (see Category)."""
        return {c.id: c.third_party_mask for c in self.categories.values() if c.third_party_mask}

    def transfers(self, category_id: str) -> list[str]:
        """Recipient ids of a category that may be outside the EEA (Art. 15(2))."""
        category = self.category(category_id)
        return [r for r in category.recipients if self.recipients[r].get("outside_eea")]

    def statement_gaps(self) -> list[dict[str, str]]:
        """Where the register goes beyond the privacy statement or the statement is silent:
        categories it does not mention, items it does not state for a category, and
        recipients it does not name (``discover register check`` lists them)."""
        found: list[dict[str, str]] = []
        for category in self.categories.values():
            if not category.in_statement:
                found.append(
                    {
                        "category": category.id,
                        "kind": "category",
                        "item": "category",
                        "text": "not in the privacy statement (in_statement: false)",
                    }
                )
            for item in category.statement_silent:
                found.append(
                    {
                        "category": category.id,
                        "kind": "silent",
                        "item": item,
                        "text": f"{item}: not stated in the privacy statement",
                    }
                )
            for recipient in category.recipients:
                if self.recipients[recipient].get("in_statement") is False:
                    found.append(
                        {
                            "category": category.id,
                            "kind": "recipient",
                            "item": recipient,
                            "text": f"recipient {recipient!r}: not named in the privacy statement",
                        }
                    )
        return found

    def gaps(self) -> list[str]:
        """:meth:`statement_gaps` as lines of text."""
        return [f"{g['category']}: {g['text']}" for g in self.statement_gaps()]

    def __contains__(self, category_id: object) -> bool:
        return category_id in self.categories


def _build(document: dict[str, Any], file: str) -> Register:
    categories: dict[str, Category] = {}
    for index, raw in enumerate(document["categories"]):
        where = f"categories[{index}]"
        if raw["id"] in categories:
            raise ConfigError(file, f"{where}.id", f"duplicate category id {raw['id']!r}")
        if raw["service"] not in document["services"]:
            raise ConfigError(
                file, f"{where}.service", f"{raw['service']!r} is not one of the listed services"
            )
        if raw["portable"] and raw["legal_basis"] not in PORTABLE_BASES:
            raise ConfigError(
                file,
                f"{where}.portable",
                "only data processed on consent or contract is portable (Art. 20(1)(a))",
            )
        if raw.get("portable_third_party") and not raw["portable"]:
            raise ConfigError(
                file,
                f"{where}.portable_third_party",
                "only a portable category can carry other people's data into a portability "
                "package (set portable: true, or leave portable_third_party out)",
            )
        if raw["legal_basis"] == "legitimate_interest" and "legitimate_interest" not in raw:
            raise ConfigError(
                file,
                where,
                "a legitimate-interest category must state the interest (Art. 13(1)(d))",
            )
        for key, table in (("purposes", "purposes"), ("recipients", "recipients")):
            for position, name in enumerate(raw[key]):
                if name not in document[table]:
                    known = ", ".join(sorted(document[table])) or "none"
                    raise ConfigError(
                        file,
                        f"{where}.{key}[{position}]",
                        f"{name!r} is not defined under {table}: (defined: {known})",
                    )
        retention = dict(raw["retention"])
        categories[raw["id"]] = Category(
            id=raw["id"],
            service=raw["service"],
            description=dict(raw["description"]),
            retention=Retention(**retention),
            controller=raw["controller"],
            legal_basis=raw["legal_basis"],
            portable=raw["portable"],
            purposes=tuple(raw["purposes"]),
            recipients=tuple(raw["recipients"]),
            in_statement=raw.get("in_statement", True),
            portable_third_party=raw.get("portable_third_party", False),
            legitimate_interest=raw.get("legitimate_interest"),
            title=dict(raw.get("title") or {}),
            origin=raw.get("origin", "provided"),
            statement_silent=tuple(raw.get("statement_silent", ())),
            third_party_mask=raw.get("third_party_mask", 0),
        )
    return Register(
        categories=categories,
        services=document["services"],
        controllers=document["controllers"],
        legal_bases=document["legal_bases"],
        purposes=document["purposes"],
        recipients=document["recipients"],
        organisation={k: str(v) for k, v in document["organisation"].items()},
        authority=document["authority"],
        source=file,
    )


def load_register(path: Path | None = None) -> Register:
    """Load and validate a register; the shipped one when ``path`` is None."""
    if path is None:
        return default_register()
    return _load(path)


def _load(path: Path) -> Register:
    document = read_document(path, label=path.name)
    validate(document, "register.schema.json", file=path.name)
    return _build(document, path.name)


@cache
def default_register() -> Register:
    """The shipped register (mappings/register.yaml), loaded once."""
    return _load(shipped_path("register.yaml"))
