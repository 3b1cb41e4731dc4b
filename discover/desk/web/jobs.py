"""Searches run as background jobs so that the page can show their progress live.

One worker thread: searches from the console run one after another, like a privacy
officer would run them by hand, and never starve the server of threads. A job keeps
only counts and source names, never an identifier or a value.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class Job:
    """A search's state as the progress page polls it."""

    job_id: str
    request_id: str
    user: str
    state: str = "queued"  # queued, running, done, failed
    source: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    complete: bool | None = None
    records: int = 0
    needs_review: int = 0

    def to_document(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "source": self.source,
            "done": self.done,
            "total": self.total,
            "message": self.message,
            "complete": self.complete,
            "records": self.records,
            "needs_review": self.needs_review,
        }


@dataclass(slots=True)
class Jobs:
    _jobs: dict[str, Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="search")
    )

    def start(
        self, request_id: str, user: str, work: Callable[[Job, Progress], dict[str, Any]]
    ) -> Job:
        """Queue ``work(job, progress)``; it returns the case summary."""
        job = Job(secrets.token_urlsafe(12), request_id, user)
        with self._lock:
            self._jobs[job.job_id] = job

        def progress(name: str, position: int, total: int) -> None:
            job.source, job.done, job.total = name, position, total

        def run() -> None:
            job.state = "running"
            try:
                summary = work(job, progress)
            except Exception as exc:  # shown on the page; the log names only the type
                log.warning("search job for %s failed: %s", request_id, type(exc).__name__)
                job.state, job.message = "failed", str(exc)
                return
            totals = summary.get("totals", {})
            job.complete = bool(summary.get("complete"))
            job.records = int(totals.get("records", 0))
            job.needs_review = int(totals.get("needs_review", 0))
            job.done = job.total
            job.state = "done"

        self._pool.submit(run)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
