"""The SQL connector against the real SQLite, PostgreSQL and MariaDB.

Every test that takes ``database_url`` runs three times, once per database, with the
same data and the same assertions.
"""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa
from sql_support import by_key, connector, create, ident, keys, writer

from connectors.base import WITHHELD
from connectors.sql.connector import join_key
from connectors.sql.predicates import PREDICATES, index_expression
from discover.errors import ConfigError, SourceError
from discover.identifiers import IDENTIFIER_TYPES
from discover.sources import Settings

FILLER = 5000

# -- one subject, every surface format ---------------------------------------------------

SUBJECT = {
    "email": ["jan.devries@example.nl", "JÖRG@BÜCHER.EXAMPLE"],
    "phone": ["+31612345678"],
    "mac": ["001565abcd01"],
    "imei": ["352099001761481"],
    "iccid": ["8931041012345678902"],
    "imsi": ["204041234567890"],
    "ip": ["198.51.100.23", "2001:db8::17"],
    "postcode": ["2289BA"],
    "name": ["Jan de Vries", "Zoë Çelik", "Seán O'Brien", "Fatima El Amrani"],
    "username": ["jdevries"],
    "account": ["acct-0042"],
    "extension": ["acme/201", "201"],
}

#: id -> (column, stored value): each one a spelling of one of SUBJECT's identifiers
MATCHING: dict[int, tuple[str, object]] = {
    1: ("email", "  Jan.DeVries@Example.NL  "),
    2: ("email", "JAN.DEVRIES@EXAMPLE.NL"),
    3: ("email", "mailto:jan.devries@example.nl"),
    4: ("phone", "06-1234 5678"),
    5: ("phone", "+31 (0)6 12345678"),
    6: ("phone", "0031 6 1234 5678"),
    7: ("phone", "31612345678"),  # switch format, as text
    8: ("msisdn", 31612345678),  # switch format, as a BIGINT
    9: ("phone", "+31612345678"),
    10: ("mac", "00:15:65:AB:CD:01"),
    11: ("mac", "00-15-65-ab-cd-01"),
    12: ("mac", "0015.65AB.CD01"),
    13: ("mac", "0:15:65:ab:cd:1"),
    14: ("imei", "3520990017614801"),  # IMEISV of the IMEI
    15: ("imei", "35-209900-176148-1"),
    16: ("iccid", "8931041012345678902F"),  # trailing F pad
    17: ("iccid", "89 3104 1012 3456 7890 2"),
    18: ("imsi", "204 04 1234567890"),
    19: ("ip", "198.51.100.23"),
    20: ("ip", "::ffff:198.51.100.23"),
    21: ("ip", "2001:0DB8:0000:0000:0000:0000:0000:0017"),  # exploded
    22: ("postcode", "2289 ba"),
    23: ("postcode", "NL-2289 BA"),
    24: ("full_name", "Vries, Jan de"),
    25: ("full_name", "Zoë Çelik"),
    26: ("full_name", "ZOË ÇELIK"),
    27: ("username", "ACME\\JDeVries"),
    28: ("username", " jdevries "),
    29: ("account", "ACCT-0042"),
    30: ("extension", "Acme / 2-01"),
    31: ("phone", "☎ 06 12345678"),  # a multi-byte prefix must not shift the tail
    32: ("email", "JÖRG@Bücher.Example"),
    33: ("ext_number", 201),  # extension as an integer (unscoped)
    34: ("email", "Jan de Vries <Jan.DeVries@Example.NL>"),  # display form
    35: ("email", "jan.devries@example.nl\r\n"),  # a CSV import's line end
    36: ("email", "jörg@xn--bcher-kva.example"),  # punycode domain
    37: ("phone", "\t06 12345678\n"),
    38: ("ip", "198.051.100.023"),  # zero-padded octets
    39: ("full_name", "O’BRIEN, Seán"),
    40: ("full_name", "Fatima El-Amrani"),
}
#: rows the database may offer as candidates that verification must drop
DECOYS: dict[int, tuple[str, object]] = {
    101: ("phone", "+49 612345678"),  # the same national digits, another country
    102: ("msisdn", 49612345678),
    103: ("mac", "00:15:65:ab:cd:02"),
    104: ("full_name", "Jan de Vriesman"),
    105: ("imei", "352099001761480"),  # same first 14 digits, wrong check digit
    106: ("iccid", "89310410123456789021"),
    107: ("email", "jan.devries@example.nl.invalid"),
    108: ("username", "OTHER\\jdevries2"),
    109: ("extension", "acme/2010"),
}
COLUMNS = (
    "email",
    "phone",
    "msisdn",
    "mac",
    "imei",
    "iccid",
    "imsi",
    "ip",
    "postcode",
    "full_name",
    "username",
    "account",
    "extension",
    "ext_number",
)
IDENTIFIER_OF = {
    "email": "email",
    "phone": "phone",
    "msisdn": "phone",
    "mac": "mac",
    "imei": "imei",
    "iccid": "iccid",
    "imsi": "imsi",
    "ip": "ip",
    "postcode": "postcode",
    "full_name": "name",
    "username": "username",
    "account": "account",
    "extension": "extension",
    "ext_number": "extension",
}


