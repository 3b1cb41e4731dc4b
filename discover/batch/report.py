"""The batch report: one line per request of the requests file, as JSON and as a table.

``DIR/batch-report.json`` is rewritten (atomically) by every run of the batch, so it
always describes the state of the whole output directory after the last run:
requests done by this run, requests skipped because an earlier run finished them,
and the ones that are incomplete, failed or invalid, each with its reason.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from rich.markup import escape
from rich.table import Table

from discover.batch.layout import Layout
from discover.batch.requests import BatchInput
from discover.files import write_json

REPORT_VERSION = 1
#: statuses that mean "this request's package is there and verified"
COMPLETE = frozenset({"done", "skipped"})


def build_report(
    *,
    batch_id: str,
    run_id: str,
    batch_input: BatchInput,
    lines: list[dict[str, Any]],
    sources_path: str,
    layout: Layout,
    settings: dict[str, Any],
    started: datetime,
    finished: datetime,
) -> dict[str, Any]:
    """The report document (plain JSON)."""
    by_line = {line["line"]: line for line in lines}
    for row in batch_input.invalid:
        by_line[row.line] = {
            "line": row.line,
            "request_id": row.request_id,
            "shard": None,
            "status": "invalid",
            "hits": {},
            "hits_total": 0,
            "failed_sources": {},
            "case": None,
            "package": None,
            "package_sha256": None,
            "error": row.error,
        }
    requests = [by_line[number] for number in sorted(by_line)]
    totals = Counter(line["status"] for line in requests)
    hits = Counter()
    for line in requests:
        hits.update(line.get("hits", {}))
    return {
        "report_version": REPORT_VERSION,
        "batch_id": batch_id,
        "run_id": run_id,
        "requests_file": str(batch_input.path),
        "sources_file": sources_path,
        "out": str(layout.root),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "seconds": round((finished - started).total_seconds(), 3),
        "settings": settings,
        "totals": {
            "requests": len(requests),
            **{status: totals.get(status, 0) for status in sorted(totals)},
            "complete": sum(totals.get(s, 0) for s in COMPLETE),
        },
        "hits_per_source": dict(sorted(hits.items())),
        "requests": requests,
    }


def write_report(layout: Layout, report: dict[str, Any]) -> None:
    write_json(layout.report, report)


_STYLES = {
    "done": "green",
    "skipped": "cyan",
    "incomplete": "yellow",
    "failed": "bold red",
    "invalid": "bold red",
}


def report_table(report: dict[str, Any], *, problems_only: bool = False) -> Table:
    """Per request: line, id, status, hits per source, package and checksum, error."""
    table = Table(title="Batch", title_justify="left")
    for column in ("line", "request", "status", "hits per source", "package", "sha256", "error"):
        table.add_column(column, justify="right" if column == "line" else "left")
    for line in report["requests"]:
        if problems_only and line["status"] in COMPLETE:
            continue
        status = line["status"]
        hits = ", ".join(f"{name} {count}" for name, count in sorted(line["hits"].items()))
        table.add_row(
            str(line["line"]),
            escape(line.get("request_id") or "-"),
            f"[{_STYLES.get(status, '')}]{status}[/]",
            escape(hits or "-"),
            escape(line.get("package") or "-"),
            (line.get("package_sha256") or "-")[:12],
            escape(line.get("error") or ""),
        )
    return table


def totals_text(report: dict[str, Any]) -> str:
    totals = report["totals"]
    parts = [
        f"{totals.get(status, 0)} {status}"
        for status in ("done", "skipped", "incomplete", "failed", "invalid")
        if totals.get(status)
    ]
    return (
        f"{totals['requests']} requests: {', '.join(parts) or 'none'}; "
        f"{report['seconds']:.1f} s; report: {escape(str(report['out']))}/batch-report.json"
    )
