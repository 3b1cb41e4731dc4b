"""The covering letter (``letter.html``): the first layer of every package.

A private person opens the letter first: one A4 page in plain words saying what we
searched for, what we found (one line per category), what is withheld or left out
and why, which organisation answers for which part, the rights, the complaint to the
supervisory authority and the deadline. It is rendered from the same document the
JSON and the spreadsheet carry (the package metadata), so the layers never disagree.
Plain HTML with inline CSS, no scripts and no external resources: it opens in any
browser, offline, and prints on A4. Jinja2 escapes every value.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import jinja2

from exporters.content import labels

LETTER_FILE = "letter.html"


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("exporters", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("letter.html.j2")


def letter_html(
    metadata: dict[str, Any], *, kind: str, language: str, files: Sequence[str]
) -> bytes:
    """The letter for a package, from its metadata document (access or portability)."""
    words = labels()["letter"]
    text = {key: value[language] for key, value in words.items()}
    request = metadata["request"]
    info = metadata["information"]
    if kind == "access":
        withheld = metadata["withheld"]
        redacted = len(metadata["redacted"]["fields"])
        masked = len(metadata["masked"]["fields"])
        reasons = metadata["left_out"]["reasons"]
    else:
        withheld = metadata["withheld_explanation"]
        redacted = sum(1 for w in metadata["withheld"] if w["reason"] == "third_party")
        masked = 0
        reasons = []
    kinds = {w.get("secret", "system") for w in withheld["fields"]}
    html = _template().render(
        t=text,
        kind=kind,
        language=language,
        title=metadata["title"],
        generated_at=metadata["generated_at"],
        request=request,
        info=info,
        categories=metadata["categories"],
        notices=metadata.get("statement_notices", []),
        withheld=withheld,
        withheld_kinds=kinds,
        redacted=redacted,
        masked=masked,
        reasons=reasons,
        left_out_counts=metadata["left_out"] if kind == "portability" else {},
        files=[f for f in files if f != LETTER_FILE],
        files_missing=metadata.get("files_not_included", {}).get("explanation", ""),
        readme=labels()["readme_file"][language],
    )
    return html.encode("utf-8")
