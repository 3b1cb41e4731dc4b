"""Accuracy harness: does a search return the subject's records, all of them, and nobody else's?

Generates an estate across every kind of source with the exact truth of whose
record is whose (``accuracy_estate``, mappings written as a site engineer would in
``accuracy_mappings``), searches every subject — as one batch and one by one — and
prints recall and precision per source and overall:

* **precision**: of the records returned as the subject's (exact, normalised,
  expanded, related), the share that are the subject's (or, for a related record, the
  subject's own organisation's). ``possible`` records wait for review and are not
  counted;
* **recall**: of the subject's records that are *reachable* — held by an identifier
  of the subject that is the subject's alone, directly or along identifiers found in
  the subject's own records, or hanging from such a record by a declared relation —
  the share returned as the subject's.

What is reachable is computed from the estate's truth and the promised behaviour:
identifiers of an organisation (its switchboard, general number, general or role
mailbox) and identifiers held by person records of two different people never make a
record the subject's and are never followed; secrets never appear.

    python3 benchmarks/accuracy.py                 # 14 client organisations
    python3 benchmarks/accuracy.py --orgs 40 --seed 7

Exit code 0 when precision and recall are 1.000 and batch equals single searches.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.accuracy_estate import (  # noqa: E402
    ROLE_BOXES,
    Estate,
    Truth,
    Value,
    generate,
    phonebook_ref,
)
from benchmarks.accuracy_mappings import REF_FIELDS  # noqa: E402
from discover.engine import SearchResult, search, search_many  # noqa: E402
from discover.request import build_request  # noqa: E402
from discover.sources import load_sources  # noqa: E402

INCLUDED = ("exact", "normalised", "expanded", "related")
SECRET_MARKS = ("codeword-", "pw-")


@dataclass
class Tally:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    @property
    def precision(self) -> float:
        returned = self.true_positive + self.false_positive
        return self.true_positive / returned if returned else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positive + self.false_negative
        return self.true_positive / wanted if wanted else 1.0


@dataclass
class Report:
    per_source: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    overall: Tally = field(default_factory=Tally)
    mistakes: list[str] = field(default_factory=list)
    batch_differs: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    requests: int = 0
    incomplete: int = 0
    seconds: float = 0.0
    #: per source, the rows each single search read (after the batch built the indexes)
    warm_reads: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    #: per source, the records the estate holds in it
    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def perfect(self) -> bool:
        return (
            self.overall.precision == 1.0
            and self.overall.recall == 1.0
            and not self.batch_differs
            and not self.secrets
        )


# -- the truth: what a subject's search must return --------------------------------------------


class Truths:
    """The estate's truth, indexed for the reachability closure."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.holders: dict[Value, list[tuple[Truth, Any]]] = defaultdict(list)
        for record in estate.records.values():
            for holding in record.holdings:
                if holding.searchable:
                    self.holders[holding.value].append((record, holding))

    def classify(self, value: Value) -> str:
        """organisation, shared or personal, from the estate (never from discover)."""
        if value in self.estate.org_values:
            return "organisation"
        if value[0] == "email" and value[1].split("@")[0] in ROLE_BOXES:
            return "organisation"
        people = {
            owner
            for record, holding in self.holders.get(value, ())
            if record.entity == "person" and not holding.third_party
            for owner in record.owners
        }
        return "shared" if len(people) >= 2 else "personal"

    def reachable(self, person: str, given: list[Value]) -> set[str]:
        """The subject's records a search from ``given`` must return as the subject's."""
        searched = set(given)
        queue = list(given)
        matched: set[str] = set()
        while queue:
            value = queue.pop()
            if self.classify(value) != "personal":
                continue
            for record, holding in self.holders.get(value, ()):
                matched.add(record.ref)
                if holding.third_party:
                    continue  # the other party of a call: found, but not the subject's own
                for other in record.holdings:
                    if other.expands and not other.third_party and other.value not in searched:
                        searched.add(other.value)
                        queue.append(other.value)
        related = {
            child
            for ref in matched
            for child in self.estate.records[ref].children
            if child in self.estate.records
        }
        return {ref for ref in matched | related if person in self.estate.records[ref].owners}


# -- what a search returned ----------------------------------------------------------------------


def returned(result: SearchResult) -> dict[str, tuple[str, str]]:
    """ref -> (source, match) of every record in a result."""
    fields: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(dict)
    matches: dict[tuple[str, str, str], str] = {}
    for row in result.hits.to_pylist():
        ref = (row["source"], row["location"], row["record_key"])
        fields[ref][row["field"]] = row["value"]
        matches[ref] = row["match"]
    out: dict[str, tuple[str, str]] = {}
    for ref, values in fields.items():
        source = ref[0]
        name = values.get(REF_FIELDS[source])
        if name is None and source == "voip":
            name = phonebook_ref(str(values.get("name")), str(values.get("number")))
        out[str(name or f"?{ref}")] = (source, matches[ref])
    return out


