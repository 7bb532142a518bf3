"""The Ladder (docs/design.md, "Ladder"): each released submission's shown values
(bundles.shown) and the nonce of its commitment to the exact values (bundles.ladder_nonce).
Existing rows have no Ladder: both columns are NULL for them and their meaning is unchanged.

Revision ID: 0012_ladder
Revises: 0011_split
Create Date: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_ladder"
down_revision: str | None = "0011_split"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE ADD COLUMN, as in 0011: a batch copy of bundles would break the foreign
    # keys other tables hold on it
    op.add_column("bundles", sa.Column("shown", sa.JSON(), nullable=True))
    op.add_column("bundles", sa.Column("ladder_nonce", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("bundles", "ladder_nonce")
    op.drop_column("bundles", "shown")
