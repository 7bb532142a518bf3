"""Round-1 contributions are signed by their trustee (contributions.signature).

Contributions stored before this revision carry no signature, and a trustee now refuses V and
scores whose seed rests on an unsigned contribution (a service could have made it up). So:
unsigned contributions of bundles still awaiting contributions are dropped (the trustees are
asked again and sign); bundles whose round 1 is under way on unsigned contributions are
marked invalid with a reason saying to re-submit. Decided bundles keep their history.

Revision ID: 0006_signed_contributions
Revises: 0005_log_nodes
Create Date: 2026-12-04 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_signed_contributions"
down_revision: str | None = "0005_log_nodes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contributions") as batch:
        batch.add_column(sa.Column("signature", sa.String(length=128), nullable=True))
    op.execute(
        "DELETE FROM contributions WHERE signature IS NULL AND EXISTS (SELECT 1 FROM bundles b "
        "WHERE b.challenge_id = contributions.challenge_id AND b.digest = contributions.bundle "
        "AND b.state = 'awaiting-contributions')"
    )
    op.execute(
        "UPDATE bundles SET state = 'invalid', reason = 'round 1 began on unsigned "
        "contributions (before the upgrade): re-submit with fresh pads' "
        "WHERE state IN ('noise-check', 'validity') AND EXISTS (SELECT 1 FROM contributions c "
        "WHERE c.challenge_id = bundles.challenge_id AND c.bundle = bundles.digest "
        "AND c.signature IS NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("contributions") as batch:
        batch.drop_column("signature")
