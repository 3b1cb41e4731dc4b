"""The Celery app that runs batch shards on workers.

Start workers on every machine that can reach the sources and the shared output
directory::

    export DISCOVER_BROKER_URL=redis://127.0.0.1:6379/0
    celery -A discover.batch.celery_app worker --loglevel=info --concurrency=2

``discover batch … --executor celery`` then sends one task per shard to the queue.
Settings come from the environment, the same on workers and on the machine that
starts the batch:

* ``DISCOVER_BROKER_URL`` (default ``redis://127.0.0.1:6379/0``): broker;
* ``DISCOVER_RESULT_BACKEND`` (default: the broker URL): where results are kept;
* ``DISCOVER_QUEUE`` (default ``discover-batch``): the queue the workers consume;
* ``DISCOVER_KEY_PREFIX`` (default ``discover:``): prefix of every Redis key, so that
  several installations (or test runs) can share one Redis;
* ``DISCOVER_VISIBILITY_TIMEOUT`` (default 3600 s): how long a task taken by a worker
  that vanished (killed with its whole machine) stays invisible before it is
  delivered again. Must exceed the longest shard.

Importing this module first tells polars's allocator to give freed memory back at
once, as the ``discover`` command does (:mod:`discover.allocator`), unless the
environment sets a decay of its own. jemalloc reads that setting once, when polars
loads, and the shard task's modules load polars: so it is applied here, before they
are imported, and not in a worker signal (``celeryd_init``, the earliest, is sent
after Celery imported this module, polars with it). Nothing before this point loads
polars (:mod:`discover` and :mod:`discover.batch` import their modules when first
named). The pool processes that run the shards are forked from the worker's main
process after that and keep its allocator settings.

How the shards are run, and delivered "at least once", is in
:mod:`discover.batch.tasks`.
"""

from __future__ import annotations

from discover import allocator

allocator.configure()  # before polars loads, which the imports below do

from discover.batch.broker import CelerySettings  # noqa: E402
from discover.batch.tasks import make_app  # noqa: E402

__all__ = ["app", "make_app"]

#: the app ``celery -A discover.batch.celery_app worker`` runs
app = make_app(CelerySettings.from_env())