def _comparable(result: SearchResult) -> list[dict[str, Any]]:
    rows = [{k: v for k, v in row.items() if k != "observed_at"} for row in result.hits.to_pylist()]
    return sorted(rows, key=lambda row: sorted((k, str(v)) for k, v in row.items()))


def measure(estate: Estate, *, singles: bool = True) -> Report:
    """Search every request of the estate (batch, and one by one) and score the results."""
    report = Report()
    truths = Truths(estate)
    sources = load_sources(estate.sources, environ={})
    requests = [
        build_request(r.identifiers, request_id=r.request_id, strict=False) for r in estate.requests
    ]
    started = time.perf_counter()
    results = search_many(requests, sources)
    report.seconds = time.perf_counter() - started
    for want, result in zip(estate.requests, results, strict=True):
        report.requests += 1
        report.incomplete += not result.complete
        person = estate.people[want.person]
        expected = truths.reachable(want.person, want.canonical)
        got = returned(result)
        for row in result.hits.to_pylist():
            text = row["value"] or ""
            if any(mark in text for mark in SECRET_MARKS):
                report.secrets.append(f"{want.request_id}: {row['source']} {row['field']}")
        for ref, (source, match) in sorted(got.items()):
            if match not in INCLUDED:
                continue
            truth = estate.records.get(ref)
            tally = report.per_source[source]
            if truth is None:
                ok = False
            elif want.person in truth.owners:
                ok = True
            else:  # the subject's own organisation's record, reached by a relation
                ok = not truth.owners and truth.org == person.org.key and match == "related"
                if ok:
                    continue  # neutral: neither the subject's nor someone else's
            if ok:
                tally.true_positive += 1
                report.overall.true_positive += 1
            else:
                tally.false_positive += 1
                report.overall.false_positive += 1
                report.mistakes.append(f"{want.request_id} ({want.person}): {ref} as {match}")
        for ref in sorted(expected):
            source_match = got.get(ref)
            if source_match is None or source_match[1] not in INCLUDED:
                source = estate.records[ref].source
                report.per_source[source].false_negative += 1
                report.overall.false_negative += 1
                shown = source_match[1] if source_match else "missing"
                report.mistakes.append(f"{want.request_id} ({want.person}): {ref} {shown}")
    if singles:
        for request, together in zip(requests, results, strict=True):
            alone = search(request, sources)
            if _comparable(alone) != _comparable(together):
                report.batch_differs.append(request.request_id)
            for status in alone.sources:
                report.warm_reads[status.name].append(status.rows_read)
        for truth in estate.records.values():
            report.held[truth.source] += 1
    return report


def render(report: Report) -> str:
    lines = [f"{'source':<12} {'records':>8} {'precision':>10} {'recall':>8}"]
    for source, tally in sorted(report.per_source.items()):
        count = tally.true_positive + tally.false_positive
        lines.append(f"{source:<12} {count:>8} {tally.precision:>10.3f} {tally.recall:>8.3f}")
    total = report.overall
    lines.append(
        f"{'overall':<12} {total.true_positive + total.false_positive:>8} "
        f"{total.precision:>10.3f} {total.recall:>8.3f}"
    )
    lines.append(
        f"{report.requests} requests ({report.incomplete} incomplete: rejected identifiers), "
        f"batch search {report.seconds:.1f} s; batch equals single searches: "
        f"{'yes' if not report.batch_differs else 'NO ' + ', '.join(report.batch_differs)}; "
        f"secrets in hits: {len(report.secrets)}"
    )
    lines.extend(f"  {mistake}" for mistake in report.mistakes[:40])
    if report.warm_reads:
        # a warm search reads what the indexes point to, not the source: a source whose
        # single searches read a large share of it has fallen back to reading it whole
        lines.append("rows read by one warm single search (median / most) of the records held:")
        lines.extend(
            f"  {source:<12} {statistics.median(reads):>6.0f} / {max(reads):<6} of "
            f"{report.held.get(source, 0)}"
            for source, reads in sorted(report.warm_reads.items())
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=14, help="client organisations (default 14)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="write the estate here and keep it")
    parser.add_argument("--no-singles", action="store_true", help="skip the single searches")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="discover-accuracy-") as scratch:
        root = args.keep or Path(scratch) / "estate"
        estate = generate(root, orgs=args.orgs, seed=args.seed)
        people = sum(1 for p in estate.people.values() if not p.left)
        print(f"estate: {len(estate.orgs)} organisations, {people} people, "
              f"{len(estate.records)} records in 9 sources ({root})")  # fmt: skip
        report = measure(estate, singles=not args.no_singles)
    print(render(report))
    return 0 if report.perfect else 1


if __name__ == "__main__":
    sys.exit(main())
