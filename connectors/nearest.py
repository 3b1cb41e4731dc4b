"""What was read, nearest first: for errors that show the names a source does have.

A mapping that names a column the source lacks is usually a near miss (``mobiel`` for
``mobile``, a header read from the wrong row). The message lists what exists, the
closest names first (difflib's ratio on case-folded text), so the fix is visible.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: names listed at most in one message
SHOWN = 12


def nearest_first(wanted: Iterable[str], present: Iterable[str]) -> list[str]:
    """``present`` ordered by how close each is to any of ``wanted`` (closest first)."""
    targets = [w.casefold() for w in wanted]
    names = list(dict.fromkeys(p for p in present if p))

    def score(name: str) -> float:
        folded = name.casefold()
        return max((difflib.SequenceMatcher(None, t, folded).ratio() for t in targets), default=0)

    return sorted(names, key=lambda name: -score(name))


def listing(wanted: Iterable[str], present: Iterable[str], *, shown: int = SHOWN) -> str:
    """``'mobile', 'email', … (+3 more)``: the names present, nearest to ``wanted`` first."""
    ordered = nearest_first(list(wanted), present)
    if not ordered:
        return "(none)"
    text = ", ".join(repr(name) for name in ordered[:shown])
    return text + (f" (+{len(ordered) - shown} more)" if len(ordered) > shown else "")
