"""The report lines of a shard that ended without handing them over.

A shard's task can fail, its process die or its result not come in time after its
worker had finished some of its requests. Those requests have their case and their
package, and a rerun skips them: the report must say so rather than fail them with
the shard, and the progress must end at the report's counts.

What a request left in the output directory decides its line, as a rerun would see
it: a verified package under a marker of the request's fingerprint is done; a case
the worker reported incomplete keeps that status, its reasons and (when only an
identifier was rejected) its package; every other request failed with the shard's
error and is searched again by a rerun. Workers name the requests they finished by
their line in the requests file, never by an identifier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from discover.batch.layout import Layout, completed
from discover.batch.requests import BatchItem
from discover.batch.shard import (
    ShardSpec,
    outcome,
    read_summary,
    rejected_reasons,
    search_gaps,
)
from discover.errors import DiscoverError
from exporters.export import package_name
from exporters.package import MANIFEST, sha256_file, verify_package


def ended_shard_lines(
    spec: ShardSpec, finished: Mapping[int, str], error: str
) -> list[dict[str, Any]]:
    """One line per request of a shard that ended without its report, in order.

    ``finished`` is what the shard's worker reported (line in the requests file →
    status); a request it finished that the coordinator did not hear of yet is still
    found done by its package.
    """
    layout = Layout(Path(spec.out))
    return [
        _kept(layout, spec, document, finished.get(document["line"]))
        or outcome(document, spec.index, "failed", error=error)
        for document in spec.items
    ]


def _kept(
    layout: Layout, spec: ShardSpec, document: dict[str, Any], reported: str | None
) -> dict[str, Any] | None:
    """The line of a request the shard finished before it ended, or None."""
    request_id = (document.get("request") or {}).get("request_id")
    fingerprint = document.get("fingerprint")
    if not request_id or not fingerprint:
        return None
    done = completed(layout, request_id, fingerprint)
    if done is not None:
        return outcome(
            document,
            spec.index,
            "done" if done.run_id == spec.run_id else "skipped",
            layout=layout,
            summary=read_summary(layout, request_id),
            package=done.package,
            package_sha256=done.package_sha256,
        )
    if reported != "incomplete":
        return None
    return _incomplete(layout, spec, document)


def _incomplete(layout: Layout, spec: ShardSpec, document: dict[str, Any]) -> dict[str, Any] | None:
    """The line of a request whose case was written incomplete (see ``shard._write``)."""
    try:
        item = BatchItem.from_document(document)
    except DiscoverError:
        return None
    summary = read_summary(layout, item.request_id)
    if summary is None or summary.get("request_id") != item.request_id:
        return None
    rejected = rejected_reasons(item.request)
    gaps = search_gaps(summary)
    package = checksum = None
    if not gaps:  # only an identifier was rejected: the package is written and names it
        request = item.request
        path = layout.packages / package_name(item.request_id, request.kind, request.controller)
        if not verify_package(path):
            package, checksum = path, sha256_file(path / MANIFEST)
    return outcome(
        item,
        spec.index,
        "incomplete",
        error="; ".join(rejected + gaps) or "incomplete search",
        layout=layout,
        summary=summary,
        package=package,
        package_sha256=checksum,
    )


def progress_correction(
    counted: Mapping[str, int], lines: Iterable[dict[str, Any]]
) -> dict[str, int]:
    """What to add to a shard's requests counted per status so that they are its report's.

    Negative for a status the progress counted more often than the report gives it (a
    request its worker reported done whose package is not there); the sum is the
    number of the shard's requests not counted yet, so the progress never passes the
    total.
    """
    final = Counter(line["status"] for line in lines)
    return {
        status: final[status] - counted.get(status, 0)
        for status in sorted({*final, *counted})
        if final[status] != counted.get(status, 0)
    }
