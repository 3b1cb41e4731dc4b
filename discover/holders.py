"""Whose an identifier is: one person's, an organisation's, or shared by several people.

An access package that holds a colleague's data is a data breach, so the engine
asks this of every identifier it searched before it lets the identifier make a
record the subject's or feed identity expansion. The answer comes from the estate
itself, from every record any source returned for the identifier:

* **organisation**: a record of entity ``organisation`` holds it (the switchboard in
  the organisations table), a field the mapping declares ``organisation: true``
  holds it (a "general number" column), or it is a role mailbox (``info@``,
  ``sales@`` … the sources file's ``settings.role_mailboxes``). It is never expanded
  and never the reason a record counts as the subject's.
* **shared**: person records of two different people hold it — records that
  disagree on the name, or on the e-mail address, wherever they are — or more
  person records than ``max_holders`` in one location. It is not expanded, and a
  record holding only it is ``possible`` unless another strong identifier ties it
  to the subject.

The verdict depends only on the records that hold the identifier, never on who is
being searched, so a batch and single searches reach the same decision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from connectors.base import WITHHELD, Record, normalised_text
from discover.identifiers import Identifier

VerdictKind = Literal["organisation", "shared"]

#: Mail providers where people keep a private address beside their work one: two
#: records of one person may carry one of each, so only work addresses disagree.
PRIVATE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "hotmail.com", "hotmail.nl", "outlook.com",
        "outlook.nl", "live.com", "live.nl", "msn.com", "icloud.com", "me.com",
        "yahoo.com", "yahoo.nl", "ziggo.nl", "kpnmail.nl", "kpnplanet.nl", "planet.nl",
        "home.nl", "hetnet.nl", "xs4all.nl", "chello.nl", "online.nl", "telfort.nl",
        "proton.me", "protonmail.com", "gmx.com", "gmx.net",
    }
)  # fmt: skip
#: one scan's records per identifier, with the source they came from
Holdings = Sequence[tuple[str, Sequence[Record]]]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why an identifier is not one person's: its kind and the evidence, in words."""

    kind: VerdictKind
    reason: str

    def to_document(self, identifier: Identifier) -> dict[str, str]:
        return {"identifier": str(identifier), "kind": self.kind, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class _Profile:
    """What a person record says about who it is: its names and e-mail addresses."""

    ref: str
    names: frozenset[str]
    emails: frozenset[str]


def role_mailbox(identifier: Identifier, mailboxes: Iterable[str]) -> bool:
    """True for ``info@…``, ``sales@…``: an address of a role, not of a person."""
    if identifier.type != "email":
        return False
    local = identifier.value.rpartition("@")[0]
    return local in set(mailboxes) or local.split("+", 1)[0] in set(mailboxes)


def judge(
    identifier: Identifier,
    holdings: Holdings,
    *,
    max_holders: int,
    role_mailboxes: Iterable[str] = (),
) -> Verdict | None:
    """The verdict on ``identifier`` from every record that holds it; None: one person's."""
    boxes = frozenset(role_mailboxes)
    if role_mailbox(identifier, boxes):
        local = identifier.value.rpartition("@")[0]
        return Verdict("organisation", f"a role mailbox ({local}@), not a person's address")
    profiles: list[_Profile] = []
    per_location: dict[str, set[str]] = defaultdict(set)
    for source, records in holdings:
        for record in records:
            specs = {value.spec.name: value.spec for value in record.fields}
            fields = [m.field for m in record.matches if m.identifier == identifier]
            place = f"{source}:{record.location}[{record.key}]"
            own = [f for f in fields if not (f in specs and specs[f].third_party)]
            if record.entity == "organisation" and own:
                return Verdict("organisation", f"held by the organisation record {place}")
            declared = [f for f in own if f in specs and specs[f].organisation]
            if declared:
                return Verdict(
                    "organisation",
                    f"held in {source}:{record.location}.{declared[0]}, "
                    "an organisation-level field",
                )
            if record.entity != "person" or record.third_party or not own:
                continue
            per_location[f"{source}:{record.location}"].add(record.key)
            profiles.append(_profile(place, record, boxes))
    people = _people(profiles)
    if len(people) >= 2:
        places = ", ".join(group[0].ref for group in people[:3])
        more = f" and {len(people) - 3} more" if len(people) > 3 else ""
        return Verdict(
            "shared",
            f"held by person records of {len(people)} different people "
            f"(names or e-mail addresses disagree: {places}{more})",
        )
    for location, keys in sorted(per_location.items()):
        if len(keys) > max_holders:
            return Verdict(
                "shared",
                f"held by {len(keys)} person records in {location} (more than {max_holders})",
            )
    return None


def _profile(ref: str, record: Record, role_mailboxes: frozenset[str]) -> _Profile:
    """The names and work e-mail addresses of a record: a role mailbox or a private
    address says nothing about which person a record is."""
    names: set[str] = set()
    emails: set[str] = set()
    for value in record.fields:
        spec = value.spec
        if spec.third_party or spec.secret or value.value is None or value.value is WITHHELD:
            continue
        if spec.identifier == "name":
            text = normalised_text("name", value.value)
            if text:
                names.add(text)
        elif spec.identifier == "email":
            text = normalised_text("email", value.value)
            local, _, domain = (text or "").rpartition("@")
            if text and domain not in PRIVATE_MAIL_DOMAINS and local not in role_mailboxes:
                emails.add(text)
    return _Profile(ref, frozenset(names), frozenset(emails))


def _people(profiles: list[_Profile]) -> list[list[_Profile]]:
    """Profiles grouped into people: a profile joins the first group it agrees with."""
    groups: list[list[_Profile]] = []
    for profile in profiles:
        for group in groups:
            if all(not disagree(profile, member) for member in group):
                group.append(profile)
                break
        else:
            groups.append([profile])
    return groups


def disagree(a: _Profile, b: _Profile) -> bool:
    """True when two person records cannot be the same person.

    They disagree when both carry names and no name of one fits a name of the other,
    or when both carry work e-mail addresses and they have none in common (two
    namesakes at two clients: ``jan.devries@acme.nl``, ``jan.devries@bakker.nl``).
    """
    if a.names and b.names and not any(names_fit(x, y) for x in a.names for y in b.names):
        return True
    return bool(a.emails and b.emails and not (a.emails & b.emails))


def names_fit(a: str, b: str) -> bool:
    """Whether two folded names can name one person.

    Every word of the shorter name must stand in the longer one, as itself or as its
    initial, each word of the longer used once: "j de vries" and "jan de vries" fit,
    "jan" and "jan de vries" fit, "jan de vries" and "piet de vries" do not.
    """
    short, long = sorted((a.split(), b.split()), key=len)
    left = list(long)
    for word in short:
        match = next((other for other in left if _word_fits(word, other)), None)
        if match is None:
            return False
        left.remove(match)
    return True


def _word_fits(word: str, other: str) -> bool:
    if word == other:
        return True
    return (len(word) == 1 and other.startswith(word)) or (
        len(other) == 1 and word.startswith(other)
    )