def _subjects_table(metadata: sa.MetaData) -> sa.Table:
    columns = [sa.Column("id", sa.Integer, primary_key=True)]
    for name in COLUMNS:
        kind = sa.BigInteger if name == "msisdn" else sa.Integer if name == "ext_number" else None
        columns.append(sa.Column(name, kind or sa.String(100)))
    return sa.Table("subjects", metadata, *columns)


def _filler(index: int) -> dict[str, object]:
    """A row about someone else: every column holds another person's identifier."""
    return {
        "id": 1000 + index,
        "email": f"User{index}@Example.com",
        "phone": f"06-2{index:07d}",
        "msisdn": 31620000000 + index,
        "mac": f"00:16:{index % 256:02x}:00:{index // 256:02x}:99",
        "imei": f"35000000{index:07d}",
        "iccid": f"893104200000{index:07d}",
        "imsi": f"20404{index:010d}",
        "ip": f"10.{index % 250}.{index // 250}.1",
        "postcode": f"{1000 + index % 8000} AB",
        "full_name": f"Person {index} Jansen",
        "username": f"user{index}",
        "account": f"acct-{index + 10000}",
        "extension": f"acme/{3000 + index}",
        "ext_number": 3000 + index,
    }


def _rows() -> list[dict[str, object]]:
    rows = []
    for row_id, (column, value) in {**MATCHING, **DECOYS}.items():
        row = dict.fromkeys(COLUMNS)
        row.update({"id": row_id, column: value})
        rows.append(row)
    rows += [_filler(i) for i in range(FILLER)]
    return rows


SUBJECTS_MAPPING = {
    "tables": {
        "subjects": {
            "key": "id",
            "category": "general.contact",
            "columns": {"id": None, **{c: {"identifier": IDENTIFIER_OF[c]} for c in COLUMNS}},
        }
    }
}


@pytest.fixture
def subjects_url(database_url: str) -> str:
    metadata = sa.MetaData()
    _subjects_table(metadata)
    create(database_url, metadata, {"subjects": _rows()})
    return database_url


def _identifiers(kinds: tuple[str, ...] | None = None) -> list:
    return [
        ident(kind, raw)
        for kind, raws in SUBJECT.items()
        if kinds is None or kind in kinds
        for raw in raws
    ]


