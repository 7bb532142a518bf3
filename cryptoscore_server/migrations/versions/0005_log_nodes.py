"""The log's Merkle tree persisted (log_nodes), and the leaderboard's projection
(bundles.released_index), both filled in from the existing log.

Revision ID: 0005_log_nodes
Revises: 0004_release_states
Create Date: 2026-12-04 02:40:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cryptoscore.transparency.log import CollectingNodes, MerkleLog

revision: str = "0005_log_nodes"
down_revision: str | None = "0004_release_states"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    nodes_table = op.create_table(
        "log_nodes",
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"], ["challenges.id"], name=op.f("fk_log_nodes_challenge_id_challenges")
        ),
        sa.PrimaryKeyConstraint("challenge_id", "level", "position", name=op.f("pk_log_nodes")),
    )
    with op.batch_alter_table("bundles") as batch:
        batch.add_column(sa.Column("released_index", sa.Integer(), nullable=True))
    conn = op.get_bind()
    challenges = [row[0] for row in conn.execute(sa.text("SELECT id FROM challenges"))]
    for challenge_id in challenges:
        collected = CollectingNodes()
        log = MerkleLog(nodes=collected)
        entries = conn.execute(
            sa.text(
                'SELECT "index", entry FROM log_entries WHERE challenge_id = :c ORDER BY "index"'
            ),
            {"c": challenge_id},
        )
        for index, raw in entries:
            log.append(bytes(raw))
            entry = json.loads(bytes(raw))
            if entry.get("type") == "release":
                conn.execute(
                    sa.text(
                        "UPDATE bundles SET released_index = :i "
                        "WHERE challenge_id = :c AND digest = :d"
                    ),
                    {"i": index, "c": challenge_id, "d": entry["predictions"]},
                )
        op.bulk_insert(
            nodes_table,
            [
                {"challenge_id": challenge_id, "level": level, "position": position, "hash": h}
                for level, position, h in collected.written
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("bundles") as batch:
        batch.drop_column("released_index")
    op.drop_table("log_nodes")
