"""The accuracy harness's estate: a provider's systems with the truth of whose record is whose.

Written from the behaviour the product promises, not from its demo: a set of client
organisations (small ones whose two or three contacts share the switchboard and have
no direct line, larger ones with direct lines, a directory and handsets), and every
kind of source the provider keeps:

* ``crm.sqlite``: organisations (switchboard, general number, general e-mail),
  contacts, support tickets; ``telephony.sqlite``: call records in switch format;
* ``directory.ldif``: every client's directory (inetOrgPerson), phones in the many
  spellings administrators type, user names that repeat at other clients;
* ``provisioning/<client>/``: Yealink handset configurations registered with the
  direct number and each client's remote phonebook (with a reception entry);
* ``devices.csv``: handsets seen by the platform (MAC in mixed notations);
* ``sims.xlsx``: the SIM inventory (some ICCIDs stored as numbers by Excel, a
  re-issued number whose retired row belongs to the employee who left);
* ``roaming.csv``, ``bundles.csv``: notification logs keyed by IMSI / ICCID;
* ``keyholders.xlsx``: alarm keyholders, several per object.

Traps: homonyms at other clients with the same e-mail local part (and user name),
near-miss mobiles one digit apart, role mailboxes (info@, facturatie@), a mobile that
is also the company's general number, a reassigned number, float ICCIDs.

Every value is generated in its canonical form first and then written in one of the
spellings people use, so the truth never depends on the code it measures. Every
record carries a reference (``ref``) that says which record it is; ``owners`` says
whose it is.
"""

from __future__ import annotations

import csv
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter
import yaml

from benchmarks import accuracy_mappings as site

Value = tuple[str, str]  # (identifier type, canonical value)

FIRST = [
    "Jan", "Zoë", "Pieter", "Fatima", "Sanne", "Mohamed", "Lotte", "Daan", "Emma", "Noah",
    "Julia", "Sem", "Tess", "Liam", "Mila", "Lucas", "Yara", "Finn", "Saar", "Levi",
    "Nora", "Bram", "Iris", "Thijs", "Anouk", "Ruben", "Fleur", "Jesse", "Eva", "Stijn",
]  # fmt: skip
LAST = [
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
    "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer",
    "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "Kok", "Jacobs", "El Amrani",
    "Çelik", "Yılmaz", "van Dijk", "Vermeulen", "van den Berg", "Koster",
]  # fmt: skip
ROLE_BOXES = ["info", "facturatie", "receptie"]


@dataclass
class Person:
    key: str
    org: Org
    name: str
    email: str
    mobile: str  # E.164
    did: str | None = None  # direct line, E.164
    iccid: str = ""
    imsi: str = ""
    imei: str = ""
    mac: str | None = None  # 12 hex digits
    float_iccid: bool = False
    left: bool = False  # an employee who left: only a retired SIM row is theirs

    @property
    def username(self) -> str:
        return self.email.split("@")[0].replace(".", "")


@dataclass
class Org:
    key: str
    slug: str
    name: str
    domain: str
    switchboard: str
    general: str  # general number (E.164)
    small: bool
    people: list[Person] = field(default_factory=list)


@dataclass
class Holding:
    """A value a record holds in one field, and how the site's mapping treats it."""

    value: Value
    searchable: bool = True
    expands: bool = True
    third_party: bool = False


@dataclass
class Truth:
    """One record written to a source: which it is, whose it is, what it holds."""

    source: str
    ref: str
    owners: frozenset[str]  # person keys; empty for an organisation's record
    org: str  # the organisation the record belongs to
    entity: str  # person | organisation | event
    holdings: list[Holding]
    #: records that hang from this one through a relation the mapping declares
    children: list[str] = field(default_factory=list)


@dataclass
class Request:
    request_id: str
    person: str
    identifiers: list[tuple[str, str]]  # (type, as typed)
    canonical: list[Value]  # the usable ones, canonical
    rejected: int = 0


@dataclass
class Estate:
    root: Path
    sources: Path
    orgs: list[Org]
    people: dict[str, Person]
    records: dict[str, Truth]  # ref -> truth
    requests: list[Request]
    org_values: set[Value]


