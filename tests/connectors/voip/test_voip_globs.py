"""The include and exclude globs matched one directory at a time select exactly what
matching every whole path selects, for names and directories that trip a shortcut."""

from __future__ import annotations

import itertools

from connectors.voip.globs import Selection, directory_glob, name_glob

GLOBS = (
    "**/*.cfg",
    "**/*.XML",
    "**/*-app.log",
    "**/firmware/**",
    "**/logs/**",
    "acme/**",
    "**",
    "*.cfg",
    "acme/*.cfg",
    "**/?.cfg",
    "**/**",
    "*/**",
    "**/*\n*",
)
PREFIXES = ("", "acme/", "acme/firmware/", "ACME/Firmware/x/", "logs/", "fw\nx/", "a/logs/b/")
NAMES = ("a.cfg", "B.CFG", "x.xml", "z-app.log", "n\nl.cfg", "n\n", "readme", "\u017f.cfg", "k.cfg")


def _cases() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    singles = [(glob,) for glob in GLOBS]
    pairs = list(itertools.combinations(GLOBS, 2))
    return [(include, exclude) for include in [(), *singles, *pairs] for exclude in [(), *singles]]


def test_a_directory_at_a_time_selects_what_the_whole_path_selects() -> None:
    for include, exclude in _cases():
        selection = Selection(include, exclude)
        for prefix in PREFIXES:
            matcher = selection.matcher(prefix)
            for name in NAMES:
                expected = selection.selected(prefix + name)
                assert bool(matcher(name)) == expected, (include, exclude, prefix, name)


def test_the_shapes_taken_apart() -> None:
    assert name_glob("**/*.cfg") is not None and name_glob("acme/*.cfg") is None
    assert name_glob("**/a/*.cfg") is None and name_glob("**/**") is None
    assert directory_glob("**/firmware/**") is not None and directory_glob("acme/**") is not None
    assert directory_glob("**/**") is None and directory_glob("**/*.cfg") is None