def test_every_surface_format_is_found_and_only_those(subjects_url: str) -> None:
    with connector(subjects_url, SUBJECTS_MAPPING) as source:
        result = source.scan(_identifiers())
    found = by_key(result.records)
    assert keys(result.records) == {f"id={i}" for i in MATCHING}
    for row_id, (column, _value) in MATCHING.items():
        record = found[("subjects", f"id={row_id}")]
        assert [m.field for m in record.matches] == [column], row_id
        assert record.matches[0].identifier.type == IDENTIFIER_OF[column]
    # 6 candidates at most beyond the matches (decoys), never the 5,000 others
    assert result.rows_read <= len(MATCHING) + len(DECOYS)


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        (("email",), {1, 2, 3, 32, 34, 35, 36}),
        (("phone",), {4, 5, 6, 7, 8, 9, 31, 37}),
        (("mac",), {10, 11, 12, 13}),
        (("imei", "iccid", "imsi"), {14, 15, 16, 17, 18}),
        (("ip", "postcode"), {19, 20, 21, 22, 23, 38}),
        (("username", "account", "extension"), {27, 28, 29, 30, 33}),
    ],
)
def test_single_subject_search_reads_no_more_than_twice_the_matches(
    subjects_url: str, kinds: tuple[str, ...], expected: set[int]
) -> None:
    with connector(subjects_url, SUBJECTS_MAPPING) as source:
        result = source.scan(_identifiers(kinds))
    assert keys(result.records) == {f"id={i}" for i in expected}
    assert result.rows_read <= 2 * len(expected)


@pytest.mark.parametrize(("profile", "read"), [(False, 8 + 2), (True, 8)])
def test_foreign_number_with_the_same_national_digits_is_a_candidate_then_dropped(
    subjects_url: str, profile: bool, read: int
) -> None:
    if sa.make_url(subjects_url).get_backend_name() == "mysql":
        with writer(subjects_url) as engine, engine.begin() as connection:
            connection.execute(sa.text("ANALYZE TABLE subjects"))  # its size, for profiles
    with connector(subjects_url, SUBJECTS_MAPPING) as source:
        source.source.connection["profile"] = profile
        result = source.scan([ident("phone", "+31612345678")])
    assert "id=101" not in keys(result.records)
    assert "id=102" not in keys(result.records)
    # the normalising predicate reads the two foreign numbers (the database cannot tell)
    # and Python drops them; with column profiles their spellings are never asked for
    assert result.rows_read == read


def test_exact_only_when_the_stored_text_is_the_canonical_value(subjects_url: str) -> None:
    with connector(subjects_url, SUBJECTS_MAPPING) as source:
        result = source.scan([ident("phone", "06 12345678")])
    exact = {r.key: r.matches[0].exact for r in result.records}
    assert exact["id=9"] is True
    assert exact["id=4"] is False
    assert exact["id=8"] is False  # the BIGINT 31612345678


def test_name_words_in_any_order_and_accents(subjects_url: str) -> None:
    with connector(subjects_url, SUBJECTS_MAPPING) as source:
        result = source.scan(_identifiers(("name",)))
    assert keys(result.records) == {"id=24", "id=25", "id=26", "id=39", "id=40"}
    # "Jan de Vriesman" holds every word but is another name: read, then dropped
    assert result.rows_read == 6


def test_batch_of_many_identifiers_in_one_pass(database_url: str) -> None:
    """Thousands of identifiers: chunked IN lists, every match found, nothing else."""
    metadata = sa.MetaData()
    _subjects_table(metadata)
    create(database_url, metadata, {"subjects": [_filler(i) for i in range(3000)]})
    wanted = [ident("phone", f"+3162{i:07d}") for i in range(0, 3000, 2)]
    settings = Settings(chunk_size=400)
    with connector(database_url, SUBJECTS_MAPPING, settings=settings) as source:
        result = source.scan(wanted)
    assert keys(result.records) == {f"id={1000 + i}" for i in range(0, 3000, 2)}
    # each matched row is read once per column holding the number (phone and msisdn)
    assert result.rows_read == 1500
    fields = {m.field for r in result.records for m in r.matches}
    assert fields == {"phone", "msisdn"}


def test_every_identifier_type_has_a_predicate() -> None:
    assert set(PREDICATES) == set(IDENTIFIER_TYPES)


