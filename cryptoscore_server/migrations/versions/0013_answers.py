"""How a challenge's key trustees answer decryptions (docs/design.md, "Robust threshold
decryption"; "Differential-privacy release"): challenges.answers, the ceremony record's
``answers`` ("lagrange" or "shamir") copied like its threshold and roster, so that the
leaderboard states a dp challenge's noise (t or C(n, t − 1) summed draws) without opening the
record. Existing rows were created from records answering "lagrange" (version 1 or 3).

Revision ID: 0013_answers
Revises: 0012_ladder
Create Date: 2026-12-08 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_answers"
down_revision: str | None = "0012_ladder"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ALTER TABLE, as in 0008, 0011 and 0012 (a batch copy of challenges would drop a table
    # other tables' foreign keys name)
    op.add_column(
        "challenges",
        sa.Column("answers", sa.String(length=16), nullable=False, server_default="lagrange"),
    )


def downgrade() -> None:
    op.drop_column("challenges", "answers")
