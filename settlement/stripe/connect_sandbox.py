"""Stripe Connect for the local sandbox: Express accounts, account links and transfers.

localstripe (1.15.10, the newest on PyPI) has no Connect, and no maintained Stripe-compatible
server on PyPI or npm has it either (`stripe-mock-server` on PyPI was last released in 2018;
`stripe-stateful-mock` on npm calls itself half-baked and has no transfers), so these routes are
added to localstripe's own aiohttp app, on the same loopback port, and answer the official
`stripe` library exactly as Stripe documents the objects (`account`, `account_link`,
`transfer`) and its errors (`{"error": {"type", "code", "message", "param"}}`).

Like Stripe in test mode, a new Express account can receive nothing until its onboarding is
done: the account link leads to a sandbox onboarding page whose *Submit* turns on the
`transfers` capability and payouts, then returns to the platform's `return_url`. A transfer
needs an account with `transfers` active, a positive integer amount, and, with
`source_transaction`, a succeeded charge of that currency with enough left to transfer.
`POST /_config/connect/accounts/{id}` restricts or restores an account, as Stripe does when it
needs more information from the party.
"""

from __future__ import annotations

import html
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlparse

from aiohttp import web
from localstripe.resources import BalanceTransaction, Charge, StripeObject, store
from localstripe.server import get_post_data, unflatten_data

_ACCOUNTS: dict[str, dict[str, Any]] = {}
_TRANSFERS: dict[str, dict[str, Any]] = {}
_LINKS: dict[str, tuple[str, str]] = {}
_IDEMPOTENT: dict[str, tuple[str, dict[str, Any]]] = {}
_MAX_AMOUNT = 99_999_999_999
_ONBOARDING_DUE = ["external_account", "individual.dob.day", "tos_acceptance.date"]


def _random_id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


def _error(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> web.Response:
    body: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if param is not None:
        body["param"] = param
    if code is not None:
        body["code"] = code
    return web.json_response({"error": body}, status=status)


def _requirements(due: list[str], disabled_reason: str | None) -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(due),
        "disabled_reason": disabled_reason,
        "errors": [],
        "eventually_due": list(due),
        "past_due": list(due) if disabled_reason else [],
        "pending_verification": [],
    }


def _new_account(data: Mapping[str, Any]) -> dict[str, Any]:
    metadata = data.get("metadata") or {}
    return {
        "id": _random_id("acct_"),
        "object": "account",
        "type": data.get("type", "express"),
        "business_type": None,
        "capabilities": {"transfers": "inactive"},
        "charges_enabled": False,
        "country": data.get("country", "US"),
        "created": int(time.time()),
        "default_currency": "usd",
        "details_submitted": False,
        "email": data.get("email"),
        "metadata": dict(metadata) if isinstance(metadata, Mapping) else {},
        "payouts_enabled": False,
        "requirements": _requirements(_ONBOARDING_DUE, "requirements.past_due"),
        "livemode": False,
    }


def _idempotent(request: web.Request, data: Mapping[str, Any]) -> web.Response | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or key not in _IDEMPOTENT:
        return None
    path, answer = _IDEMPOTENT[key]
    if path != request.path:
        return _error(400, f"Keys for idempotent requests can only be used for {path}.")
    return web.json_response(answer)


def _remember(request: web.Request, answer: dict[str, Any]) -> web.Response:
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        _IDEMPOTENT[key] = (request.path, answer)
    return web.json_response(answer)


async def create_account(request: web.Request) -> web.Response:
    data = await get_post_data(request)
    if (replayed := _idempotent(request, data)) is not None:
        return replayed
    if data.get("type", "express") not in ("express", "standard", "custom"):
        return _error(
            400, "Invalid type: must be one of custom, express, or standard", param="type"
        )
    account = _new_account(data)
    _ACCOUNTS[account["id"]] = account
    return _remember(request, account)


