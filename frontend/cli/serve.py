"""`copymark init` and `copymark serve`: set up this installation's data, then serve the app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from frontend.cli.output import stderr
from frontend.cli.wiring import services

if TYPE_CHECKING:
    from frontend.services import Services
    from settlement.stripe.sandbox import LocalStripe


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
    sandbox = None
    if not wiring.settings.stripe_api_key and wiring.settings.environment == "development":
        wiring, sandbox = _with_stripe_sandbox(wiring, f"http://{host}:{port}")
    try:
        wiring.initialise()
        if demo:
            from frontend.demo import load_demo

            load_demo(wiring, progress_console=stderr)
        uvicorn.run(create_app(services=wiring), host=host, port=port)
    finally:
        if sandbox is not None:
            sandbox.stop()


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
