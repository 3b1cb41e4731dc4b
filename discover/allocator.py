"""polars's memory allocator, told to give freed memory back to the system at once.

polars allocates through jemalloc, which by default keeps freed pages for about ten
seconds so that it can reuse them without asking the system again. A command's steps
are short and their peaks come one after another (a log read and its index built, its
frame dropped; the next source), so pages kept from one step add to the next one's:
building the index of a 1,000,000-row roaming log peaked at 460 MB, and at 290 MB with
freed pages given back, in the same time. jemalloc reads its settings once, when
polars loads: the console script and the Celery worker's app module
(:mod:`discover.batch.celery_app`) set them before anything imports polars.

polars writes its own defaults into the same variable when it loads, so a command
started by a process that uses polars (the desk, a benchmark, a test) finds them there;
those are taken as unset. A decay someone chose is left as it is.
"""

from __future__ import annotations

import os

#: the environment variable polars's jemalloc reads its settings from
VARIABLE = "_RJEM_MALLOC_CONF"
#: freed pages go back to the system immediately, not after a delay
GIVE_BACK_AT_ONCE = "dirty_decay_ms:0,muzzy_decay_ms:0"
#: what polars itself puts in the variable when it loads (and its children inherit)
POLARS_DEFAULTS = {"dirty_decay_ms": "500", "muzzy_decay_ms": "1000"}


def configure() -> None:
    """Give freed memory back at once in this process (and the processes it starts),
    unless the environment already sets a decay of its own choosing.

    jemalloc takes the last value of a setting, and polars puts what it finds after its
    defaults, so :data:`GIVE_BACK_AT_ONCE` is appended to what is there.
    """
    current = os.environ.get(VARIABLE, "")
    settings = dict(item.split(":", 1) for item in current.split(",") if ":" in item)
    chosen = {
        key: value
        for key, value in settings.items()
        if key in POLARS_DEFAULTS and value != POLARS_DEFAULTS[key]
    }
    if chosen:
        return
    os.environ[VARIABLE] = ",".join(part for part in (current, GIVE_BACK_AT_ONCE) if part)