# -- awkward names -----------------------------------------------------------------------

AWKWARD_TABLE = 'Client "Contacts" Select'
AWKWARD_COLUMNS = ("E-mail Address", 'Say "Hi"', "MobileNumber", "select", "order")


def _awkward(metadata: sa.MetaData, schema: str | None) -> None:
    sa.Table(
        AWKWARD_TABLE,
        metadata,
        sa.Column("Key Id", sa.Integer, primary_key=True),
        *(sa.Column(name, sa.String(100)) for name in AWKWARD_COLUMNS),
        schema=schema,
    )
    sa.Table(
        "Order Lines",
        metadata,
        sa.Column("Line", sa.Integer, primary_key=True),
        sa.Column("Contact Ref", sa.BigInteger),
        sa.Column("group", sa.String(50)),
        schema=schema,
    )


def _awkward_mapping(schema: str | None) -> dict:
    extra = {"schema": schema} if schema else {}
    return {
        "tables": {
            "contacts": {
                "table": AWKWARD_TABLE,
                **extra,
                "key": "Key Id",
                "category": "general.contact",
                "columns": {
                    "Key Id": None,
                    "E-mail Address": {"identifier": "email"},
                    'Say "Hi"': None,
                    "MobileNumber": {"identifier": "phone"},
                    "select": {"identifier": "account"},
                    "order": None,
                },
            },
            "lines": {
                "table": "Order Lines",
                **extra,
                "key": "Line",
                "category": "general.support",
                "columns": {"Line": None, "Contact Ref": None, "group": None},
            },
        },
        "relations": [{"from": "lines.Contact Ref", "to": "contacts.Key Id", "follow": "backward"}],
    }


def _fill_awkward(url: str, schema: str | None) -> None:
    metadata = sa.MetaData()
    _awkward(metadata, schema)
    contact = {'Say "Hi"': "o'hara; DROP TABLE x; --", "order": "1"}
    rows_contacts = [
        {"Key Id": 1, "E-mail Address": "Jan@Example.NL", "MobileNumber": "06 12345678",
         "select": "ACC-1", **contact},
        {"Key Id": 2, "E-mail Address": "zoe@example.nl", "MobileNumber": "06 87654321",
         "select": "ACC-2", **contact},
    ]  # fmt: skip
    rows_lines = [
        {"Line": 10, "Contact Ref": 1, "group": "a"},
        {"Line": 11, "Contact Ref": 2, "group": "b"},
        {"Line": 12, "Contact Ref": 1, "group": "c"},
    ]
    create(url, metadata, {AWKWARD_TABLE: rows_contacts, "Order Lines": rows_lines})


def _check_awkward(url: str, schema: str | None) -> None:
    with connector(url, _awkward_mapping(schema)) as source:
        assert source.check_mapping() == []
        result = source.scan(
            [
                ident("email", "jan@example.nl"),
                ident("phone", "+31612345678"),
                ident("account", "acc-1"),
            ]
        )
    found = by_key(result.records)
    location = f"{schema}.{AWKWARD_TABLE}" if schema else AWKWARD_TABLE
    contact = found[(location, "Key Id=1")]
    assert {m.field for m in contact.matches} == {"E-mail Address", "MobileNumber", "select"}
    assert contact.value('Say "Hi"') == "o'hara; DROP TABLE x; --"
    lines = f"{schema}.Order Lines" if schema else "Order Lines"
    assert keys(result.records, lines) == {"Line=10", "Line=12"}
    assert len(result.records) == 3


def test_awkward_table_and_column_names_are_quoted(database_url: str) -> None:
    _fill_awkward(database_url, None)
    _check_awkward(database_url, None)


def test_schema_qualified_awkward_table_on_postgresql(postgres_url: str) -> None:
    with writer(postgres_url) as engine, engine.begin() as connection:
        connection.execute(sa.schema.CreateSchema("Crm Data"))
    _fill_awkward(postgres_url, "Crm Data")
    _check_awkward(postgres_url, "Crm Data")


