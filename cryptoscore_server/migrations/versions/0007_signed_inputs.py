"""Owners sign what they upload (challenges.rules, participants, signer columns); trustees
report what they refuse (trustee_refusals); jobs go through an outbox (job_outbox).

A challenge now carries its participation rules — the organizer's key, who may enrol, the
daily quotas — in its logged definition, and every pad request and bundle is signed by its
owner. Challenges created before this revision have no rules in their logged definition and
the log cannot be rewritten, so they keep their history (auditable as before, with the
``enrolment`` and ``inputs-signed`` checks reporting their inputs unsigned) but take no more
uploads or pad requests; their unfinished pad requests stay unanswered (trustees refuse
requests nobody signed).

Revision ID: 0007_signed_inputs
Revises: 0006_signed_contributions
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_signed_inputs"
down_revision: str | None = "0006_signed_contributions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("challenges") as batch:
        batch.add_column(sa.Column("rules", sa.JSON(), nullable=True))
    for table in ("bundles", "pad_requests"):
        owner = "signer" if table == "bundles" else "requester"
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(owner, sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("signature", sa.String(length=128), nullable=True))
            batch.add_column(sa.Column("logged_ms", sa.BigInteger(), nullable=True))
            batch.create_index(op.f(f"ix_{table}_{owner}"), [owner], unique=False)
    op.create_table(
        "participants",
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_participants_challenge_id_challenges"),
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_participants_token_id_tokens")
        ),
        sa.PrimaryKeyConstraint("challenge_id", "identity", name=op.f("pk_participants")),
        sa.UniqueConstraint("challenge_id", "token_id", name=op.f("uq_participants_challenge_id")),
    )
    op.create_table(
        "job_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"], ["challenges.id"], name=op.f("fk_job_outbox_challenge_id_challenges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_outbox")),
    )
    op.create_table(
        "trustee_refusals",
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("trustee", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "task IN ('pads', 'contributions', 'requests')", name=op.f("ck_trustee_refusals_task")
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_trustee_refusals_challenge_id_challenges"),
        ),
        sa.PrimaryKeyConstraint(
            "challenge_id", "trustee", "task", "subject", name=op.f("pk_trustee_refusals")
        ),
    )


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 has it): a batch copy of challenges or
    # pad_requests would drop a table other tables' foreign keys name
    op.drop_table("trustee_refusals")
    op.drop_table("job_outbox")
    op.drop_table("participants")
    for table in ("bundles", "pad_requests"):
        owner = "signer" if table == "bundles" else "requester"
        op.drop_index(op.f(f"ix_{table}_{owner}"), table_name=table)
        for column in ("logged_ms", "signature", owner):
            op.drop_column(table, column)
    op.drop_column("challenges", "rules")
