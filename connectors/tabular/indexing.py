"""What the persistent index keys a row by, and what a search looks up.

The index must find every row a full read would act on: a row the candidate
expression selects (it may then match, or be named in a warning, such as a 14-digit
IMEI that may have lost its leading zero) and that the verification accepts. Two
kinds of key do that, both computed in polars over whole columns:

* for the types a candidate expression finds by comparing a key derived from the
  stored text (phone numbers by their last digits, MACs, ICCIDs, IMEIs …), that same
  key (:data:`connectors.tabular.exprs.INDEX_KEYS`): every candidate row is then
  under a key the search looks up;
* e-mail addresses and names, which candidates find by substring, by their value
  normalised exactly as the verification normalises it
  (:func:`discover.identifiers.try_normalise`): plain ASCII values in polars, the
  others once per distinct value in Python.

The values that relate rows (the object of a keyholder list) are keyed too, under
the relation's position. Every key is stored as a 64-bit hash of its text (polars'
hash with a fixed seed; the polars version is part of the index's settings), never
the text: the index holds no identifier, relation value or other cell text, and a
hash collision only makes a search read a row it then does not verify.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from connectors.tabular.exprs import INDEX_KEYS, PHONE_TAIL, index_lookup
from discover.identifiers import MAX_LENGTH, Identifier, try_normalise

_SEED = 20260101

#: plain addresses whose normal form is their lower case (see identifiers._email)
_PLAIN_EMAIL = r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+$"
#: plain names whose normal form is lower case with . and - as spaces (identifiers._name)
_PLAIN_NAME = r"^[A-Za-z][A-Za-z0-9 .'\-]*$"


def hashed(text: pl.Expr) -> pl.Expr:
    """The stored form of a key: a signed 64-bit hash of its text (SQLite's INTEGER)."""
    return text.hash(seed=_SEED).reinterpret(signed=True)


def _hashes(texts: Collection[str]) -> list[int]:
    series = pl.Series("key", sorted(set(texts)), dtype=pl.String)
    return pl.select(hashed(pl.lit(series))).to_series().to_list()


def derived(kind: str) -> bool:
    """Whether ``kind`` is indexed by the candidate's own key (else: normalised)."""
    return kind in INDEX_KEYS


def _plain(kind: str, value: pl.Expr) -> pl.Expr:
    """The normal form of simple values, computed in polars; null for the others."""
    short = value.str.len_chars() <= MAX_LENGTH
    if kind == "email":
        simple = value.str.contains(_PLAIN_EMAIL) & ~value.str.to_lowercase().str.contains("xn--")
        return pl.when(short & simple).then(value.str.to_lowercase())
    if kind == "name":
        folded = (
            value.str.to_lowercase()
            .str.replace_all(r"[.\-]", " ")
            .str.replace_all(r" +", " ")
            .str.strip_chars(" ")
        )
        return pl.when(short & value.str.contains(_PLAIN_NAME)).then(folded)
    return pl.lit(None, pl.String)


def keyed(frame: pl.DataFrame, column: str, kind: str) -> pl.DataFrame:
    """``key`` and ``row`` for every value of ``column`` (``__index``: the row index).

    ``column`` holds the candidate's key for a derived type, else the field's value.
    """
    values = frame.select(pl.col("__index").cast(pl.Int64).alias("row"), pl.col(column))
    values = values.filter(pl.col(column).is_not_null() & (pl.col(column) != ""))
    if derived(kind):
        return values.select(
            hashed(pl.concat_str(pl.lit(f"{kind}~:"), pl.col(column))).alias("key"), pl.col("row")
        )
    values = values.with_columns(_plain(kind, pl.col(column)).alias("__plain"))
    rest = values.filter(pl.col("__plain").is_null()).get_column(column).unique().to_list()
    table = {text: try_normalise(kind, text) for text in rest}
    normal = pl.coalesce(
        pl.col("__plain"),
        pl.col(column).replace_strict(table, default=None, return_dtype=pl.String),
    )
    return (
        values.select(pl.concat_str(pl.lit(f"{kind}:"), normal).alias("key"), pl.col("row"))
        .drop_nulls("key")
        .select(hashed(pl.col("key")).alias("key"), pl.col("row"))
    )


def related(frame: pl.DataFrame, column: str, position: int) -> pl.DataFrame:
    """``key`` and ``row`` for the relation values in ``column``."""
    values = frame.select(pl.col("__index").cast(pl.Int64).alias("row"), pl.col(column))
    return values.drop_nulls(column).select(
        hashed(pl.concat_str(pl.lit(f"rel{position}:"), pl.col(column))).alias("key"),
        pl.col("row"),
    )


def relation_keys(position: int, values: Collection[str]) -> list[int]:
    """The keys to look up for a relation's values."""
    return _hashes([f"rel{position}:{value}" for value in values])


def wanted_keys(identifiers: Collection[Identifier]) -> list[int] | None:
    """The keys to look up for ``identifiers``; None when the index cannot answer (a
    phone number whose national number is shorter than the indexed tail)."""
    keys: set[str] = set()
    for identifier in identifiers:
        kind = identifier.type
        if not derived(kind):
            keys.add(f"{kind}:{identifier.value}")
            continue
        exact = index_lookup(identifier)
        if kind == "phone" and any(len(key) < PHONE_TAIL for key in exact):
            return None
        keys.update(f"{kind}~:{key}" for key in exact)
    return _hashes(keys)
