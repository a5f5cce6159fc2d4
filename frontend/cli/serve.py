"""`copymark init` and `copymark serve`: set up this installation's data, then serve the app."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer

from frontend.cli.output import fail, stderr
from frontend.cli.wiring import services

if TYPE_CHECKING:
    from frontend.cli.balancing import ShedWhenBusier
    from frontend.services import Services
    from frontend.settings import Settings
    from settlement.stripe.sandbox import LocalStripe

# `--workers` above one: uvicorn starts each process from this factory.
APP_FACTORY: Final = "frontend.cli.serve:create_balanced_app"
BALANCED_LOOP: Final = "frontend.cli.balancing:BalancedLoop"
MAX_WORKERS: Final = 16


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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_WORKERS,
            help="server processes; one of them runs the background work (about one per core)",
        ),
    ] = 1,
) -> None:
    """Serve the web app and the JSON API."""
    # Deferred: uvicorn and the FastAPI app are only needed to serve.
    import uvicorn

    from frontend.app import create_app

    wiring = services()
    sandbox = None
    if not wiring.settings.stripe_api_key and wiring.settings.environment == "development":
        wiring, sandbox = _with_stripe_sandbox(wiring, f"http://{host}:{port}")
    try:
        wiring.initialise()
        if demo:
            from frontend.demo import load_demo

            load_demo(wiring, progress_console=stderr)
        if workers == 1:
            uvicorn.run(create_app(services=wiring), host=host, port=port)
        else:
            # Each process builds its own app from the settings, which reach it as environment.
            os.environ.update(_as_environment(wiring.settings, shared_serving=True))
            _serve_processes(host, port, workers)
    finally:
        if sandbox is not None:
            sandbox.stop()


def create_balanced_app() -> ShedWhenBusier:
    """The app as each of several server processes serves it: it sheds connections to less busy
    siblings (`frontend.cli.balancing`)."""
    from frontend.app import create_app
    from frontend.cli.balancing import ShedWhenBusier

    return ShedWhenBusier(create_app())


def _serve_processes(host: str, port: int, workers: int) -> None:
    """Serve from `workers` processes under uvicorn's supervisor, sharing one listening socket
    and accepting by least connections (`frontend.cli.balancing`)."""
    import tempfile

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from frontend.cli.balancing import SharedPort

    # The app serves no WebSocket: a connection handed to another protocol would leave the
    # connection board without its end.
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop=BALANCED_LOOP,
        ws="none",
    )
    with tempfile.TemporaryDirectory(prefix="copymark-serve-") as scratch:
        try:
            shared = SharedPort.open(host, port, Path(scratch) / "connections", workers)
        except OSError as error:
            fail(f"cannot serve on {host}:{port}: {error.strerror or error}")
        with shared:
            stderr.print(f"serving http://{host}:{port} from {workers} processes")
            try:
                Multiprocess(config, sockets=[shared]).run()
            finally:
                shared.board.close()


def _as_environment(settings: Settings, *, shared_serving: bool) -> dict[str, str]:
    """The settings that a process started from this one needs, as COPYMARK_* variables."""
    return {
        "COPYMARK_HOME": str(settings.home.resolve()),
        "COPYMARK_STRIPE_API_KEY": settings.stripe_api_key,
        "COPYMARK_STRIPE_API_BASE": settings.stripe_api_base,
        "COPYMARK_STRIPE_WEBHOOK_SECRET": settings.stripe_webhook_secret,
        "COPYMARK_SHARED_SERVING": "1" if shared_serving else "0",
    }


def _with_stripe_sandbox(wiring: Services, base_url: str) -> tuple[Services, LocalStripe]:
    """Payments without Stripe keys: start the local sandbox and take its signed webhooks."""
    import secrets

    from frontend.services import Services
    from settlement.stripe.sandbox import SANDBOX_API_KEY, LocalStripe

    sandbox = LocalStripe.start()
    secret = f"whsec_{secrets.token_hex(24)}"
    sandbox.send_webhooks_to(f"{base_url}/api/v1/stripe/webhook", secret)
    stderr.print(f"payments: no Stripe key set, using the Stripe sandbox at {sandbox.api_base}")
    settings = wiring.settings.model_copy(
        update={
            "stripe_api_key": SANDBOX_API_KEY,
            "stripe_api_base": sandbox.api_base,
            "stripe_webhook_secret": secret,
        }
    )
    return Services(settings), sandbox
