"""The SQL a search sends for one table, replayed against the hand-written statement.

A whole search of a source does more than its statements: it loads the mapping,
connects, reads the table's fingerprint and turns the rows into records with their
provenance. With a plain index on the searched columns the database answers in about a
millisecond, so the search's own time says little about its SQL. This measures the SQL
alone: it runs one search of the sources file (warm: the column profiles are expected
in ``$DISCOVER_CACHE_DIR``), keeps every statement that names ``--table``, then replays
them and the hand-written statement on one open connection of the search's own engine
(so SQLite functions it registers are there), each executed and fetched whole, best of
``--repeat``. It prints one JSON object: the statements, their time, the hand-written
time and the ratio.

    python3 benchmarks/sql_replay.py --sources S.yaml --table cdr \\
        --email E --phone P --hand "SELECT * FROM cdr WHERE calling_number IN (?)" \\
        --hand-params '["316…"]'

``bench_estate.py`` runs it for the call records, with and without an index.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def capture(sources_file: Path, identifiers: list[tuple[str, str]], table: str) -> tuple[Any, list]:
    """One search; the engine and the statements (text, parameters) naming ``table``."""
    import sqlalchemy as sa
    from sqlalchemy import event

    from discover import engine as search_engine
    from discover.request import build_request
    from discover.sources import load_sources

    naming = re.compile(rf"\b{re.escape(table)}\b")
    statements: list[tuple[str, Any]] = []
    engines: list[Any] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if naming.search(statement):
            statements.append((statement, parameters))
            if not engines:
                engines.append(conn.engine)

    event.listen(sa.engine.Engine, "before_cursor_execute", before)
    request = build_request(
        identifiers, places=[f"--{kind}" for kind, _ in identifiers], file="benchmark"
    )
    result = search_engine.search(request, load_sources(sources_file))
    event.remove(sa.engine.Engine, "before_cursor_execute", before)
    if result.failed_sources or not engines:
        raise SystemExit(f"the search failed or sent nothing for {table}")
    return engines[0], statements


def replay(raw: Any, statements: list[tuple[str, Any]]) -> float:
    """Seconds to execute and fetch every statement, one after the other."""
    started = time.perf_counter()
    for statement, parameters in statements:
        cursor = raw.cursor()
        cursor.execute(statement, parameters)
        cursor.fetchall()
        cursor.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--phone", required=True)
    parser.add_argument("--hand", required=True, help="the hand-written statement")
    parser.add_argument("--hand-params", default="[]", help="its parameters, as JSON")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    engine, statements = capture(
        args.sources, [("email", args.email), ("phone", args.phone)], args.table
    )
    hand = [(args.hand, tuple(json.loads(args.hand_params)))]
    raw = engine.raw_connection()
    try:
        replay(raw, statements)  # the pages in the cache, as for the hand-written one
        searched = min(replay(raw, statements) for _ in range(args.repeat))
        written = min(replay(raw, hand) for _ in range(args.repeat))
    finally:
        raw.close()
    print(
        json.dumps(
            {
                "statements": [" ".join(s.split())[:300] for s, _ in statements],
                "search_seconds": searched,
                "hand_seconds": written,
                "ratio": searched / written,
            }
        )
    )


if __name__ == "__main__":
    main()
