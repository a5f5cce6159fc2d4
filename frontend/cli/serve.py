"""`copymark init` and `copymark serve`: set up this installation's data, then serve the app."""

from __future__ import annotations

from typing import Annotated

import typer

from frontend.cli.output import stderr
from frontend.cli.wiring import services


def init() -> None:
    """Create the data folder, the database and the log signing key."""
    wiring = services()
    wiring.initialise()
    stderr.print(f"initialised {wiring.settings.home.resolve()}")


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="load demo accounts and works first")
    ] = False,
) -> None:
    """Serve the web app and the JSON API."""
    # Deferred: uvicorn and the FastAPI app are only needed to serve.
    import uvicorn

    from frontend.app import create_app

    wiring = services()
    wiring.initialise()
    if demo:
        from frontend.demo import load_demo

        load_demo(wiring, progress_console=stderr)
    uvicorn.run(create_app(services=wiring), host=host, port=port)
