"""A challenge's description: the organizer's text for readers (the web page).

Service metadata, not part of the logged definition. Existing challenges get an empty one.

Revision ID: 0008_challenge_description
Revises: 0007_signed_inputs
Create Date: 2026-12-07 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_challenge_description"
down_revision: str | None = "0007_signed_inputs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE (ADD and, on SQLite >= 3.35, DROP COLUMN): a batch copy of challenges
    # would drop a table other tables' foreign keys name (as in 0007)
    op.add_column(
        "challenges",
        sa.Column("description", sa.String(length=4000), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("challenges", "description")
