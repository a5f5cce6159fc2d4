"""work references: each work's ORB keypoints and copy descriptor, made at registration

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Works registered before have no row: a search decodes their image, as it did.
    op.create_table(
        "work_references",
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("features", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("work_id"),
    )


def downgrade() -> None:
    op.drop_table("work_references")
