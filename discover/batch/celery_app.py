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

How the shards are run, and delivered "at least once", is in
:mod:`discover.batch.tasks`.
"""

from __future__ import annotations

from discover.batch.broker import CelerySettings
from discover.batch.tasks import make_app

__all__ = ["app", "make_app"]

#: the app ``celery -A discover.batch.celery_app worker`` runs
app = make_app(CelerySettings.from_env())
