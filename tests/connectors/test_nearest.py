"""Names that exist, nearest first: what the errors of the live check show."""

from __future__ import annotations

from connectors.nearest import listing, nearest_first


def test_the_nearest_name_comes_first() -> None:
    present = ["id", "email", "mobile", "job_title", "created_at"]
    assert nearest_first(["mobiel"], present)[0] == "mobile"
    assert nearest_first(["E-Mail"], present)[0] == "email"


def test_a_listing_is_cut_and_says_how_many_more() -> None:
    present = [f"column_{n}" for n in range(20)]
    text = listing(["column_7"], present, shown=3)
    assert text.startswith("'column_7', ")
    assert text.endswith("(+17 more)")
    assert listing(["x"], []) == "(none)"
