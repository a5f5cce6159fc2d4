"""The `copymark` command line: results on stdout (one JSON object per line with --json), progress
and errors on stderr, a non-zero exit status on failure.

One module per command group; this one only assembles them. The command modules import typer,
rich and the standard library when loaded, and each command imports what it needs (the app's
wiring, SQLModel, torch, ONNX Runtime, FAISS, FastAPI, the licensing engine) when it runs, so
that `copymark --help` and `copymark contract ...` start at once.
tests/functional/cli/test_startup.py checks that loading the CLI stays light.
"""

from __future__ import annotations

import typer

from frontend.cli.bench import bench
from frontend.cli.cases import cases_app
from frontend.cli.contract import contract_app
from frontend.cli.crawl import crawl
from frontend.cli.index import index_app
from frontend.cli.log import log_app
from frontend.cli.output import stderr
from frontend.cli.serve import init, serve
from frontend.cli.settlement import settlement_app
from frontend.cli.user import user_app
from frontend.cli.verify import verify
from frontend.cli.worker import worker
from frontend.cli.works import certificate, match, register

app = typer.Typer(
    help="Copymark: register works, find copies, license and prove it.", no_args_is_help=True
)
app.command("bench")(bench)
app.command("crawl")(crawl)
app.command()(init)
app.command()(serve)
app.command()(register)
app.command()(match)
app.command()(certificate)
app.command()(verify)
app.command()(worker)
app.add_typer(index_app, name="index")
app.add_typer(log_app, name="log")
app.add_typer(user_app, name="user")
app.add_typer(contract_app, name="contract")
app.add_typer(cases_app, name="cases")
app.add_typer(settlement_app, name="settlement")


def main() -> None:
    try:
        app()
    except Exception as error:
        # Loaded only now: `copymark --help` and the light commands never need it.
        from registry.errors import Unavailable

        if isinstance(error, Unavailable):
            # A service the command needs is down (blob storage, an index shard): say which,
            # without a traceback.
            stderr.print(f"[red]error:[/red] {error.message}", highlight=False)
            raise SystemExit(1) from None
        raise
