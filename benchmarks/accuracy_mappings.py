"""The accuracy estate's mappings, written as a site engineer writes them for a new estate.

Not the shipped ones: each file says what this site's systems hold, in this site's
column names. Choices a careful engineer makes, and says why:

* the organisations table is ``entity: organisation``: its switchboard, general
  number and general e-mail are the firm's, and discover treats them so wherever
  else they appear;
* log files carry the MSISDN, but numbers are re-issued: the logs are found by the
  SIM's IMSI or ICCID, never by the number, which stays a plain column;
* a retired SIM belongs to its former user (``lifecycle``);
* the directory's ``uid`` is searched and expanded (a login names one person), which
  is exactly where a user name that repeats at another client must be caught.
"""

from __future__ import annotations

from typing import Any

CRM_SCHEMA = """
CREATE TABLE organisations (id INTEGER PRIMARY KEY, ref TEXT, name TEXT, switchboard TEXT,
    general_number TEXT, general_email TEXT);
CREATE TABLE contacts (id INTEGER PRIMARY KEY, ref TEXT, organisation_id INTEGER,
    full_name TEXT, email TEXT, phone TEXT, mobile TEXT);
CREATE TABLE tickets (id INTEGER PRIMARY KEY, ref TEXT, contact_id INTEGER,
    reporter_email TEXT, callback_number TEXT, subject TEXT);
"""

TELEPHONY_SCHEMA = """
CREATE TABLE cdr (id INTEGER PRIMARY KEY, ref TEXT, a_number TEXT, b_number TEXT,
    seconds INTEGER);
"""

CRM = """
version: 1
kind: sql
description: Customer database (organisations, contact persons, tickets)
tables:
  organisations:
    key: id
    category: general.billing
    entity: organisation
    columns:
      id: {}
      ref: {}
      name: {}
      switchboard: {identifier: phone, category: general.contact}
      general_number: {identifier: phone, category: general.contact}
      general_email: {identifier: email, category: general.contact}
  contacts:
    key: id
    category: general.contact
    columns:
      id: {}
      ref: {}
      organisation_id: {}
      full_name: {identifier: name}
      email: {identifier: email}
      phone: {identifier: phone}
      mobile: {identifier: phone}
  tickets:
    key: id
    category: general.support
    entity: event
    columns:
      id: {}
      ref: {}
      contact_id: {}
      reporter_email: {identifier: email, expand: false}
      callback_number: {identifier: phone, expand: false}
      subject: {}
relations:
  - {from: contacts.organisation_id, to: organisations.id, follow: forward}
  - {from: tickets.contact_id, to: contacts.id, follow: backward}
"""

TELEPHONY = """
version: 1
kind: sql
description: Call records of the voice platform (switch format, no plus)
tables:
  cdr:
    key: id
    category: usage.calls
    entity: event
    columns:
      id: {}
      ref: {}
      a_number: {identifier: phone, third_party: true}
      b_number: {identifier: phone, third_party: true}
      seconds: {}
"""

DIRECTORY = """
version: 1
kind: ldap
description: Hosted directory of the clients (inetOrgPerson, one OU per client)
bases:
  - {dn: "", scope: subtree}
entries:
  people:
    object_classes: [inetOrgPerson]
    key: employeeNumber
    category: managed_it.directory
    entity: person
    attributes:
      employeeNumber: {}
      uid: {identifier: username}
      cn: {identifier: name}
      sn: {}
      mail: {identifier: email}
      mobile: {identifier: phone}
      telephoneNumber: {identifier: phone}
"""

VOIP = """
version: 1
kind: voip
description: Provisioning directory of the hosted PBX (Yealink handsets, remote phonebooks)
files:
  include: ["**/*.cfg", "**/*.xml"]
  max_bytes: 1048576
scope:
  from: directory
  level: 1
detect: auto
handsets:
  category: voip.handset
  fields:
    mac: {identifier: mac}
    line: {}
    sip_number: {identifier: phone, min_digits: 7}
    display_name: {identifier: name}
    label: {}
    sip_password: {secret: true}
contacts:
  category: voip.contacts
  fields:
    name: {identifier: name, expand: false}
    number: {identifier: phone, min_digits: 7, expand: false}
formats:
  yealink:
    kind: handset
    description: Yealink <mac>.cfg
    syntax: key_value
    detect: {header: "#!version:"}
    device:
      mac: $mac
    account:
      line: $n
      sip_number: "account.{n}.user_name"
      sip_password: "account.{n}.password"
      display_name: "account.{n}.display_name"
      label: "account.{n}.label"
  remote_phonebook:
    kind: phonebook
    description: Yealink remote phonebook, one per client
    detect: {root: [YealinkIPPhoneDirectory]}
    entries: [DirectoryEntry]
    fields:
      name: [Name]
      number: [Telephone]
"""

