"""Alembic migrations on SQLite and PostgreSQL: match the models, idempotent, reversible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError

from cryptoscore_server.db import MIGRATIONS_DIR, get_engine, get_session, migrate
from cryptoscore_server.models import Base, Blob, Challenge, Token, utcnow


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def test_single_head_named_revision() -> None:
    heads = ScriptDirectory.from_config(_config()).get_heads()
    assert heads == ["0013_answers"]


def test_migrated_schema_matches_the_models(app: Flask) -> None:
    engine = get_engine(app)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == "0013_answers"
    assert set(inspect(engine).get_table_names()) == {
        "alembic_version",
        "tokens",
        "blobs",
        "challenges",
        "log_entries",
        "log_nodes",
        "participants",
        "job_outbox",
        "trustee_refusals",
        "tree_heads",
        "bundles",
        "contributions",
        "requests",
        "partials",
        "pad_requests",
        "pad_shares",
        "trustee_presence",
        "ceremonies",
        "ceremony_messages",
        "selections",
    }


def test_migrate_is_idempotent_and_reversible(app: Flask) -> None:
    engine = get_engine(app)
    migrate(engine)  # already at head: nothing to do
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert {"tokens", "blobs", "challenges"} <= set(inspect(engine).get_table_names())


def _challenge(**overrides: object) -> Challenge:
    opens = datetime(2030, 1, 1, tzinfo=UTC)
    values: dict[str, object] = {
        "id": "c",
        "name": "c",
        "classes": 2,
        "n_items": 10,
        "policy": {"classes": 2, "metrics": ["correct"]},
        "params_id": "bfv-8192",
        "key_id": "0" * 64,
        "threshold": 2,
        "roster": [],
        "public_context_hash": "a" * 64,
        "evaluation_keys_hash": "a" * 64,
        "ceremony_record_hash": "a" * 64,
        "submission_limit_per_day": 1,
        "opens_at": opens,
        "closes_at": opens + timedelta(days=1),
        "created_by": 1,
    }
    values.update(overrides)
    return Challenge(**values)


def test_times_round_trip_as_aware_utc(app: Flask) -> None:
    with app.app_context():
        session = get_session()
        session.add(Token(id=1, name="x", role="admin", token_hash="f" * 64))
        session.add(Blob(sha256="a" * 64, size=1))
        session.flush()  # no ORM relationships: parents go in first, explicitly
        plus_two = timezone(timedelta(hours=2))
        session.add(_challenge(opens_at=datetime(2030, 1, 1, 2, 0, tzinfo=plus_two)))
        session.commit()
        session.expunge_all()
        row = session.get(Challenge, "c")
        assert row is not None
        assert row.opens_at == datetime(2030, 1, 1, tzinfo=UTC)
        assert row.opens_at.utcoffset() == timedelta(0)
        assert row.policy == {"classes": 2, "metrics": ["correct"]}
        token = session.get(Token, 1)
        assert token is not None and abs(token.created_at - utcnow()) < timedelta(minutes=1)

        session.add(Blob(sha256="b" * 64, size=1, created_at=datetime(2030, 1, 1)))
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()
        session.rollback()


@pytest.mark.parametrize(
    "bad",
    [
        {"closes_at": datetime(2029, 1, 1, tzinfo=UTC)},  # closes before it opens
        {"classes": 1},
        {"n_items": 0},
        {"public_context_hash": "c" * 64},  # names a blob that does not exist
        {"created_by": 99},  # names a token that does not exist
    ],
)
def test_constraints_hold_in_the_database(app: Flask, bad: dict[str, object]) -> None:
    with app.app_context():
        session = get_session()
        session.add(Token(id=1, name="x", role="admin", token_hash="f" * 64))
        session.add(Blob(sha256="a" * 64, size=1))
        session.commit()
        session.add(_challenge(**bad))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()


def test_token_role_and_hash_constraints(app: Flask) -> None:
    with app.app_context():
        session = get_session()
        session.add(Token(name="x", role="root", token_hash="f" * 64))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        session.add(Token(name="x", role="admin", token_hash="f" * 64))
        session.add(Token(name="y", role="admin", token_hash="f" * 64))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        assert session.execute(text("SELECT COUNT(*) FROM tokens")).scalar_one() == 0


def _seed_challenge(app: Flask) -> None:
    """A token, six blobs and challenge ``c``: what bundle rows refer to."""
    with app.app_context():
        session = get_session()
        session.add(Token(id=1, name="x", role="admin", token_hash="f" * 64))
        for digest in "abcdef":
            session.add(Blob(sha256=digest * 64, size=1))
        session.flush()
        # a Core insert of the columns given: it fits a schema downgraded to before a later
        # nullable column (0011's closed_ms), where the ORM would name that column too
        row = _challenge(public_context_hash="a" * 64)
        given = {
            c.name: getattr(row, c.key)
            for c in Challenge.__table__.columns
            if getattr(row, c.key, None) is not None
        }
        session.execute(Challenge.__table__.insert().values(**given))
        session.commit()


def _insert_bundle(conn: Any, digest: str, state: str, now: datetime) -> None:
    conn.execute(
        text(
            "INSERT INTO bundles (challenge_id, digest, kind, owner, token_id, state, "
            "reason, receipt, submitted_at) VALUES ('c', :d, 'predictions', 'x', 1, :s, "
            "'', '{}', :t)"
        ),
        {"d": digest, "s": state, "t": now},
    )


def test_release_states_migrate_both_ways(app: Flask) -> None:
    """0004: the old spellings become the library's ReleaseState values (a bundle whose round
    1 asked for V becomes ``validity``), and back on downgrade; nothing else changes."""
    engine = get_engine(app)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003_pads")
    _seed_challenge(app)
    old = {"b": "pending", "c": "sanitizing", "d": "sanitizing", "e": "valid", "f": "released"}
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for digest, state in old.items():
            _insert_bundle(conn, digest * 64, state, now)
        for rid in ("c:r1:x:noise:0", "d:r1:x:noise:0", "d:r1:x:validity"):
            conn.execute(
                text(
                    "INSERT INTO requests (request_id, challenge_id, bundle, round, request_blob, "
                    "aggregate_blob, trustees, open, created_at) VALUES (:r, 'c', :b, 1, :a, :a, "
                    "'[]', true, :t)"
                ),
                {"r": rid, "b": rid[0] * 64, "a": "a" * 64, "t": now},
            )

    def states() -> dict[str, str]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT digest, state FROM bundles")).all()
        return {digest[0]: state for digest, state in rows}

    migrate(engine)
    assert states() == {
        "b": "awaiting-contributions",
        "c": "noise-check",
        "d": "validity",
        "e": "valid",
        "f": "released",
    }
    with engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(text("UPDATE bundles SET state = 'sanitizing'"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0003_pads")
    assert states() == old
    migrate(engine)


def test_unsigned_contributions_are_asked_again_or_their_round_is_closed(app: Flask) -> None:
    """0006: an unsigned contribution of a bundle still awaiting contributions is dropped (its
    trustee is asked again and signs); a bundle whose round 1 was under way on unsigned
    contributions becomes invalid with a reason; decided bundles keep their history."""
    engine = get_engine(app)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005_log_nodes")
    _seed_challenge(app)
    states = {"b": "awaiting-contributions", "c": "noise-check", "d": "validity", "e": "valid"}
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for digest, state in states.items():
            _insert_bundle(conn, digest * 64, state, now)
            conn.execute(
                text(
                    "INSERT INTO contributions (challenge_id, bundle, trustee, randomness, "
                    "created_at) VALUES ('c', :d, 't1', :r, :t)"
                ),
                {"d": digest * 64, "r": "ab" * 32, "t": now},
            )
    migrate(engine)
    with engine.connect() as conn:
        after = dict(conn.execute(text("SELECT digest, state FROM bundles")).all())
        reasons = dict(conn.execute(text("SELECT digest, reason FROM bundles")).all())
        kept = {row[0][0] for row in conn.execute(text("SELECT bundle FROM contributions"))}
    assert {d[0]: s for d, s in after.items()} == {
        "b": "awaiting-contributions",
        "c": "invalid",
        "d": "invalid",
        "e": "valid",
    }
    assert "unsigned contributions" in reasons["c" * 64] and reasons["e" * 64] == ""
    assert kept == {"c", "d", "e"}  # b's is dropped: its trustee is asked again


def test_signed_inputs_migration_keeps_history_and_refuses_new_uploads(app: Flask) -> None:
    """0007: a challenge created before signed inputs keeps its bundles (unsigned: no signer,
    no logged time) and gets no rules, so the service takes no more uploads for it; the
    downgrade removes the new columns and table again."""
    engine = get_engine(app)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006_signed_contributions")
    _seed_challenge(app)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        _insert_bundle(conn, "a" * 64, "valid", now)
    migrate(engine)
    with engine.connect() as conn:
        rules = conn.execute(text("SELECT rules FROM challenges")).scalar_one()
        signer = conn.execute(text("SELECT signer, signature, logged_ms FROM bundles")).one()
        participants = conn.execute(text("SELECT count(*) FROM participants")).scalar_one()
    assert rules is None and tuple(signer) == (None, None, None) and participants == 0
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006_signed_contributions")
    assert "participants" not in inspect(engine).get_table_names()
    assert "rules" not in {c["name"] for c in inspect(engine).get_columns("challenges")}
    migrate(engine)


def test_description_migration_gives_existing_challenges_an_empty_one(app: Flask) -> None:
    """0008: challenges made before it get an empty description; the downgrade drops it."""
    engine = get_engine(app)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007_signed_inputs")
    _seed_challenge(app)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT description FROM challenges")).scalar_one() == ""
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007_signed_inputs")
    assert "description" not in {c["name"] for c in inspect(engine).get_columns("challenges")}
    migrate(engine)


def test_ceremonies_migration_adds_and_drops_the_relay_tables(app: Flask) -> None:
    """0009: the ceremony relay's two tables; the downgrade drops them."""
    engine = get_engine(app)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0008_challenge_description")
    assert not {"ceremonies", "ceremony_messages"} & set(inspect(engine).get_table_names())
    migrate(engine)
    assert {"ceremonies", "ceremony_messages"} <= set(inspect(engine).get_table_names())
    unique = inspect(engine).get_unique_constraints("ceremony_messages")
    assert [u["column_names"] for u in unique] == [["ceremony_id", "kind", "trustee_id"]]


