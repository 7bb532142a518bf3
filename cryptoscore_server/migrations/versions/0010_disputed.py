"""Bundle state ``disputed``: a release (or round-1 decision) whose combined values broke a
release invariant (``cryptoscore/protocol/invariants.py``); nothing of it is released, the
violated invariant is the reason.

Revision ID: 0010_disputed
Revises: 0009_ceremonies
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010_disputed"
down_revision: str | None = "0009_ceremonies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values as of this revision (a later change to the enum gets its own revision).
_OLD = (
    "state IN ('awaiting-contributions', 'noise-check', 'validity', 'valid', 'invalid', "
    "'scoring', 'released')"
)
_NEW = (
    "state IN ('awaiting-contributions', 'noise-check', 'validity', 'valid', 'invalid', "
    "'scoring', 'released', 'disputed')"
)


def upgrade() -> None:
    with op.batch_alter_table("bundles") as batch:
        batch.drop_constraint(op.f("ck_bundles_state"), type_="check")
        batch.create_check_constraint(op.f("ck_bundles_state"), _NEW)


def downgrade() -> None:
    # a disputed bundle has no state before this revision: its decision is undone, so the
    # step that decided it runs again (and, without the invariants, releases what it finds)
    op.execute(
        "UPDATE bundles SET state = 'scoring', reason = '' WHERE state = 'disputed' AND EXISTS ("
        "SELECT 1 FROM requests r WHERE r.challenge_id = bundles.challenge_id "
        "AND r.bundle = bundles.digest AND r.round = 2)"
    )
    op.execute(
        "UPDATE bundles SET state = 'validity', reason = '' WHERE state = 'disputed' AND EXISTS ("
        "SELECT 1 FROM requests r WHERE r.challenge_id = bundles.challenge_id "
        "AND r.bundle = bundles.digest AND r.request_id LIKE '%\\:validity')"  # text(): a colon
    )
    op.execute("UPDATE bundles SET state = 'noise-check', reason = '' WHERE state = 'disputed'")
    with op.batch_alter_table("bundles") as batch:
        batch.drop_constraint(op.f("ck_bundles_state"), type_="check")
        batch.create_check_constraint(op.f("ck_bundles_state"), _OLD)