DEVICES = """
version: 1
kind: tabular
description: Handsets seen by the platform
read:
  delimiter: auto
category: voip.handset
entity: person
key: ref
scope:
  from: column
  field: pbx
columns:
  ref: {}
  mac: {identifier: mac}
  last_ip: {identifier: ip, expand: false}
  extension: {identifier: extension}
  pbx: {}
  last_seen: {recorded_at: true}
headers:
  ref: [Ref]
  mac: [MAC-adres, MAC]
  last_ip: [Laatste IP]
  extension: [Toestel]
  pbx: [Klant]
  last_seen: [Laatst gezien]
"""

SIMS = """
version: 1
kind: tabular
description: SIM inventory (XLSX export of the mobile administration)
read:
  sheets: 0
category: mobile.sim
entity: person
key: ref
lifecycle:
  field: status
  retired: [opgezegd]
  recycled: [phone]
columns:
  ref: {}
  client: {category: general.billing}
  iccid: {identifier: iccid}
  imsi: {identifier: imsi}
  msisdn: {identifier: phone}
  puk: {secret: true}
  imei: {identifier: imei, category: mobile.device}
  user: {identifier: name}
  email: {identifier: email}
  status: {}
headers:
  ref: [Ref]
  client: [Klant]
  iccid: [ICCID]
  imsi: [IMSI]
  msisdn: [MSISDN]
  puk: [PUK]
  imei: [IMEI]
  user: [Gebruiker]
  email: [E-mail]
  status: [Status]
"""

ROAMING = """
version: 1
kind: tabular
description: "Roaming notifications (numbers are re-issued, so found by the SIM, not the number)"
read:
  delimiter: auto
category: mobile.notifications
entity: event
key: message_id
columns:
  message_id: {}
  sent_at: {recorded_at: true}
  msisdn: {}
  imsi: {identifier: imsi, expand: false, category: mobile.sim}
  imei: {identifier: imei, expand: false, category: mobile.device}
  country: {}
  message: {}
headers:
  message_id: [Bericht-ID]
  sent_at: [Verzonden]
  msisdn: [MSISDN]
  imsi: [IMSI]
  imei: [IMEI]
  country: [Land]
  message: [Bericht]
"""

BUNDLES = """
version: 1
kind: tabular
description: Bundle notifications (found by the SIM's ICCID)
read:
  delimiter: auto
category: mobile.notifications
entity: event
key: message_id
columns:
  message_id: {}
  sent_at: {recorded_at: true}
  msisdn: {}
  iccid: {identifier: iccid, expand: false, category: mobile.sim}
  bundle: {}
  usage: {}
headers:
  message_id: [Bericht-ID]
  sent_at: [Verzonden]
  msisdn: [MSISDN]
  iccid: [ICCID]
  bundle: [Bundel]
  usage: [Verbruik]
"""

KEYHOLDERS = """
version: 1
kind: tabular
description: Alarm keyholders per object
read:
  sheets: 0
category: alarm.keyholder
entity: person
key: ref
columns:
  ref: {}
  object_id: {}
  object_name: {}
  call_order: {}
  name: {identifier: name}
  mobile: {identifier: phone}
  email: {identifier: email}
  codeword: {secret: true}
headers:
  ref: [Ref]
  object_id: [Object-ID]
  object_name: [Object]
  call_order: [Volgorde]
  name: [Naam]
  mobile: [Mobiel]
  email: [E-mail]
  codeword: [Codewoord]
relations:
  - {same: object_id, third_party: true, label: other keyholder}
"""

MAPPINGS = {
    "crm": CRM,
    "telephony": TELEPHONY,
    "directory": DIRECTORY,
    "voip": VOIP,
    "devices": DEVICES,
    "sims": SIMS,
    "roaming": ROAMING,
    "bundles": BUNDLES,
    "keyholders": KEYHOLDERS,
}

#: per source: the field of a record that says which record it is
REF_FIELDS = {
    "crm": "ref",
    "telephony": "ref",
    "directory": "employeeNumber",
    "voip": "label",
    "devices": "ref",
    "sims": "ref",
    "roaming": "message_id",
    "bundles": "message_id",
    "keyholders": "ref",
}


def sources_document() -> dict[str, Any]:
    def entry(name: str, kind: str, connection: dict[str, str]) -> dict[str, Any]:
        return {
            "name": name,
            "kind": kind,
            "mapping": f"mappings/{name}.yaml",
            "connection": connection,
        }

    return {
        "version": 1,
        "settings": {"max_depth": 8, "max_holders": 3},
        "sources": [
            entry("crm", "sql", {"url": "sqlite:///crm.sqlite"}),
            entry("telephony", "sql", {"url": "sqlite:///telephony.sqlite"}),
            entry(
                "directory", "ldif", {"path": "directory.ldif", "base_dn": "dc=clients,dc=example"}
            ),
            entry("voip", "voip", {"directory": "provisioning"}),
            entry("devices", "tabular", {"path": "devices.csv"}),
            entry("sims", "tabular", {"path": "sims.xlsx"}),
            entry("roaming", "tabular", {"path": "roaming.csv"}),
            entry("bundles", "tabular", {"path": "bundles.csv"}),
            entry("keyholders", "tabular", {"path": "keyholders.xlsx"}),
        ],
    }
