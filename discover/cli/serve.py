"""``discover serve``: the web console for privacy staff."""

from __future__ import annotations

from pathlib import Path

import click

from discover.desk.options import data_options


@click.command()
@data_options
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; only this machine unless told otherwise.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8470, show_default=True)
@click.option(
    "--sources",
    "sources_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Sources file searched from the console (default DIR/sources.yaml).",
)
def serve(
    data: Path | None, db_url: str | None, host: str, port: int, sources_file: Path | None
) -> None:
    """Serve the console: requests and deadlines, search, review, export, audit trail.

    Add users first with `discover users add`. The console speaks plain HTTP; put it
    behind a TLS proxy before binding it to anything but this machine.
    """
    import uvicorn

    from discover.desk.options import open_desk
    from discover.desk.web.app import create_app

    desk = open_desk(data, db_url)
    if not list(desk.users()):
        from discover.cli.output import console_err

        console_err().print(
            "[yellow]warning:[/] nobody can log in yet: add a user with "
            "`discover users add NAME --role officer --password-env VAR`"
        )
    app = create_app(desk, sources_file=sources_file)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=True, server_header=False)
