"""Where the register lives, without opening it.

Kept apart from :mod:`discover.desk.store` (which loads SQLAlchemy) so that every
search, review and export can ask "is a register set up?" for the price of a stat.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "DISCOVER_DATA"
DB_ENV = "DISCOVER_DESK_DB"
DEFAULT_DATA = Path("discover-data")
STORE_FILE = "desk.sqlite"


def data_dir(given: Path | None = None) -> Path:
    """``--data DIR``, else ``$DISCOVER_DATA``, else ``./discover-data``."""
    if given is not None:
        return given
    from_env = os.environ.get(DATA_ENV)
    return Path(from_env) if from_env else DEFAULT_DATA


def desk_configured(data: Path | None = None) -> bool:
    """Whether a register is set up: a database URL, or a store in the data directory."""
    return bool(os.environ.get(DB_ENV)) or (data_dir(data) / STORE_FILE).is_file()