# -- values and their spellings ------------------------------------------------------------


def luhn_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2 == 0:
            number *= 2
            number = number - 9 if number > 9 else number
        total += number
    return str((10 - total % 10) % 10)


def national(e164: str) -> str:
    """'+31612345678' -> '0612345678'."""
    return "0" + e164[3:]


def spell_phone(e164: str, rng: random.Random) -> str:
    """One of the spellings people and systems write a Dutch number in."""
    nat = national(e164)
    if nat.startswith("06"):
        sub = nat[2:]
        forms = [
            f"06-{sub}",
            f"06 {sub[:4]} {sub[4:]}",
            f"+31 6 {sub[:4]} {sub[4:]}",
            f"0031 6 {sub}",
            f"(06) {sub}",
            f"+31 (0)6-{sub[:4]} {sub[4:]}",
            f"06/{sub}",
            "06 " + " ".join(sub[i : i + 2] for i in range(0, 8, 2)),
            e164,
        ]
    else:
        area, sub = nat[:3], nat[3:]
        forms = [f"{area}-{sub[:3]} {sub[3:]}", f"+31 {area[1:]} {sub}", f"{area} {sub}", e164]
    return rng.choice(forms)


def spell_mac(mac: str, rng: random.Random) -> str:
    pairs = [mac[i : i + 2] for i in range(0, 12, 2)]
    return rng.choice(
        [":".join(pairs).upper(), "-".join(pairs), f"{mac[:4]}.{mac[4:8]}.{mac[8:]}", mac.upper()]
    )


# -- the organisations and their people -----------------------------------------------------


