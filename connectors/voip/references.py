"""Which file a configuration's reference (a phonebook URL, a config part) names.

A reference is a URL or path whose last part names a file (``http://prov/acme/
phonebook.xml``); the URL's path need not be the file's place in the directory. So
the file is found by its name: the one file of that name, else the one in the
referring configuration's own directory, else the one whose path ends the URL's path,
else the one under the same top directory; a name that still fits several files is
not followed (the configuration gets a warning).

Every client directory of a provider may hold a ``phonebook.xml`` that all of the
client's handsets refer to: tens of thousands of references to one name with
thousands of files. :class:`Resolver` answers each from dictionaries built once per
name, where a comparison with every file of the name cost minutes; and the persistent
index (:mod:`connectors.voip.store`) resolves with it too, so that a search reads the
files a reference really joins, not every file of the same name.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from connectors.voip.parsers import ParsedConfig


def written_references(config: ParsedConfig) -> Iterator[str]:
    """The references a configuration writes (its format's reference keys, a value
    holding several separated by commas or white space), as written."""
    for key in config.format.reference_keys(config.keys):
        for target in re.split(r"[,\s]+", config.keys.get(key, "")):
            if target:
                yield target


def target_path(target: str) -> str:
    """The path a reference names: a URL's path, or the text itself."""
    return unquote(urlsplit(target).path if "://" in target else target)


def target_name(path: str) -> str:
    """The file name a reference's path ends in, lower-cased (as files are looked up)."""
    return PurePosixPath(path).name.lower()


def parent_directory(relpath: str) -> str:
    """The directory of a file, as a reference's resolution compares it (``.`` at the top)."""
    return str(PurePosixPath(relpath).parent)


@dataclass(slots=True)
class _Named:
    """The files of one name, arranged for the resolution's rules."""

    files: list[str]
    by_directory: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    by_top: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    by_lowered: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, files: Sequence[str]) -> _Named:
        named = cls(list(files))
        for relpath in named.files:
            named.by_directory[parent_directory(relpath)].append(relpath)
            named.by_top[relpath.split("/", 1)[0]].append(relpath)
            named.by_lowered[relpath.lower()].append(relpath)
        return named


class Resolver:
    """Resolves references against the files of the names they use.

    ``by_name``: lower-cased file name -> the readable files of that name (their paths
    relative to the directory; no embedded part), in listing order. A build of part of
    a directory must be given the names of the whole directory, so that it resolves
    each reference as a build of all of it does.
    """

    def __init__(self, by_name: Mapping[str, Sequence[str]]) -> None:
        self._by_name = by_name
        self._named: dict[str, _Named] = {}

    def resolve(self, target: str, referrer: str) -> tuple[str | None, int]:
        """The file ``target`` (as written in ``referrer``) names, and how many files
        of its name there are (a reference to a name several files fit, that no rule
        narrows to one, resolves to None with that count)."""
        if not target:
            return None, 0
        path = target_path(target)
        name = target_name(path)
        candidates = self._by_name.get(name, ())
        if len(candidates) <= 1:
            return (candidates[0] if candidates else None), len(candidates)
        named = self._named.get(name)
        if named is None:
            named = self._named[name] = _Named.of(candidates)
        same_directory = named.by_directory.get(parent_directory(referrer), ())
        if len(same_directory) == 1:
            return same_directory[0], len(candidates)
        lowered = path.lower()
        tail = [
            relpath
            for position, character in enumerate(lowered)
            if character == "/"
            for relpath in named.by_lowered.get(lowered[position + 1 :], ())
        ]
        if len(tail) == 1:
            return tail[0], len(candidates)
        same_top = named.by_top.get(referrer.split("/", 1)[0], ())
        if len(same_top) == 1:
            return same_top[0], len(candidates)
        return None, len(candidates)


def names_of(relpaths: Iterable[str]) -> dict[str, list[str]]:
    """Lower-cased file name -> the files of that name, in the order given."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for relpath in relpaths:
        if "#" not in relpath:
            by_name[target_name(relpath)].append(relpath)
    return dict(by_name)