# -- relations ---------------------------------------------------------------------------


def _shop(url: str) -> None:
    """Customers (INT keys) with orders (BIGINT keys and references) and order items."""
    metadata = sa.MetaData()
    sa.Table(
        "customers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("referred_by", sa.Integer),
    )
    sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("customer_id", sa.BigInteger),
        sa.Column("delivery_email", sa.String(100)),
    )
    sa.Table(
        "items",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer),
        sa.Column("product", sa.String(50)),
    )
    create(
        url,
        metadata,
        {
            "customers": [
                {"id": 1, "email": "ann@example.nl", "referred_by": 2},
                {"id": 2, "email": "bob@example.nl", "referred_by": 1},  # a referral cycle
                {"id": 3, "email": "cas@example.nl", "referred_by": None},
            ],
            "orders": [
                {"id": 5_000_000_001, "customer_id": 1, "delivery_email": None},
                {"id": 5_000_000_002, "customer_id": 1, "delivery_email": None},
                {"id": 5_000_000_003, "customer_id": 3, "delivery_email": "gift@example.nl"},
                {"id": 5_000_000_004, "customer_id": None, "delivery_email": None},
            ],
            "items": [
                {"id": 1, "order_id": 1, "product": "unrelated"},
                {"id": 2, "order_id": 2, "product": "unrelated"},
            ],
        },
    )


def _shop_mapping(follow_orders: str, *, referrals: str | None = None, items: bool = False):
    relations = [{"from": "orders.customer_id", "to": "customers.id", "follow": follow_orders}]
    if referrals:
        relations.append(
            {"from": "customers.referred_by", "to": "customers.id", "follow": referrals}
        )
    tables = {
        "customers": {
            "key": "id",
            "category": "general.contact",
            "columns": {"id": None, "email": {"identifier": "email"}, "referred_by": None},
        },
        "orders": {
            "key": "id",
            "category": "general.support",
            "entity": "event",
            "columns": {
                "id": None,
                "customer_id": None,
                "delivery_email": {"identifier": "email"},
            },
        },
    }
    return {"tables": tables, "relations": relations}


@pytest.mark.parametrize(
    ("follow", "by_customer", "by_order"),
    [
        # search by the customer's e-mail / by the order's delivery e-mail
        ("backward", {"orders": {"id=5000000001", "id=5000000002"}}, {"customers": set()}),
        ("forward", {"orders": set()}, {"customers": {"id=3"}}),
        ("both", {"orders": {"id=5000000001", "id=5000000002"}}, {"customers": {"id=3"}}),
    ],
)
def test_relations_follow_as_declared(
    database_url: str, follow: str, by_customer: dict, by_order: dict
) -> None:
    _shop(database_url)
    with connector(database_url, _shop_mapping(follow)) as source:
        customer = source.scan([ident("email", "ann@example.nl")])
        order = source.scan([ident("email", "gift@example.nl")])
    assert keys(customer.records, "customers") == {"id=1"}
    assert keys(customer.records, "orders") == by_customer["orders"]
    assert keys(order.records, "orders") == {"id=5000000003"}
    assert keys(order.records, "customers") == by_order["customers"]
    for record in customer.records:
        if record.location == "orders":
            assert not record.matches
            assert [(link.location, link.key) for link in record.links] == [("customers", "id=1")]
            assert record.links[0].relation == "orders.customer_id -> customers.id"


