"""What the persistent index keys a row by, and what a search looks up.

A row is keyed by each searchable value normalised exactly as the verification
normalises it (:func:`discover.identifiers.try_normalise`, once per distinct value of
a column), so that every row a verification can match is found under the wanted
identifier's own key. Two more kinds of key keep an indexed search's result equal to
a full read's:

* an IMEI of 14 digits that may have lost its leading zero is never matched, but a
  full read names its row when an IMEI it could be is searched: it is keyed by its
  digits (``imei~:``) and looked up by the first 14 digits of a wanted IMEI and by
  the digits after its leading zero;
* the values that relate rows (the object of a keyholder list) are keyed by their
  SHA-256 digest, never their text, under the relation's position (``rel0:…``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

import polars as pl

from connectors.tabular.exprs import INTEGRAL_FLOAT, damage_reason
from discover.identifiers import Identifier, try_normalise

DAMAGED_IMEI = "imei~"


def relation_key(position: int, value: str) -> str:
    """The stored key of a relation's value (a digest: the value itself is not kept)."""
    return f"rel{position}:{hashlib.sha256(value.encode('utf-8')).hexdigest()[:32]}"


def value_key(kind: str, text: str, *, typed: bool) -> str | None:
    """The key one stored value is found under (None: it is never found)."""
    damage = damage_reason(kind, text, typed=typed)
    if damage is not None:
        if damage[1]:  # reported in bulk for the whole column, never per row
            return None
        # the digits as damage_reason reads them (a 14-digit IMEI)
        digits = re.sub(r"[\s\-./]", "", re.sub(INTEGRAL_FLOAT, r"\1", text.strip()))
        return f"{DAMAGED_IMEI}:{digits}"
    normalised = try_normalise(kind, text)
    return None if normalised is None else f"{kind}:{normalised}"


def keyed(frame: pl.DataFrame, column: str, kind: str, *, typed: bool) -> pl.DataFrame:
    """``key`` and ``row`` for every value of ``column`` (``__index`` the row index).

    The normaliser runs once per distinct value, the mapping back to rows in polars.
    """
    values = frame.select(pl.col("__index"), pl.col(column)).drop_nulls(column)
    table = {
        text: value_key(kind, text, typed=typed)
        for text in values.get_column(column).unique().to_list()
    }
    return (
        values.select(
            pl.col(column).replace_strict(table, default=None, return_dtype=pl.String).alias("key"),
            pl.col("__index").cast(pl.Int64).alias("row"),
        )
        .drop_nulls("key")
        .unique()
    )


def related(frame: pl.DataFrame, column: str, position: int) -> pl.DataFrame:
    """``key`` and ``row`` for the relation values in ``column``."""
    values = frame.select(pl.col("__index"), pl.col(column)).drop_nulls(column)
    table = {
        text: relation_key(position, text) for text in values.get_column(column).unique().to_list()
    }
    return values.select(
        pl.col(column).replace_strict(table, return_dtype=pl.String).alias("key"),
        pl.col("__index").cast(pl.Int64).alias("row"),
    )


def wanted_keys(identifiers: Collection[Identifier]) -> list[str]:
    """The keys to look up for ``identifiers``."""
    keys = set()
    for identifier in identifiers:
        keys.add(f"{identifier.type}:{identifier.value}")
        if identifier.type == "imei":
            keys.add(f"{DAMAGED_IMEI}:{identifier.value[:14]}")
            if identifier.value.startswith("0"):
                keys.add(f"{DAMAGED_IMEI}:{identifier.value[1:]}")
    return sorted(keys)
