"""A public/private split (docs/design.md, "Public/private split"): the organizer's close of a
split challenge (challenges.closed_ms), participants' signed final selections (selections),
and each final submission's private part (bundles.private_*: its round-3 state, released values,
dispute reason and the log index of its ``part_release``). Existing rows have no split: every
new column is NULL or empty for them and their meaning is unchanged.

Revision ID: 0011_split
Revises: 0010_disputed
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_split"
down_revision: str | None = "0010_disputed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE (ADD and, on SQLite >= 3.35, DROP COLUMN), as in 0008: a batch copy of
    # challenges or bundles would drop a table other tables' foreign keys name
    op.add_column("challenges", sa.Column("closed_ms", sa.BigInteger(), nullable=True))
    op.add_column("bundles", sa.Column("private_state", sa.String(length=32), nullable=True))
    op.add_column("bundles", sa.Column("private_values", sa.JSON(), nullable=True))
    op.add_column(
        "bundles",
        sa.Column("private_reason", sa.String(length=500), nullable=False, server_default=""),
    )
    op.add_column("bundles", sa.Column("private_released_index", sa.Integer(), nullable=True))
    op.create_table(
        "selections",
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("submissions", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("logged_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"], ["challenges.id"], name=op.f("fk_selections_challenge_id_challenges")
        ),
        sa.PrimaryKeyConstraint("challenge_id", "identity", "sequence", name=op.f("pk_selections")),
    )


def downgrade() -> None:
    op.drop_table("selections")
    for column in ("private_released_index", "private_reason", "private_values", "private_state"):
        op.drop_column("bundles", column)
    op.drop_column("challenges", "closed_ms")
