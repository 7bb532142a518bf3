"""Foundation: tokens, blobs, challenges.

Revision ID: 0001_foundation
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'organizer', 'participant', 'trustee', 'auditor')",
            name=op.f("ck_tokens_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tokens_token_hash")),
    )
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blobs")),
    )
    op.create_table(
        "challenges",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("classes", sa.Integer(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("params_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("roster", sa.JSON(), nullable=False),
        sa.Column("public_context_hash", sa.String(length=64), nullable=False),
        sa.Column("evaluation_keys_hash", sa.String(length=64), nullable=False),
        sa.Column("ceremony_record_hash", sa.String(length=64), nullable=False),
        sa.Column("submission_limit_per_day", sa.Integer(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("classes BETWEEN 2 AND 64", name=op.f("ck_challenges_classes")),
        sa.CheckConstraint("n_items >= 1", name=op.f("ck_challenges_n_items")),
        sa.CheckConstraint(
            "submission_limit_per_day >= 1", name=op.f("ck_challenges_submission_limit")
        ),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_challenges_window")),
        sa.ForeignKeyConstraint(
            ["public_context_hash"],
            ["blobs.sha256"],
            name=op.f("fk_challenges_public_context_hash_blobs"),
        ),
        sa.ForeignKeyConstraint(
            ["evaluation_keys_hash"],
            ["blobs.sha256"],
            name=op.f("fk_challenges_evaluation_keys_hash_blobs"),
        ),
        sa.ForeignKeyConstraint(
            ["ceremony_record_hash"],
            ["blobs.sha256"],
            name=op.f("fk_challenges_ceremony_record_hash_blobs"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["tokens.id"], name=op.f("fk_challenges_created_by_tokens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenges")),
    )


def downgrade() -> None:
    op.drop_table("challenges")
    op.drop_table("blobs")
    op.drop_table("tokens")
