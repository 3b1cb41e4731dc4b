"""The demo cast: invented people of invented client organisations.

Every demo source (customer databases, directory, VoIP, mobile, alarm lists) writes
these same people, each in its own surface formats, so that a search for the demo
subject shows identity expansion across sources. Numbers are valid in form
(Luhn check digits, real Dutch number ranges) but belong to no one; IP addresses are
from the documentation ranges (RFC 5737).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Organisation:
    key: str
    name: str
    switchboard: str  # E.164
    street: str
    postcode: str
    city: str
    domain: str


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    given: str
    family: str
    organisation: str
    email: str
    mobile: str  # E.164
    extension: str
    desk: str  # E.164 direct line
    mac: str  # bare lowercase hex, handset on the desk
    iccid: str
    imei: str
    imsi: str
    role: str = "employee"

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"


ACME = Organisation(
    key="acme",
    name="Acme Logistiek B.V.",
    switchboard="+31102345678",
    street="Wijnhaven 12",
    postcode="3011WR",
    city="Rotterdam",
    domain="acme-logistiek.nl",
)
BAKKERIJ = Organisation(
    key="bakkerij",
    name="Bakkerij De Vries",
    switchboard="+31152123456",
    street="Markt 3",
    postcode="2611GP",
    city="Delft",
    domain="bakkerijdevries.nl",
)
ORGANISATIONS = (ACME, BAKKERIJ)

#: The demo subject: the search in ``discover demo`` is for this person.
JAN = Person(
    key="jan",
    given="Jan",
    family="de Vries",
    organisation="acme",
    email="jan.devries@acme-logistiek.nl",
    mobile="+31612345678",
    extension="201",
    desk="+31102345201",
    mac="001565abcd01",
    iccid="8931041012345678902",
    imei="352099001761481",
    imsi="204041234567890",
    role="fleet manager",
)
ZOE = Person(
    key="zoe",
    given="Zoë",
    family="Çelik",
    organisation="acme",
    email="zoe.celik@acme-logistiek.nl",
    mobile="+31687654321",
    extension="202",
    desk="+31102345202",
    mac="001565abcd02",
    iccid="8931041012345678910",
    imei="353325091234561",
    imsi="204041234567891",
    role="planner",
)
PIETER = Person(
    key="pieter",
    given="Pieter",
    family="Bakker",
    organisation="acme",
    email="pieter.bakker@acme-logistiek.nl",
    mobile="+31611122233",
    extension="203",
    desk="+31102345203",
    mac="001565abcd03",
    iccid="8931041098765432102",
    imei="860123045678900",
    imsi="204041234567892",
    role="driver",
)
FATIMA = Person(
    key="fatima",
    given="Fatima",
    family="El Amrani",
    organisation="acme",
    email="fatima.elamrani@acme-logistiek.nl",
    mobile="+31644455566",
    extension="204",
    desk="+31102345204",
    mac="001565abcd04",
    iccid="8931041055555000010",
    imei="356938035643809",
    imsi="204041234567893",
    role="office manager",
)
#: A namesake at another client: a search by name alone finds both Jans as "possible".
NAMESAKE = Person(
    key="jan-bakkerij",
    given="Jan",
    family="de Vries",
    organisation="bakkerij",
    email="jan@bakkerijdevries.nl",
    mobile="+31655501234",
    extension="10",
    desk="+31152123410",
    mac="0004f2aa0010",
    iccid="8931041012345670008",
    imei="352099001761200",
    imsi="204041234567894",
    role="owner",
)
PEOPLE = (JAN, ZOE, PIETER, FATIMA, NAMESAKE)
SUBJECT = JAN


def organisation(key: str) -> Organisation:
    return next(o for o in ORGANISATIONS if o.key == key)
