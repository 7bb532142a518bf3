"""Bundle states spelled as the library's ReleaseState: awaiting-contributions, noise-check,
validity (round 1 asked for V: no longer folded into the noise checks), valid, invalid, scoring,
released.

Revision ID: 0004_release_states
Revises: 0003_pads
Create Date: 2026-12-04 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_release_states"
down_revision: str | None = "0003_pads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values as of this revision (a later change to the enum gets its own revision).
_OLD = "state IN ('pending', 'sanitizing', 'valid', 'invalid', 'scoring', 'released')"
_NEW = (
    "state IN ('awaiting-contributions', 'noise-check', 'validity', 'valid', 'invalid', "
    "'scoring', 'released')"
)


def upgrade() -> None:
    with op.batch_alter_table("bundles") as batch:
        batch.drop_constraint(op.f("ck_bundles_state"), type_="check")
        batch.alter_column("state", existing_type=sa.String(length=16), type_=sa.String(length=32))
    op.execute("UPDATE bundles SET state = 'awaiting-contributions' WHERE state = 'pending'")
    # a bundle whose round 1 asked for V has a stored request ``<prefix>:validity``
    op.execute(
        "UPDATE bundles SET state = 'validity' WHERE state = 'sanitizing' AND EXISTS ("
        "SELECT 1 FROM requests r WHERE r.challenge_id = bundles.challenge_id "
        "AND r.bundle = bundles.digest AND r.request_id LIKE '%\\:validity')"  # text(): a colon
    )
    op.execute("UPDATE bundles SET state = 'noise-check' WHERE state = 'sanitizing'")
    with op.batch_alter_table("bundles") as batch:
        batch.create_check_constraint(op.f("ck_bundles_state"), _NEW)


def downgrade() -> None:
    with op.batch_alter_table("bundles") as batch:
        batch.drop_constraint(op.f("ck_bundles_state"), type_="check")
    op.execute("UPDATE bundles SET state = 'pending' WHERE state = 'awaiting-contributions'")
    op.execute("UPDATE bundles SET state = 'sanitizing' WHERE state IN ('noise-check', 'validity')")
    with op.batch_alter_table("bundles") as batch:
        batch.alter_column("state", existing_type=sa.String(length=32), type_=sa.String(length=16))
        batch.create_check_constraint(op.f("ck_bundles_state"), _OLD)
