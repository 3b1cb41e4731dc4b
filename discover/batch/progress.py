"""Progress of a batch on stderr: one bar for the requests, one per source.

Shards report plain-dict events (see :func:`discover.batch.shard.run_shard`); this
module turns them into rich progress bars with counts and rates. The requests bar
counts requests finished (done, skipped, incomplete, failed, invalid) against the
total, with requests per second and the time left; each source's bar counts the
identifiers it was scanned for, the records and rows it returned, and identifiers
per second. Events carry counts only, never identifier values.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

STATUSES = ("done", "skipped", "incomplete", "failed", "invalid")


class _CountColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        if task.fields.get("kind") == "requests":
            return Text(f"{int(task.completed):,}/{int(task.total or 0):,} requests")
        return Text(
            f"{int(task.completed):,} ids · {task.fields.get('records', 0):,} records · "
            f"{task.fields.get('rows', 0):,} rows · {task.fields.get('scans', 0)} scans"
        )


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        unit = "requests" if task.fields.get("kind") == "requests" else "ids"
        speed = task.finished_speed or task.speed
        if not speed:
            elapsed = task.elapsed or 0
            speed = task.completed / elapsed if elapsed > 0 else 0
        return Text(f"{speed:,.1f} {unit}/s", style="progress.data.speed")


class BatchProgress:
    """Rich progress bars fed by shard events; thread-safe."""

    def __init__(self, total: int, *, console: Console, enabled: bool = True) -> None:
        self.total = total
        self.enabled = enabled
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            _CountColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._requests = self._progress.add_task(
            self._describe(), total=total, kind="requests", start=True
        )
        self._sources: dict[str, TaskID] = {}

    def _describe(self) -> str:
        parts = [f"{name} {self.statuses[name]}" for name in STATUSES if self.statuses[name]]
        return "requests" + (f" ({', '.join(parts)})" if parts else "")

    def _source(self, name: str) -> TaskID:
        task = self._sources.get(name)
        if task is None:
            task = self._progress.add_task(
                f"  {name}", total=None, kind="source", records=0, rows=0, scans=0
            )
            self._sources[name] = task
        return task

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "request":
            self.statuses[event.get("status", "done")] += 1
            self._progress.update(self._requests, advance=1, description=self._describe())
        elif kind == "requests":
            # several at once: a remote worker's counters, or the correction that brings
            # a shard which broke off to its report's counts (negative for a status
            # counted more often than the report gives it)
            for status, count in event.get("counts", {}).items():
                self.statuses[status] += count
            advance = sum(event.get("counts", {}).values())
            self._progress.update(self._requests, advance=advance, description=self._describe())
        elif kind == "scan_started":
            task = self._source(event["source"])
            self._progress.update(
                task, description=f"  {event['source']} (scanning {event['identifiers']:,} ids)"
            )
        elif kind == "scan":
            task = self._source(event["source"])
            fields = self._progress.tasks[self._sources_index(task)].fields
            status = "" if event.get("ok", True) else " [red]failed[/]"
            self._progress.update(
                task,
                advance=event.get("identifiers", 0),
                description=f"  {event['source']}{status}",
                records=fields.get("records", 0) + event.get("records", 0),
                rows=fields.get("rows", 0) + event.get("rows", 0),
                scans=fields.get("scans", 0) + event.get("scans", 1),
            )
        elif kind == "retry":
            self._progress.console.print(
                f"[yellow]shard {event.get('shard')}: a source failed transiently; "
                f"retrying in {event.get('delay', 0):.1f} s[/]"
            )
        elif kind == "message":
            self._progress.console.print(escape(str(event.get("text", ""))))

    def _sources_index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self._progress.tasks) if t.id == task)

    def __enter__(self) -> BatchProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()
