"""`copymark user`: accounts."""

from __future__ import annotations

from typing import Annotated

import typer

from frontend.cli.output import JsonFlag, emit, fail, stderr
from frontend.cli.wiring import services
from registry.roles import Role

user_app = typer.Typer(help="Accounts.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    role: Annotated[list[Role], typer.Option(help="repeat for several roles")] = [Role.CREATOR],  # noqa: B006
    name: Annotated[str, typer.Option(help="display name")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create an account."""
    # Deferred: accounts live in the database (SQLModel), which `--help` never needs.
    from registry.accounts.service import create_user
    from registry.db import unit_of_work
    from registry.errors import CopymarkError

    wiring = services()
    with unit_of_work(wiring.session) as session:
        try:
            user = create_user(
                session, email=email, password=password, display_name=name, roles=set(role)
            )
        except CopymarkError as error:
            fail(error.message, 2)
    if as_json:
        emit({"user_id": user.id, "email": user.email, "roles": user.roles})
    else:
        stderr.print(f"created user {user.id} <{user.email}>")