def test_relations_are_followed_transitively_through_cycles(database_url: str) -> None:
    _shop(database_url)
    mapping = _shop_mapping("backward", referrals="both")
    with connector(database_url, mapping) as source:
        result = source.scan([ident("email", "ann@example.nl")])
    found = by_key(result.records)
    # ann -> bob (referred_by, both ways, a cycle) -> bob has no orders; ann's orders
    assert keys(result.records, "customers") == {"id=1", "id=2"}
    assert keys(result.records, "orders") == {"id=5000000001", "id=5000000002"}
    bob = found[("customers", "id=2")]
    assert not bob.matches
    assert {(link.location, link.key) for link in bob.links} == {("customers", "id=1")}
    ann = found[("customers", "id=1")]
    assert ann.matches and {(lk.location, lk.key) for lk in ann.links} == {("customers", "id=2")}


def test_relations_chain_over_int_and_bigint_columns(database_url: str) -> None:
    """customers.id INT <- orders.customer_id BIGINT; orders.id BIGINT <- lines.order INT."""
    metadata = sa.MetaData()
    sa.Table(
        "customers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
    )
    sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("customer_id", sa.BigInteger),
    )
    sa.Table(
        "lines",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer),
    )
    create(
        database_url,
        metadata,
        {
            "customers": [{"id": 7, "email": "ann@example.nl"}, {"id": 8, "email": "x@y.nl"}],
            "orders": [{"id": 70, "customer_id": 7}, {"id": 80, "customer_id": 8}],
            "lines": [
                {"id": 1, "order_id": 70},
                {"id": 2, "order_id": 70},
                {"id": 3, "order_id": 80},
            ],
        },
    )
    mapping = {
        "tables": {
            "customers": {
                "key": "id",
                "category": "general.contact",
                "columns": {"id": None, "email": {"identifier": "email"}},
            },
            "orders": {
                "key": "id",
                "category": "general.support",
                "columns": {"id": None, "customer_id": None},
            },
            "lines": {
                "key": "id",
                "category": "general.support",
                "columns": {"id": None, "order_id": None},
            },
        },
        "relations": [
            {"from": "orders.customer_id", "to": "customers.id", "follow": "backward"},
            {"from": "lines.order_id", "to": "orders.id", "follow": "backward"},
        ],
    }
    with connector(database_url, mapping) as source:
        result = source.scan([ident("email", "ann@example.nl")])
    assert keys(result.records, "orders") == {"id=70"}
    assert keys(result.records, "lines") == {"id=1", "id=2"}
    found = by_key(result.records)
    assert [(lk.location, lk.key) for lk in found[("lines", "id=1")].links] == [("orders", "id=70")]


def test_join_key_treats_integer_types_alike_and_skips_blanks() -> None:
    from decimal import Decimal

    assert join_key(7) == join_key(Decimal("7")) == join_key(7.0) == "7"
    assert join_key("") is None and join_key("  ") is None
    assert join_key(None) is None and join_key(WITHHELD) is None
    assert join_key("A-7") == "A-7"


# -- secrets -----------------------------------------------------------------------------


def test_secret_values_never_leave_the_database(database_url: str) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "accounts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("password", sa.String(100)),
    )
    create(
        database_url,
        metadata,
        {
            "accounts": [
                {"id": 1, "email": "ann@example.nl", "password": "hunter2-secret"},
                {"id": 2, "email": "ann@example.nl ", "password": None},
            ]
        },
    )
    mapping = {
        "tables": {
            "accounts": {
                "key": "id",
                "category": "general.contact",
                "columns": {
                    "id": None,
                    "email": {"identifier": "email"},
                    "password": {"secret": True},
                },
            }
        }
    }
    with connector(database_url, mapping) as source:
        result = source.scan([ident("email", "ann@example.nl")])
    values = {r.key: r.value("password") for r in result.records}
    assert values == {"id=1": WITHHELD, "id=2": None}
    assert all("hunter2" not in repr(r.fields) for r in result.records)


def test_a_secret_key_column_is_refused() -> None:
    mapping = {
        "tables": {
            "t": {
                "key": "pin",
                "category": "general.contact",
                "columns": {"pin": {"secret": True}, "email": {"identifier": "email"}},
            }
        }
    }
    with pytest.raises(ConfigError, match=r"tables\.t\.key"):
        connector("sqlite://", mapping)


