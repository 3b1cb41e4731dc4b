"""polars's memory allocator, told to give freed memory back to the system at once.

polars allocates through jemalloc, which by default keeps freed pages for about ten
seconds so that it can reuse them without asking the system again. A command's steps
are short and their peaks come one after another (a log read and its index built, its
frame dropped; the next source), so pages kept from one step add to the next one's:
building the index of a 1,000,000-row roaming log peaked at 460 MB, and at 290 MB with
freed pages given back, in the same time. jemalloc reads its settings once, when
polars loads: the console script sets them before anything imports polars. A value
already in the environment is left as it is, for whoever tunes it on purpose.
"""

from __future__ import annotations

import os

#: the environment variable polars's jemalloc reads its settings from
VARIABLE = "_RJEM_MALLOC_CONF"
#: freed pages go back to the system immediately, not after a delay
GIVE_BACK_AT_ONCE = "dirty_decay_ms:0,muzzy_decay_ms:0"


def configure() -> None:
    """Set :data:`GIVE_BACK_AT_ONCE` for this process (and the processes it starts),
    unless the environment already says something."""
    os.environ.setdefault(VARIABLE, GIVE_BACK_AT_ONCE)
