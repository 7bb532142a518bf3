"""Trustee-assisted encryption: pad requests, trustees' pad shares, trustee presence.

Revision ID: 0003_pads
Revises: 0002_protocol
Create Date: 2026-11-29 16:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_pads"
down_revision: str | None = "0002_protocol"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pad_requests",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("c1_seed", sa.String(length=64), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("trustees", sa.JSON(), nullable=False),
        sa.Column("bundle", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name=op.f("fk_pad_requests_challenge_id_challenges"),
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_pad_requests_token_id_tokens")
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_pad_requests")),
        sa.UniqueConstraint("seed", name=op.f("uq_pad_requests_seed")),
        sa.UniqueConstraint("c1_seed", name=op.f("uq_pad_requests_c1_seed")),
    )
    op.create_index(
        op.f("ix_pad_requests_challenge_id"), "pad_requests", ["challenge_id"], unique=False
    )
    op.create_index(op.f("ix_pad_requests_token_id"), "pad_requests", ["token_id"], unique=False)
    op.create_table(
        "pad_shares",
        sa.Column("request", sa.String(length=64), nullable=False),
        sa.Column("trustee", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["blob"], ["blobs.sha256"], name=op.f("fk_pad_shares_blob_blobs")),
        sa.ForeignKeyConstraint(
            ["request"], ["pad_requests.digest"], name=op.f("fk_pad_shares_request_pad_requests")
        ),
        sa.PrimaryKeyConstraint("request", "trustee", name=op.f("pk_pad_shares")),
    )
    op.create_table(
        "trustee_presence",
        sa.Column("trustee", sa.String(length=64), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trustee", name=op.f("pk_trustee_presence")),
    )


def downgrade() -> None:
    op.drop_table("trustee_presence")
    op.drop_table("pad_shares")
    op.drop_index(op.f("ix_pad_requests_token_id"), table_name="pad_requests")
    op.drop_index(op.f("ix_pad_requests_challenge_id"), table_name="pad_requests")
    op.drop_table("pad_requests")