# -- read-only ---------------------------------------------------------------------------


def _one_table(url: str) -> dict:
    metadata = sa.MetaData()
    sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("manager_id", sa.Integer),
    )
    create(
        url,
        metadata,
        {
            "people": [
                {"id": 1, "email": "ann@example.nl", "manager_id": 2},
                {"id": 2, "email": "bob@example.nl", "manager_id": None},
            ]
        },
    )
    return {
        "tables": {
            "people": {
                "key": "id",
                "category": "general.contact",
                "columns": {"id": None, "email": {"identifier": "email"}, "manager_id": None},
            }
        },
        "relations": [{"from": "people.manager_id", "to": "people.id", "follow": "both"}],
    }


WRITES = (
    "INSERT INTO people (id, email) VALUES (99, 'x@example.nl')",
    "UPDATE people SET email = 'changed@example.nl'",
    "DELETE FROM people",
    "CREATE TABLE intruder (id INTEGER)",
)


@pytest.mark.parametrize("statement", WRITES)
def test_the_connector_cannot_write(database_url: str, statement: str) -> None:
    mapping = _one_table(database_url)
    with connector(database_url, mapping) as source:
        source.check()
        with pytest.raises(sa.exc.DBAPIError) as caught, source.engine.connect() as connection:
            connection.execute(sa.text(statement))
            connection.commit()
    assert "read" in str(caught.value.orig).lower()  # read-only / READ ONLY / readonly
    with writer(database_url) as engine, engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, email FROM people ORDER BY id")).all()
        tables = sa.inspect(connection).get_table_names()
    assert [tuple(r) for r in rows] == [(1, "ann@example.nl"), (2, "bob@example.nl")]
    assert "intruder" not in tables


def test_the_connector_only_ever_selects(database_url: str) -> None:
    mapping = _one_table(database_url)
    statements: list[str] = []
    with connector(database_url, mapping) as source:
        sa.event.listen(
            source.engine,
            "before_cursor_execute",
            lambda _conn, _cursor, statement, *_: statements.append(statement),
        )
        source.check()
        result = source.scan([ident("email", "ann@example.nl"), ident("email", "bob@example.nl")])
    assert keys(result.records) == {"id=1", "id=2"}
    assert len(statements) >= 3  # check, the search, the relation
    assert all(s.lstrip().upper().startswith("SELECT") for s in statements), statements


def test_postgresql_sessions_are_read_only_single_snapshots(postgres_url: str) -> None:
    mapping = _one_table(postgres_url)
    with connector(postgres_url, mapping) as source, source.engine.connect() as connection:
        settings = connection.execute(
            sa.text("SELECT current_setting('transaction_read_only'), "
                    "current_setting('transaction_isolation')")
        ).one()  # fmt: skip
    assert tuple(settings) == ("on", "repeatable read")


# -- failures ----------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


MAPPING_ANY = {
    "tables": {
        "people": {
            "key": "id",
            "category": "general.contact",
            "columns": {"id": None, "email": {"identifier": "email"}},
        }
    }
}


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_unreachable_server_is_a_transient_source_error(scheme: str) -> None:
    url = f"{scheme}://nobody@127.0.0.1:{_closed_port()}/nothing"
    with connector(url, MAPPING_ANY, name="crm") as source, pytest.raises(SourceError) as caught:
        source.scan([ident("email", "ann@example.nl")])
    assert caught.value.source == "crm"
    assert caught.value.transient
    assert "refused" in caught.value.message.lower()