def test_split_migration_goes_both_ways(app: Flask) -> None:
    """0011 adds the close, the selections and the private part's columns; downgrading drops
    them and upgrading again brings them back (existing rows: no split, NULL or empty)."""
    engine = get_engine(app)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0010_disputed")
    inspector = inspect(engine)
    assert "selections" not in inspector.get_table_names()
    assert "private_state" not in {c["name"] for c in inspector.get_columns("bundles")}
    assert "closed_ms" not in {c["name"] for c in inspector.get_columns("challenges")}
    migrate(engine)
    inspector = inspect(engine)
    assert "selections" in inspector.get_table_names()
    assert {"private_state", "private_values", "private_reason", "private_released_index"} <= {
        c["name"] for c in inspector.get_columns("bundles")
    }
    assert "closed_ms" in {c["name"] for c in inspector.get_columns("challenges")}


def test_ladder_migration_goes_both_ways(app: Flask) -> None:
    """0012 adds the Ladder's shown values and commitment nonce to bundles; downgrading drops
    them and upgrading again brings them back (existing rows: no Ladder, NULL)."""
    engine = get_engine(app)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0011_split")
    columns = {c["name"] for c in inspect(engine).get_columns("bundles")}
    assert not {"shown", "ladder_nonce"} & columns
    migrate(engine)
    assert {"shown", "ladder_nonce"} <= {c["name"] for c in inspect(engine).get_columns("bundles")}


def test_answers_migration_goes_both_ways(app: Flask) -> None:
    """0013 adds challenges.answers after the Ladder's 0012; downgrading drops it and upgrading
    again brings it back with existing rows answering "lagrange"."""
    engine = get_engine(app)
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0012_ladder")
    assert "answers" not in {c["name"] for c in inspect(engine).get_columns("challenges")}
    assert {"shown", "ladder_nonce"} <= {c["name"] for c in inspect(engine).get_columns("bundles")}
    migrate(engine)
    assert "answers" in {c["name"] for c in inspect(engine).get_columns("challenges")}
