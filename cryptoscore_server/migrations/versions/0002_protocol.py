"""Protocol: each challenge's log and tree heads, bundles, contributions, requests, partials.

Revision ID: 0002_protocol
Revises: 0001_foundation
Create Date: 2026-11-25 10:36:01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_protocol"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contributions",
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("bundle", sa.String(length=64), nullable=False),
        sa.Column("trustee", sa.String(length=64), nullable=False),
        sa.Column("randomness", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("challenge_id", "bundle", "trustee", name=op.f("pk_contributions")),
    )
    op.create_table(
        "bundles",
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("active_set", sa.JSON(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('labels', 'predictions')", name=op.f("ck_bundles_kind")),
        sa.CheckConstraint(
            "state IN ('pending', 'sanitizing', 'valid', 'invalid', 'scoring', 'released')",
            name=op.f("ck_bundles_state"),
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"], ["challenges.id"], name=op.f("fk_bundles_challenge_id_challenges")
        ),
        sa.ForeignKeyConstraint(["digest"], ["blobs.sha256"], name=op.f("fk_bundles_digest_blobs")),
        sa.ForeignKeyConstraint(
            ["token_id"], ["tokens.id"], name=op.f("fk_bundles_token_id_tokens")
        ),
        sa.PrimaryKeyConstraint("challenge_id", "digest", name=op.f("pk_bundles")),
    )
    op.create_index(op.f("ix_bundles_token_id"), "bundles", ["token_id"], unique=False)
    op.create_table(
        "log_entries",
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"], ["challenges.id"], name=op.f("fk_log_entries_challenge_id_challenges")
        ),
        sa.PrimaryKeyConstraint("challenge_id", "index", name=op.f("pk_log_entries")),
        sa.UniqueConstraint("challenge_id", "key", name="uq_log_entries_key"),
    )
    op.create_table(
        "requests",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("bundle", sa.String(length=64), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("request_blob", sa.String(length=64), nullable=False),
        sa.Column("aggregate_blob", sa.String(length=64), nullable=False),
        sa.Column("trustees", sa.JSON(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["aggregate_blob"], ["blobs.sha256"], name=op.f("fk_requests_aggregate_blob_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"], ["challenges.id"], name=op.f("fk_requests_challenge_id_challenges")
        ),
        sa.ForeignKeyConstraint(
            ["request_blob"], ["blobs.sha256"], name=op.f("fk_requests_request_blob_blobs")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_requests")),
    )
    op.create_index(op.f("ix_requests_challenge_id"), "requests", ["challenge_id"], unique=False)
    op.create_table(
        "tree_heads",
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sth", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"], ["challenges.id"], name=op.f("fk_tree_heads_challenge_id_challenges")
        ),
        sa.PrimaryKeyConstraint("challenge_id", "size", name=op.f("pk_tree_heads")),
    )
    op.create_table(
        "partials",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("trustee", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["blob"], ["blobs.sha256"], name=op.f("fk_partials_blob_blobs")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.request_id"], name=op.f("fk_partials_request_id_requests")
        ),
        sa.PrimaryKeyConstraint("request_id", "trustee", name=op.f("pk_partials")),
    )


def downgrade() -> None:
    op.drop_table("partials")
    op.drop_table("tree_heads")
    op.drop_index(op.f("ix_requests_challenge_id"), table_name="requests")
    op.drop_table("requests")
    op.drop_table("log_entries")
    op.drop_index(op.f("ix_bundles_token_id"), table_name="bundles")
    op.drop_table("bundles")
    op.drop_table("contributions")
