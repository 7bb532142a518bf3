"""The relay of dealerless key ceremonies: the organizer's plans and the trustees' messages.

Revision ID: 0009_ceremonies
Revises: 0008_challenge_description
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_ceremonies"
down_revision: str | None = "0008_challenge_description"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ceremonies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.LargeBinary(), nullable=False),
        sa.Column("params_id", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("roster", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ceremonies")),
    )
    op.create_table(
        "ceremony_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ceremony_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("trustee_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob"], ["blobs.sha256"], name=op.f("fk_ceremony_messages_blob_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["ceremony_id"],
            ["ceremonies.id"],
            name=op.f("fk_ceremony_messages_ceremony_id_ceremonies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ceremony_messages")),
        sa.UniqueConstraint(
            "ceremony_id", "kind", "trustee_id", name=op.f("uq_ceremony_messages_sender")
        ),
    )
    op.create_index(
        op.f("ix_ceremony_messages_ceremony_id"),
        "ceremony_messages",
        ["ceremony_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ceremony_messages_ceremony_id"), table_name="ceremony_messages")
    op.drop_table("ceremony_messages")
    op.drop_table("ceremonies")
