"""`copymark init` and `copymark serve`: set up this installation's data, then serve the app."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from frontend.cli.output import fail, stderr
from frontend.cli.wiring import services

if TYPE_CHECKING:
    from frontend.services import Services
    from frontend.settings import Settings
    from settlement.stripe.sandbox import LocalStripe

# `--workers` above one: uvicorn starts each process from this factory.
APP_FACTORY: Final = "frontend.app:create_app"
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


def _serve_processes(host: str, port: int, workers: int) -> None:
    """Serve from `workers` processes under uvicorn's supervisor, each on a socket of its own."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(APP_FACTORY, factory=True, host=host, port=port, workers=workers)
    try:
        share = PortShare.reserve(host, port)
    except OSError as error:
        fail(f"cannot serve on {host}:{port}: {error.strerror or error}")
    with share:
        stderr.print(f"serving http://{host}:{port} from {workers} processes")
        Multiprocess(config, sockets=[share]).run()


class PortShare(socket.socket):
    """The serving port, reserved here; each server process that unpickles it gets instead a
    listening socket of its own on that port (SO_REUSEPORT).

    With one socket shared by the processes, the first to wake accepts every waiting connection,
    so keep-alive clients pile onto one process (7 or 8 of 8 in 15 of 20 tries); with a socket
    each, the kernel spreads new connections over the processes (4/4 or 5/3 in 31 of 40).
    """

    @classmethod
    def reserve(cls, host: str, port: int) -> PortShare:
        """The port bound for sharing, once no other program holds it (else OSError)."""
        with socket.socket(_family(host)) as probe:
            # SO_REUSEPORT alone would let this server share a port another one already serves.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
        share = cls(_family(host))
        try:
            _bind_shared(share, host, port)
        except OSError:
            share.close()
            raise
        return share

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        host, port = self.getsockname()[:2]
        return _bound, (host, port)


def _bound(host: str, port: int) -> socket.socket:
    """A socket of this process bound to the shared port, not yet listening.

    The event loop calls listen() once the app has started, so the kernel sends this process no
    connection while it is still starting (a replacement can take seconds to import the app).
    """
    bound = socket.socket(_family(host))
    _bind_shared(bound, host, port)
    return bound


def _bind_shared(sock: socket.socket, host: str, port: int) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


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
