"""Which files of a provisioning directory the mapping's include and exclude globs select.

A glob is matched against a file's path relative to the directory, case-insensitively:
``*`` and ``?`` within a name, ``**`` across directories (:func:`glob_pattern`).

Every search lists the whole directory, tens of thousands of files, so matching each
path against every glob would cost more than listing it. Most globs say something
about the file name only (``**/*.cfg``) or about the directory only
(``**/firmware/**``); :meth:`Selection.matcher` decides the directory part once per
directory and leaves one match of the file name, with the same result as matching
the whole path. A glob of any other shape is matched against the whole path, as it is
written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: a stand-in for a file name without a newline (``.*``, from ``**``, stops at one)
_NAME = "x"
#: a pattern matching any file name without a newline (what a directory glob's ``**``
#: leaves for the name: ``.`` does not match a newline)
_ANY_NAME = "[^\n]*"


def glob_pattern(glob: str) -> re.Pattern[str]:
    """A case-insensitive regex for a glob: ``*`` within a name, ``**`` across directories."""
    out: list[str] = []
    index = 0
    while index < len(glob):
        if glob.startswith("**/", index):
            out.append("(?:[^/]+/)*")
            index += 3
        elif glob.startswith("**", index):
            out.append(".*")
            index += 2
        elif glob[index] == "*":
            out.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(glob[index]))
            index += 1
    return re.compile("".join(out), re.IGNORECASE)


def any_of(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern matching any of ``globs`` (None for none): one match per path."""
    if not globs:
        return None
    return re.compile(
        "|".join(f"(?:{glob_pattern(glob).pattern})" for glob in globs), re.IGNORECASE
    )


def name_glob(glob: str) -> str | None:
    """The name pattern of ``**/<name>`` (no ``/`` in the name); None for another shape.

    ``(?:[^/]+/)*`` matches every directory part of a listed path (its names are never
    empty) and the name's pattern cannot match a ``/``, so the path matches exactly
    when its name does.
    """
    name = glob[3:]
    if not glob.startswith("**/") or "/" in name or "**" in name:
        return None
    return glob_pattern(name).pattern


def directory_glob(glob: str) -> re.Pattern[str] | None:
    """The path pattern of ``<directory>/**``; None for another shape.

    Its ``<directory>/`` can only match up to a ``/`` of the path, inside the directory
    part; the ``.*`` then matches the rest unless a newline is in it. So for every file
    name without a newline, the path matches exactly when ``<directory part> + "x"``
    does. (Checked on the patterns themselves: the glob's pattern must be the
    directory's followed by ``/.*``.)
    """
    if not glob.endswith("/**"):
        return None
    whole = glob_pattern(glob)
    if whole.pattern != glob_pattern(glob[:-3]).pattern + "/.*":
        return None
    return whole


class _Globs:
    """One side (include or exclude): its globs by shape."""

    def __init__(self, globs: tuple[str, ...]) -> None:
        self.names = [pattern for pattern in map(name_glob, globs) if pattern is not None]
        self.directories = [glob for glob in map(directory_glob, globs) if glob is not None]
        #: every glob is of one of those two shapes
        self.by_parts = len(self.names) + len(self.directories) == len(globs)

    def name_patterns(self, prefix: str) -> list[str]:
        """The name patterns that select a name in the directory ``prefix``."""
        if any(glob.fullmatch(prefix + _NAME) for glob in self.directories):
            return [*self.names, _ANY_NAME]
        return self.names


class Selection:
    """The include and exclude globs of a mapping, matched one directory at a time."""

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self._wanted = any_of(include)
        self._unwanted = any_of(exclude)
        self._include = _Globs(include)
        self._exclude = _Globs(exclude)
        self._by_parts = self._include.by_parts and self._exclude.by_parts
        self._compiled: dict[tuple[tuple[str, ...], tuple[str, ...]], Callable] = {}

    def selected(self, relpath: str) -> bool:
        """Whether the path matches an include glob and no exclude glob."""
        return (
            self._wanted is not None
            and self._wanted.fullmatch(relpath) is not None
            and (self._unwanted is None or self._unwanted.fullmatch(relpath) is None)
        )

    def matcher(self, prefix: str) -> Callable[[str], object]:
        """A test of a file name in the directory ``prefix`` (``""`` or ending in ``/``):
        true when ``prefix + name`` is :meth:`selected`.

        When every glob is a name or a directory glob, one pattern for the name,
        (``(?!exclude\\Z)include``); else the whole path is matched.
        """
        if not self._by_parts:
            return lambda name: self.selected(prefix + name)
        key = (
            tuple(self._include.name_patterns(prefix)),
            tuple(self._exclude.name_patterns(prefix)),
        )
        if key not in self._compiled:
            self._compiled[key] = _name_matcher(*key)
        return self._compiled[key]


def _name_matcher(include: tuple[str, ...], exclude: tuple[str, ...]) -> Callable:
    """``fullmatch`` of one pattern: a name matching an include and no exclude pattern."""
    if not include:
        return lambda _name: False
    wanted = "|".join(f"(?:{pattern})" for pattern in include)
    if exclude:
        unwanted = "|".join(f"(?:{pattern})" for pattern in exclude)
        wanted = f"(?!(?:{unwanted})\\Z)(?:{wanted})"
    return re.compile(wanted, re.IGNORECASE).fullmatch