async def retrieve_account(request: web.Request) -> web.Response:
    account = _ACCOUNTS.get(request.match_info["id"])
    if account is None:
        return _error(404, f"No such account: '{request.match_info['id']}'", param="account")
    return web.json_response(account)


async def create_account_link(request: web.Request) -> web.Response:
    data = await get_post_data(request)
    account_id = data.get("account")
    if not isinstance(account_id, str) or account_id not in _ACCOUNTS:
        return _error(400, f"No such account: '{account_id}'", param="account")
    for name in ("refresh_url", "return_url"):
        url = data.get(name)
        if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https"):
            return _error(400, f"Not a valid URL: {name}", param=name, code="url_invalid")
    if data.get("type") not in ("account_onboarding", "account_update"):
        return _error(
            400, "Invalid type: must be account_onboarding or account_update", param="type"
        )
    token = secrets.token_urlsafe(16)
    _LINKS[token] = (account_id, str(data["return_url"]))
    now = int(time.time())
    base = f"{request.scheme}://{request.host}"
    return web.json_response(
        {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"{base}/_config/connect/onboarding/{quote(token)}",
        }
    )


def _enable(account: dict[str, Any]) -> None:
    account.update(
        capabilities={"transfers": "active"},
        details_submitted=True,
        payouts_enabled=True,
        requirements=_requirements([], None),
    )


async def onboarding_page(request: web.Request) -> web.Response:
    link = _LINKS.get(request.match_info["token"])
    if link is None:
        return web.Response(status=404, text="This onboarding link has expired.")
    account = _ACCOUNTS[link[0]]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stripe sandbox: payouts onboarding</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem">