@pytest.mark.parametrize(
    ("server", "change", "message"),
    [
        ("postgres_url", {"username": "no_such_role_xyz"}, "no_such_role_xyz"),
        ("mariadb_url", {"password": "certainly-wrong"}, "Access denied"),
        ("postgres_url", {"database": "discover_no_such_db"}, "does not exist"),
        ("mariadb_url", {"database": "discover_no_such_db"}, "Unknown database"),
    ],
    ids=["postgres-credentials", "mariadb-credentials", "postgres-database", "mariadb-database"],
)
def test_bad_credentials_and_missing_databases_are_source_errors(
    request: pytest.FixtureRequest, server: str, change: dict[str, str], message: str
) -> None:
    url = sa.make_url(request.getfixturevalue(server)).set(**change)
    source = connector(url.render_as_string(False), MAPPING_ANY)
    with source, pytest.raises(SourceError, match=message):
        source.check()


def test_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path) -> None:
    missing = tmp_path / "gone" / "crm.sqlite"
    relative = "sqlite:///gone/other.sqlite"
    for url in (f"sqlite:///{missing}", relative):
        with connector(url, MAPPING_ANY, base_dir=tmp_path) as source:
            with pytest.raises(SourceError, match="does not exist"):
                source.check()
            with pytest.raises(SourceError):
                source.scan([ident("email", "ann@example.nl")])
    assert not (tmp_path / "gone").exists()


def test_sqlite_paths_with_uri_characters(tmp_path) -> None:
    directory = tmp_path / "odd #1 dir name"  # (SQLAlchemy URLs: "?" starts a query)
    directory.mkdir()
    url = f"sqlite:///{directory / 'crm #2.sqlite'}"
    mapping = _one_table(url)
    with connector(url, mapping) as source:
        assert keys(source.scan([ident("email", "ann@example.nl")]).records) == {"id=1", "id=2"}
    assert sorted(p.name for p in directory.iterdir()) == ["crm #2.sqlite"]


def test_missing_table_is_a_source_error_and_a_mapping_problem(database_url: str) -> None:
    _one_table(database_url)
    mapping = {
        "tables": {
            "ghosts": {
                "key": "id",
                "category": "general.contact",
                "columns": {"id": None, "email": {"identifier": "email"}},
            },
        }
    }
    with connector(database_url, mapping) as source:
        assert source.check_mapping() == ["table 'ghosts' (tables.ghosts) does not exist"]
        with pytest.raises(SourceError) as caught:
            source.scan([ident("email", "ann@example.nl")])
    assert "ghosts" in caught.value.message


# -- expression indexes ------------------------------------------------------------------


@pytest.mark.parametrize("server", ["sqlite", "postgres"])
def test_searches_use_an_expression_index_on_the_search_expression(
    request: pytest.FixtureRequest, server: str
) -> None:
    """PostgreSQL and SQLite match expression indexes structurally: an index made
    with index_expression() serves the connector's own SELECT (MariaDB has none)."""
    url = request.getfixturevalue(f"{server}_url")
    metadata = sa.MetaData()
    table = _subjects_table(metadata)
    create(url, metadata, {"subjects": _rows()})
    with writer(url) as engine:
        for column in ("email", "phone"):
            sa.Index(f"ix_{column}", index_expression(column, table.c[column])).create(engine)
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
    mapping = {
        "tables": {
            "subjects": {
                "key": "id",
                "category": "general.contact",
                "columns": {
                    "id": None,
                    "email": {"identifier": "email"},
                    "phone": {"identifier": "phone"},
                },
            }
        }
    }
    seen: list[tuple[str, object]] = []
    with connector(url, mapping) as source:
        sa.event.listen(
            source.engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, parameters, *_: seen.append((statement, parameters)),
        )
        for identifier, index in ((ident("email", "jan.devries@example.nl"), "ix_email"),
                                  (ident("phone", "+31612345678"), "ix_phone")):  # fmt: skip
            seen.clear()
            result = source.scan([identifier])
            assert result.records
            statement, parameters = seen[-1]
            explain = "EXPLAIN QUERY PLAN " if server == "sqlite" else "EXPLAIN "
            with writer(url) as engine, engine.connect() as connection:
                plan = connection.exec_driver_sql(explain + statement, parameters).all()
            assert index in " ".join(str(row) for row in plan), plan
