"""alerts: where the screenshot taken by the evidence queue stands, and why none was taken

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-02 17:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Alerts recorded before keep NULL: their screenshot, if any, is in the bundle they point at.
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "screenshot_status",
                sa.Enum(
                    "pending",
                    "taken",
                    "not_taken",
                    name="screenshotstatus",
                    native_enum=False,
                    length=20,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "screenshot_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("screenshot_reason")
        batch_op.drop_column("screenshot_status")
