"""Batch jobs: many subjects, one pass per source, resumable, locally or on Celery workers.

``discover batch REQUESTS --sources FILE --out DIR`` reads a requests file (CSV or
JSON Lines, :mod:`discover.batch.requests`), skips requests an earlier run finished,
cuts the rest into shards of subjects (:func:`plan_shards`), runs each shard as one
multi-subject search followed by one case and one package per request
(:mod:`discover.batch.shard`) on this machine (:mod:`discover.batch.local`) or on
Celery workers (:mod:`discover.batch.celery_app`, :mod:`discover.batch.tasks`,
:mod:`discover.batch.distributed`), and writes a report (:mod:`discover.batch.report`).

Importing this package loads none of them: the names below load their module when
first named. A Celery worker imports :mod:`discover.batch.celery_app` through this
package, and that module must set polars's allocator before anything loads polars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from discover.lazy_names import lazy_names

if TYPE_CHECKING:
    from discover.batch.requests import (
        BatchInput,
        BatchItem,
        InvalidRow,
        RequestDefaults,
        read_requests,
    )
    from discover.batch.runner import BatchOptions, plan_shards, run_batch

__all__ = [
    "BatchInput",
    "BatchItem",
    "BatchOptions",
    "InvalidRow",
    "RequestDefaults",
    "plan_shards",
    "read_requests",
    "run_batch",
]

__getattr__, __dir__ = lazy_names(
    globals(),
    {
        "discover.batch.requests": (
            "BatchInput",
            "BatchItem",
            "InvalidRow",
            "RequestDefaults",
            "read_requests",
        ),
        "discover.batch.runner": ("BatchOptions", "plan_shards", "run_batch"),
    },
)