class _Numbers:
    """Unique numbers, with near misses planted on purpose."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def fresh(self, make) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def mobile(self) -> str:
        return self.fresh(lambda: f"+316{self.rng.randint(1, 5)}{self.rng.randint(0, 9999999):07d}")

    def near_miss(self, mobile: str) -> str:
        last = int(mobile[-1])
        candidate = mobile[:-1] + str((last + 1) % 10)
        if candidate in self.used:
            return self.mobile()
        self.used.add(candidate)
        return candidate

    def landline(self) -> str:
        return self.fresh(lambda: f"+31102{self.rng.randint(0, 999999):06d}")

    def iccid(self) -> str:
        def make() -> str:
            body = f"893104{self.rng.randint(0, 10**12 - 1):012d}"
            return body + luhn_digit(body)

        return self.fresh(make)

    def imsi(self) -> str:
        return self.fresh(lambda: f"20404{self.rng.randint(0, 10**10 - 1):010d}")

    def imei(self) -> str:
        def make() -> str:
            body = f"35209900{self.rng.randint(0, 999999):06d}"
            return body + luhn_digit(body)

        return self.fresh(make)

    def mac(self) -> str:
        return self.fresh(lambda: f"001565{self.rng.randint(0, 16**6 - 1):06x}")


def _people(orgs: int, rng: random.Random, large: tuple[int, int]) -> tuple[list[Org], _Numbers]:
    numbers = _Numbers(rng)
    result: list[Org] = []
    names_used: set[str] = set()
    for index in range(orgs):
        small = index % 3 != 2  # two of three clients are small
        slug = f"client{index:02d}"
        switchboard = numbers.landline()
        org = Org(
            key=f"org{index}",
            slug=slug,
            name=f"Client {index:02d} B.V.",
            domain=f"{slug}.example.nl",
            switchboard=switchboard,
            general=switchboard,
            small=small,
        )
        size = rng.randint(2, 3) if small else rng.randint(*large)
        for number in range(size):
            while True:
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                if name not in names_used:
                    break
            names_used.add(name)
            person = _person(org, f"p{index:02d}{number:02d}", name, numbers, rng)
            org.people.append(person)
        result.append(org)
    _plant_traps(result, numbers, rng)
    return result, numbers


def _person(org: Org, key: str, name: str, numbers: _Numbers, rng: random.Random) -> Person:
    local = name.lower().replace("ë", "e").replace("ç", "c").replace("ı", "i").replace(" ", ".")
    return Person(
        key=key,
        org=org,
        name=name,
        email=f"{local}@{org.domain}",
        mobile=numbers.mobile(),
        did=None if org.small else numbers.landline(),
        iccid=numbers.iccid(),
        imsi=numbers.imsi(),
        imei=numbers.imei(),
        mac=None if org.small else numbers.mac(),
        float_iccid=rng.random() < 0.2,
    )


def _plant_traps(orgs: list[Org], numbers: _Numbers, rng: random.Random) -> None:
    small = [org for org in orgs if org.small]
    large = [org for org in orgs if not org.small]
    # homonyms: the first person of each large client has a namesake at a small one,
    # with the same e-mail local part (and so the same user name)
    for org, other in zip(large, small, strict=False):
        original = org.people[0]
        twin = _person(other, f"{original.key}h", original.name, numbers, rng)
        twin.email = f"{original.email.split('@')[0]}@{other.domain}"
        other.people.append(twin)
    # near misses: the second person of each client has a mobile one digit from the first's
    for org in orgs:
        if len(org.people) > 1:
            org.people[1].mobile = numbers.near_miss(org.people[0].mobile)
    # a mobile that is also the company's general number (the owner answers for the firm)
    if small:
        owner = small[0].people[0]
        small[0].general = owner.mobile
    # an employee who left: their number was re-issued to a colleague on a new SIM
    if large:
        org = large[0]
        heir = org.people[-1]
        leaver = _person(org, f"{org.key}-left", "Karel Oud", numbers, rng)
        leaver.left = True
        leaver.mobile = heir.mobile
        leaver.did, leaver.mac = None, None
        org.people.append(leaver)


# -- writing the sources --------------------------------------------------------------------


class _Writer:
    """Writes every source and records the truth of each record it writes."""

    def __init__(self, root: Path, orgs: list[Org], rng: random.Random) -> None:
        self.root = root
        self.orgs = orgs
        self.rng = rng
        self.records: dict[str, Truth] = {}
        self.org_values: set[Value] = set()

    def add(self, source: str, ref: str, owners, org: Org, entity: str, holdings) -> Truth:
        truth = Truth(source, ref, frozenset(owners), org.key, entity, list(holdings))
        self.records[ref] = truth
        return truth

    def people(self, *, leavers: bool = False) -> list[Person]:
        return [p for org in self.orgs for p in org.people if leavers or not p.left]

    # CRM and call records ------------------------------------------------------------------

    def crm(self) -> None:
        path = self.root / "crm.sqlite"
        with sqlite3.connect(path) as db:
            db.executescript(site.CRM_SCHEMA)
            ticket = 0
            contact = 0
            for number, org in enumerate(self.orgs, start=1):
                db.execute(
                    "INSERT INTO organisations VALUES (?,?,?,?,?,?)",
                    (
                        number,
                        f"crm-org-{number}",
                        org.name,
                        spell_phone(org.switchboard, self.rng),
                        spell_phone(org.general, self.rng),
                        f"info@{org.domain}",
                    ),
                )
                values = {("phone", org.switchboard), ("phone", org.general)}
                values.add(("email", f"info@{org.domain}"))
                self.org_values |= values
                self.add(
                    "crm",
                    f"crm-org-{number}",
                    (),
                    org,
                    "organisation",
                    [Holding(v, expands=False) for v in sorted(values)],
                )
                for person in org.people:
                    if person.left:
                        continue
                    contact += 1
                    ref = f"crm-contact-{contact}"
                    phone = person.did or org.switchboard
                    db.execute(
                        "INSERT INTO contacts VALUES (?,?,?,?,?,?,?)",
                        (
                            contact,
                            ref,
                            number,
                            person.name,
                            person.email,
                            spell_phone(phone, self.rng),
                            spell_phone(person.mobile, self.rng),
                        ),
                    )
                    contact_truth = self.add(
                        "crm",
                        ref,
                        {person.key},
                        org,
                        "person",
                        [
                            Holding(("email", person.email)),
                            Holding(("phone", phone)),
                            Holding(("phone", person.mobile)),
                        ],
                    )
                    contact_truth.children.append(f"crm-org-{number}")
                    for _ in range(self.rng.randint(0, 2)):
                        ticket += 1
                        callback = self.rng.choice([person.mobile, phone])
                        db.execute(
                            "INSERT INTO tickets VALUES (?,?,?,?,?,?)",
                            (
                                ticket,
                                f"crm-ticket-{ticket}",
                                contact,
                                person.email,
                                spell_phone(callback, self.rng),
                                "Storing internet",
                            ),
                        )
                        self.add(
                            "crm",
                            f"crm-ticket-{ticket}",
                            {person.key},
                            org,
                            "event",
                            [
                                Holding(("email", person.email), expands=False),
                                Holding(("phone", callback), expands=False),
                            ],
                        )
                        contact_truth.children.append(f"crm-ticket-{ticket}")
                # role mailboxes: a contact row per shared mailbox, on the switchboard
                for box in ROLE_BOXES[1:]:
                    contact += 1
                    ref = f"crm-contact-{contact}"
                    db.execute(
                        "INSERT INTO contacts VALUES (?,?,?,?,?,?,?)",
                        (
                            contact,
                            ref,
                            number,
                            box.capitalize(),
                            f"{box}@{org.domain}",
                            spell_phone(org.switchboard, self.rng),
                            None,
                        ),
                    )
                    self.org_values.add(("email", f"{box}@{org.domain}"))
                    self.add(
                        "crm",
                        ref,
                        (),
                        org,
                        "organisation",
                        [
                            Holding(("email", f"{box}@{org.domain}")),
                            Holding(("phone", org.switchboard)),
                        ],
                    )

    def telephony(self) -> None:
        path = self.root / "telephony.sqlite"
        people = self.people()
        with sqlite3.connect(path) as db:
            db.executescript(site.TELEPHONY_SCHEMA)
            call = 0
            for person in people:
                own = [person.mobile] + ([person.did] if person.did else [])
                for _ in range(self.rng.randint(1, 4)):
                    call += 1
                    calling = self.rng.choice(own)
                    callee = self.rng.choice(people)
                    called = callee.mobile if callee is not person else "+31201234567"
                    owners = {person.key} | ({callee.key} if callee is not person else set())
                    db.execute(
                        "INSERT INTO cdr VALUES (?,?,?,?,?)",
                        (call, f"cdr-{call}", calling[1:], called[1:], self.rng.randint(5, 900)),
                    )
                    truth = self.add(
                        "telephony",
                        f"cdr-{call}",
                        owners,
                        person.org,
                        "event",
                        [
                            Holding(("phone", calling), expands=False, third_party=True),
                            Holding(("phone", called), expands=False, third_party=True),
                        ],
                    )
                    truth.owners = frozenset(owners)
            for org in self.orgs:  # calls from the switchboard: the firm's, nobody's own
                call += 1
                db.execute(
                    "INSERT INTO cdr VALUES (?,?,?,?,?)",
                    (call, f"cdr-{call}", org.switchboard[1:], "31201234567", 60),
                )
                self.add(
                    "telephony",
                    f"cdr-{call}",
                    (),
                    org,
                    "event",
                    [Holding(("phone", org.switchboard), expands=False, third_party=True)],
                )

    # the directory ---------------------------------------------------------------------------

    def directory(self) -> None:
        blocks = [
            "dn: dc=clients,dc=example\nobjectClass: dcObject\nobjectClass: organization\n"
            "o: Clients\ndc: clients\n"
        ]
        for org in self.orgs:
            if org.small:
                continue
            blocks.append(
                f"dn: ou={org.slug},dc=clients,dc=example\nobjectClass: organizationalUnit\n"
                f"ou: {org.slug}\n"
            )
            for person in org.people:
                if person.left:
                    continue
                ref = f"dir-{person.key}"
                lines = [
                    f"dn: uid={person.username},ou={org.slug},dc=clients,dc=example",
                    "objectClass: inetOrgPerson",
                    f"uid: {person.username}",
                    f"cn: {person.name}",
                    f"sn: {person.name.split(' ')[-1]}",
                    f"mail: {person.email}",
                    f"mobile: {spell_phone(person.mobile, self.rng)}",
                    f"employeeNumber: {ref}",
                ]
                holdings = [
                    Holding(("email", person.email)),
                    Holding(("phone", person.mobile)),
                    Holding(("username", person.username)),
                ]
                if person.did:
                    lines.append(f"telephoneNumber: {spell_phone(person.did, self.rng)}")
                    holdings.append(Holding(("phone", person.did)))
                blocks.append("\n".join(_ldif_line(line) for line in lines) + "\n")
                self.add("directory", ref, {person.key}, org, "person", holdings)
        # the homonyms at small clients have a directory too (the hosted one)
        for org in self.orgs:
            if not org.small:
                continue
            twins = [p for p in org.people if p.key.endswith("h")]
            if not twins:
                continue
            blocks.append(
                f"dn: ou={org.slug},dc=clients,dc=example\nobjectClass: organizationalUnit\n"
                f"ou: {org.slug}\n"
            )
            for person in twins:
                ref = f"dir-{person.key}"
                lines = [
                    f"dn: uid={person.username},ou={org.slug},dc=clients,dc=example",
                    "objectClass: inetOrgPerson",
                    f"uid: {person.username}",
                    f"cn: {person.name}",
                    f"sn: {person.name.split(' ')[-1]}",
                    f"mail: {person.email}",
                    f"employeeNumber: {ref}",
                ]
                blocks.append("\n".join(_ldif_line(line) for line in lines) + "\n")
                self.add(
                    "directory",
                    ref,
                    {person.key},
                    org,
                    "person",
                    [Holding(("email", person.email)), Holding(("username", person.username))],
                )
        (self.root / "directory.ldif").write_text("\n".join(blocks), encoding="utf-8")

    # VoIP provisioning and phonebooks -----------------------------------------------------------

    def provisioning(self) -> None:
        base = self.root / "provisioning"
        for org in self.orgs:
            folder = base / org.slug
            folder.mkdir(parents=True, exist_ok=True)
            entries = []
            for person in org.people:
                if person.left:
                    continue
                number = person.did or person.mobile
                entries.append((person.name, national(number), person.key, number))
                if person.mac is None or person.did is None:
                    continue
                ref = f"voip-{person.key}"
                (folder / f"{person.mac}.cfg").write_text(
                    "#!version:1.0.0.1\n"
                    f"account.1.enable = 1\naccount.1.label = {ref}\n"
                    f"account.1.display_name = {person.name}\n"
                    f"account.1.user_name = {national(person.did)}\n"
                    f"account.1.auth_name = {org.slug}{person.did[-3:]}\n"
                    f"account.1.password = pw-{self.rng.randint(10**8, 10**9)}\n"
                    f"account.1.sip_server.1.address = sip.{org.slug}.example.net\n",
                    encoding="utf-8",
                )
                self.add(
                    "voip",
                    ref,
                    {person.key},
                    org,
                    "person",
                    [Holding(("phone", person.did)), Holding(("mac", person.mac))],
                )
            entries.append(("Receptie", national(org.switchboard), None, org.switchboard))
            items = "".join(
                f"  <DirectoryEntry><Name>{name}</Name><Telephone>{number}</Telephone>"
                "</DirectoryEntry>\n"
                for name, number, _key, _e164 in entries
            )
            (folder / "phonebook.xml").write_text(
                f'<?xml version="1.0" encoding="UTF-8"?>\n<YealinkIPPhoneDirectory>\n{items}'
                "</YealinkIPPhoneDirectory>\n",
                encoding="utf-8",
            )
            for name, number, key, e164 in entries:
                self.add(
                    "voip",
                    phonebook_ref(name, number),
                    {key} if key else (),
                    org,
                    "person",
                    [Holding(("phone", e164), expands=False)],
                )

    def devices(self) -> None:
        with open(self.root / "devices.csv", "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle, delimiter=";")
            out.writerow(["Ref", "MAC-adres", "Laatste IP", "Toestel", "Klant", "Laatst gezien"])
            for number, person in enumerate(self.people()):
                if person.mac is None:
                    continue
                ref = f"dev-{person.key}"
                out.writerow(
                    [
                        ref,
                        spell_mac(person.mac, self.rng),
                        f"10.{number // 250}.{number % 250}.20",
                        str(200 + number),
                        person.org.slug,
                        "2026-11-20 09:00",
                    ]
                )
                self.add(
                    "devices",
                    ref,
                    {person.key},
                    person.org,
                    "person",
                    [
                        Holding(("mac", person.mac)),
                        Holding(("extension", f"{person.org.slug}/{200 + number}")),
                    ],
                )

    # mobile --------------------------------------------------------------------------------------

    def sims(self) -> None:
        book = xlsxwriter.Workbook(str(self.root / "sims.xlsx"))
        sheet = book.add_worksheet("SIMs")
        header = ["Ref", "Klant", "ICCID", "IMSI", "MSISDN", "PUK", "IMEI", "Gebruiker",
                  "E-mail", "Status"]  # fmt: skip
        sheet.write_row(0, 0, header)
        row = 1
        for person in self.people(leavers=True):
            ref = f"sim-{person.key}"
            status = "Opgezegd" if person.left else "Actief"
            sheet.write_string(row, 0, ref)
            sheet.write_string(row, 1, person.org.name)
            if person.float_iccid:
                sheet.write_number(row, 2, float(person.iccid))
            else:
                sheet.write_string(row, 2, person.iccid)
            sheet.write_string(row, 3, person.imsi)
            sheet.write_string(row, 4, spell_phone(person.mobile, self.rng))
            sheet.write_string(row, 5, f"{self.rng.randint(10**7, 10**8 - 1)}")
            sheet.write_string(row, 6, person.imei)
            sheet.write_string(row, 7, person.name)
            sheet.write_string(row, 8, person.email)
            sheet.write_string(row, 9, status)
            holdings = [
                Holding(("imsi", person.imsi)),
                Holding(("imei", person.imei)),
                Holding(("email", person.email)),
                # a retired row is never matched by its re-issued number
                Holding(("phone", person.mobile), searchable=not person.left, expands=False)
                if person.left
                else Holding(("phone", person.mobile)),
            ]
            if not person.float_iccid:  # a float has lost digits: unreadable
                holdings.append(Holding(("iccid", person.iccid)))
            self.add("sims", ref, {person.key}, person.org, "person", holdings)
            row += 1
        book.close()

    def logs(self) -> None:
        with open(self.root / "roaming.csv", "w", newline="", encoding="utf-8") as roaming:
            out = csv.writer(roaming)
            out.writerow(["Bericht-ID", "Verzonden", "MSISDN", "IMSI", "IMEI", "Land", "Bericht"])
            count = 0
            for person in self.people(leavers=True):
                for _ in range(self.rng.randint(0, 3)):
                    count += 1
                    ref = f"roam-{count}"
                    out.writerow(
                        [
                            ref,
                            "2026-10-01 08:00",
                            person.mobile[1:],
                            person.imsi,
                            person.imei,
                            "BE",
                            "Welkom in Belgie",
                        ]
                    )
                    self.add(
                        "roaming",
                        ref,
                        {person.key},
                        person.org,
                        "event",
                        [
                            Holding(("imsi", person.imsi), expands=False),
                            Holding(("imei", person.imei), expands=False),
                        ],
                    )
        with open(self.root / "bundles.csv", "w", newline="", encoding="utf-8") as bundles:
            out = csv.writer(bundles, delimiter=";")
            out.writerow(["Bericht-ID", "Verzonden", "MSISDN", "ICCID", "Bundel", "Verbruik"])
            count = 0
            for person in self.people(leavers=True):
                for _ in range(self.rng.randint(0, 2)):
                    count += 1
                    ref = f"bundle-{count}"
                    out.writerow(
                        [ref, "2026-10-02 10:00", person.mobile[1:], person.iccid, "Data 10GB", 80]
                    )
                    self.add(
                        "bundles",
                        ref,
                        {person.key},
                        person.org,
                        "event",
                        [Holding(("iccid", person.iccid), expands=False)],
                    )

    def keyholders(self) -> None:
        book = xlsxwriter.Workbook(str(self.root / "keyholders.xlsx"))
        sheet = book.add_worksheet("Sleutelhouders")
        sheet.write_row(
            0,
            0,
            ["Ref", "Object-ID", "Object", "Volgorde", "Naam", "Mobiel", "E-mail", "Codewoord"],
        )
        row = 1
        for org in self.orgs:
            people = [p for p in org.people if not p.left][:3]
            for order, person in enumerate(people, start=1):
                ref = f"key-{person.key}"
                # keyholders often give a private address: the same person, not another
                private = f"{person.username}{order}@gmail.com"
                email = person.email if order % 2 else (private if order == 2 else "")
                sheet.write_row(
                    row,
                    0,
                    [
                        ref,
                        f"OBJ-{org.slug}",
                        f"Pand {org.name}",
                        str(order),
                        person.name,
                        spell_phone(person.mobile, self.rng),
                        email,
                        f"codeword-{self.rng.randint(1000, 9999)}",
                    ],
                )
                holdings = [Holding(("phone", person.mobile))]
                if email:
                    holdings.append(Holding(("email", email)))
                self.add("keyholders", ref, {person.key}, org, "person", holdings)
                row += 1
        book.close()


def phonebook_ref(name: str, number: str) -> str:
    return f"pb:{name}|{number}"


def _ldif_line(line: str) -> str:
    """Non-ASCII values base64-encoded, as slapcat writes them."""
    import base64

    key, _, value = line.partition(": ")
    if value.isascii():
        return line
    return f"{key}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


# -- requests --------------------------------------------------------------------------------------


def _requests(orgs: list[Org], rng: random.Random) -> list[Request]:
    requests: list[Request] = []
    general = {org.general for org in orgs}
    people = [p for org in orgs for p in org.people if not p.left]
    for index, person in enumerate(people):
        kind = index % 4
        pairs: list[tuple[str, str]] = []
        canonical: list[Value] = []
        if kind == 1 and person.mobile not in general:
            pairs.append(("phone", spell_phone(person.mobile, rng)))
            canonical.append(("phone", person.mobile))
        elif kind == 3 and person.did:
            pairs.append(("phone", spell_phone(person.did, rng)))
            canonical.append(("phone", person.did))
        else:
            pairs.append(("email", person.email.upper() if index % 2 else person.email))
            canonical.append(("email", person.email))
        if kind == 2:
            pairs.append(("name", person.name))
        rejected = 0
        if index == 5:  # a mistyped phone beside a good e-mail: the e-mail still finds all
            pairs.append(("phone", "06-123 45"))
            rejected = 1
        requests.append(Request(f"ACC-{index:04d}", person.key, pairs, canonical, rejected))
    return requests


# -- the whole estate ------------------------------------------------------------------------------


def generate(
    root: Path, *, orgs: int = 14, seed: int = 1, large: tuple[int, int] = (20, 60)
) -> Estate:
    """Write an estate of ``orgs`` client organisations under ``root``: two of three
    small (two or three people), the others of ``large`` people."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    organisations, _numbers = _people(orgs, rng, large)
    writer = _Writer(root, organisations, rng)
    writer.crm()
    writer.telephony()
    writer.directory()
    writer.provisioning()
    writer.devices()
    writer.sims()
    writer.logs()
    writer.keyholders()
    mappings = root / "mappings"
    mappings.mkdir(exist_ok=True)
    for name, text in site.MAPPINGS.items():
        (mappings / f"{name}.yaml").write_text(text, encoding="utf-8")
    sources = root / "sources.yaml"
    sources.write_text(yaml.safe_dump(site.sources_document(), sort_keys=False), encoding="utf-8")
    people = {p.key: p for org in organisations for p in org.people}
    return Estate(
        root=root,
        sources=sources,
        orgs=organisations,
        people=people,
        records=writer.records,
        requests=_requests(organisations, rng),
        org_values=writer.org_values,
    )