<h1>Payouts onboarding (sandbox)</h1>
<p>Account <code>{html.escape(account["id"])}</code> for {html.escape(str(account["email"]))}.
In Stripe this page asks for identity and bank details; the sandbox needs none.</p>
<form method="post"><button type="submit">Submit details</button></form>
</body></html>"""
    return web.Response(text=page, content_type="text/html")


async def submit_onboarding(request: web.Request) -> web.Response:
    link = _LINKS.pop(request.match_info["token"], None)
    if link is None:
        return web.Response(status=404, text="This onboarding link has expired.")
    _enable(_ACCOUNTS[link[0]])
    raise web.HTTPSeeOther(link[1])


async def configure_account(request: web.Request) -> web.Response:
    """Sandbox only: restrict an account (`disabled_reason`) or enable it (no reason)."""
    account = _ACCOUNTS.get(request.match_info["id"])
    if account is None:
        return _error(404, "No such account", param="account")
    data = await get_post_data(request)
    reason = data.get("disabled_reason")
    if reason:
        account.update(
            capabilities={"transfers": "inactive"},
            payouts_enabled=False,
            requirements=_requirements(["external_account"], str(reason)),
        )
    else:
        _enable(account)
    return web.json_response(account)


def _transferred_from(charge_id: str) -> int:
    return sum(
        transfer["amount"]
        for transfer in _TRANSFERS.values()
        if transfer["source_transaction"] == charge_id
    )


async def create_transfer(request: web.Request) -> web.Response:
    data = await get_post_data(request)
    if (replayed := _idempotent(request, data)) is not None:
        return replayed
    raw_amount = data.get("amount")
    if not isinstance(raw_amount, str) or not raw_amount.isdigit():
        return _error(400, "Invalid positive integer", param="amount")
    amount = int(raw_amount)
    if not 1 <= amount <= _MAX_AMOUNT:
        return _error(400, "Amount must be at least 1 and at most 99999999999", param="amount")
    currency = str(data.get("currency", "")).lower()
    if len(currency) != 3 or not currency.isalpha():
        return _error(400, f"Invalid currency: {currency}", param="currency")
    destination = _ACCOUNTS.get(str(data.get("destination")))
    if destination is None:
        return _error(400, f"No such destination: '{data.get('destination')}'", param="destination")
    if destination["capabilities"].get("transfers") != "active":
        return _error(
            400,
            "Your destination account needs to have at least one of the following capabilities "
            "enabled: transfers, crypto_transfers, legacy_payments",
            param="destination",
            code="insufficient_capabilities_for_transfer",
        )
    source = data.get("source_transaction")
    if source is not None:
        charge = store.get(f"{Charge.object}:{source}")
        if charge is None:
            return _error(400, f"No such charge: '{source}'", param="source_transaction")
        if charge.status != "succeeded" or charge.currency != currency:
            return _error(
                400,
                f"The source transaction {source} has not succeeded in {currency}",
                param="source_transaction",
            )
        left = charge.amount - (charge.amount_refunded or 0) - _transferred_from(str(source))
        if amount > left:
            return _error(
                400,
                f"Insufficient funds in the source transaction {source}: {left} left to transfer",
                param="amount",
                code="balance_insufficient",
            )
    metadata = data.get("metadata") or {}
    transfer_id = _random_id("tr_")
    transfer = {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": None,
        "created": int(time.time()),
        "currency": currency,
        "description": data.get("description"),
        "destination": destination["id"],
        "destination_payment": _random_id("py_"),
        "livemode": False,
        "metadata": dict(metadata) if isinstance(metadata, Mapping) else {},
        "reversals": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/transfers/{transfer_id}/reversals",
        },
        "reversed": False,
        "source_transaction": source,
        "source_type": "card",
        "transfer_group": data.get("transfer_group"),
    }
    transfer["balance_transaction"] = _debit_platform_balance(transfer)
    _TRANSFERS[transfer_id] = transfer
    return _remember(request, transfer)


def _debit_platform_balance(transfer: Mapping[str, Any]) -> str:
    """Record the transfer in the platform's balance history, as Stripe does (type `transfer`).

    localstripe's own constructor takes only charges and refunds, so the row is built directly.
    """
    movement = BalanceTransaction.__new__(BalanceTransaction)
    StripeObject.__init__(movement)
    movement.amount = -int(transfer["amount"])
    movement.available_on = movement.created
    movement.currency = transfer["currency"]
    movement.description = f"Transfer to {transfer['destination']}"
    movement.exchange_rate = None
    movement.fee = 0
    movement.fee_details = []
    movement.reporting_category = "transfer"
    movement.source = transfer["id"]
    movement.status = "available"
    movement.type = "transfer"
    return str(movement.id)


async def retrieve_transfer(request: web.Request) -> web.Response:
    transfer = _TRANSFERS.get(request.match_info["id"])
    if transfer is None:
        return _error(404, f"No such transfer: '{request.match_info['id']}'", param="id")
    return web.json_response(transfer)


async def list_transfers(request: web.Request) -> web.Response:
    query = unflatten_data(request.query)
    found = [
        transfer
        for transfer in _TRANSFERS.values()
        if query.get("destination") in (None, transfer["destination"])
        and query.get("transfer_group") in (None, transfer["transfer_group"])
    ]
    return web.json_response(
        {"object": "list", "data": found, "has_more": False, "url": "/v1/transfers"}
    )


def add_connect_routes(app: web.Application) -> None:
    """Serve Connect's accounts, account links and transfers beside localstripe's routes."""
    app.router.add_post("/v1/accounts", create_account)
    app.router.add_get("/v1/accounts/{id}", retrieve_account)
    app.router.add_post("/v1/account_links", create_account_link)
    app.router.add_post("/v1/transfers", create_transfer)
    app.router.add_get("/v1/transfers", list_transfers)
    app.router.add_get("/v1/transfers/{id}", retrieve_transfer)
    app.router.add_get("/_config/connect/onboarding/{token}", onboarding_page)
    app.router.add_post("/_config/connect/onboarding/{token}", submit_onboarding)
    app.router.add_post("/_config/connect/accounts/{id}", configure_account)
