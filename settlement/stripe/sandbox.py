"""A local Stripe sandbox: `localstripe` (PyPI) on a free loopback port, as a child process.

localstripe has no Connect; `settlement.stripe.connect_sandbox` adds accounts, account links and
transfers to the same server, so one API base serves the whole Stripe surface Copymark uses.

`make run` (through `copymark serve`) starts one when no Stripe keys are configured, and the
tests start one per session; the official `stripe` library talks to it as to Stripe. It binds
127.0.0.1 only and starts from an empty store (never the file localstripe may have saved).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

# The child imports the Connect routes from this very tree, whatever the working directory.
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])

SANDBOX_API_KEY = "sk_test_copymark_sandbox"
SANDBOX_PUBLISHABLE_KEY = "pk_test_copymark_sandbox"
# The sandbox ends with the process that started it, however that one ends (uvicorn re-raises
# SIGTERM after shutting down, so no `finally` of ours may run).
_SERVE = """
import os, sys, threading, time
from aiohttp import web
from localstripe.server import app
from settlement.stripe.connect_sandbox import add_connect_routes

parent = os.getppid()

def follow_parent():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)

threading.Thread(target=follow_parent, daemon=True).start()
add_connect_routes(app)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


class SandboxUnavailable(RuntimeError):
    """localstripe is not installed or did not start listening."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LocalStripe:
    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, timeout_s: float = 30.0) -> LocalStripe:
        """Start localstripe on a free loopback port and wait until it answers."""
        port = _free_port()
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-c", _SERVE, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [_SOURCE_ROOT, os.environ.get("PYTHONPATH")])
                ),
            },
        )
        sandbox = cls(process, port)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SandboxUnavailable(f"localstripe exited with status {process.returncode}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return sandbox
            time.sleep(0.05)
        sandbox.stop()
        raise SandboxUnavailable("localstripe did not start listening")

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def send_webhooks_to(self, url: str, secret: str) -> None:
        """Have the sandbox sign and post its events to our webhook, as Stripe would."""
        answer = httpx.post(
            f"{self.api_base}/_config/webhooks/copymark",
            data={"url": url, "secret": secret},
            headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"},
            timeout=10,
        )
        answer.raise_for_status()

    def restrict_account(self, account_id: str, reason: str | None) -> None:
        """Have Stripe restrict a connected account (`reason`) or lift the restriction (None)."""
        answer = httpx.post(
            f"{self.api_base}/_config/connect/accounts/{account_id}",
            data={"disabled_reason": reason or ""},
            timeout=10,
        )
        answer.raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
