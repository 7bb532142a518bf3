"""The service's database tables (SQLAlchemy 2, typed declarative).

Deliberately small: the database holds metadata and SHA-256 names; every byte of a key,
record or ciphertext lives in the content-addressed blob store (``blobs.py``).

* :class:`Token`     — a bearer token: role, label, SHA-256 of the secret, revocation time.
* :class:`Blob`      — one stored blob: its SHA-256 name and size (the file is in the store).
* :class:`Challenge` — a challenge definition: task, release policy, times, submission limit,
  and the three public artefacts of its key ceremony by blob name (plus the few fields of
  the ceremony record that reads need, copied so a listing does not open blobs).

Revision ``0002_protocol`` adds the networked protocol: :class:`LogEntry` and
:class:`TreeHead` (each challenge's Merkle log, persisted), :class:`UploadedBundle` (labels and
submissions with their release state), :class:`TrusteeContribution`, :class:`StoredRequest`
and :class:`StoredPartial` (round-1 and round-2 messages; their bytes are blobs).

Revision ``0003_pads`` adds trustee-assisted encryption (``cryptoscore/scoring/pad_request.py``,
``cryptoscore/threshold/pad_shares.py``):
:class:`PadRequestRow` (a submitter's request, the bundle that used it),
:class:`PadShareRow` (each trustee's encrypted answer, a blob) and :class:`TrusteePresence`
(when each trustee last polled, to pick active sets of trustees that are online).

Revision ``0009_ceremonies`` adds the relay of dealerless key ceremonies
(``cryptoscore/threshold/dkg``): :class:`CeremonyRow` (the organizer's plan, by its digest)
and :class:`CeremonyMessageRow` (each trustee's signed message per kind, a blob).

Every change to these classes needs an Alembic revision under ``migrations/versions``
(the test suite checks that the migrated schema matches this metadata).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.release import ReleaseState

__all__ = [
    "DESCRIPTION_LENGTH",
    "REASON_LENGTH",
    "STATE_LENGTH",
    "Base",
    "Blob",
    "CeremonyMessageRow",
    "CeremonyRow",
    "Challenge",
    "FinalSelection",
    "LogEntry",
    "LogNode",
    "OutboxJob",
    "PadRequestRow",
    "PadShareRow",
    "Participant",
    "Role",
    "StoredPartial",
    "StoredRequest",
    "Token",
    "TreeHead",
    "TrusteeContribution",
    "TrusteePresence",
    "TrusteeRefusal",
    "UTCDateTime",
    "UploadedBundle",
    "utcnow",
]


class Role(enum.StrEnum):
    """What a bearer token may do (the access matrix is in ``tests/server/test_access.py``)."""

    ADMIN = "admin"
    ORGANIZER = "organizer"
    PARTICIPANT = "participant"
    TRUSTEE = "trustee"
    AUDITOR = "auditor"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (every stored time is UTC)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones and gets naive UTC text. Naive
    values are refused on the way in, so no local time is ever stored by accident.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


REASON_LENGTH = 500
DESCRIPTION_LENGTH = 4000
"""Characters of a challenge's description."""
STATE_LENGTH = 32
"""Width of the bundles table's state column: the longest ``ReleaseState`` value fits."""
"""Characters of a round-1 verdict's reason the bundles table keeps (the column's width)."""

# Explicit constraint names: Alembic needs them to alter or drop constraints later, and the
# same names on SQLite and PostgreSQL keep the two schemas comparable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy's hook


SHA256_HEX = String(64)


class Token(Base):
    """A bearer token. The secret itself is shown once at creation and never stored."""

    __tablename__ = "tokens"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'organizer', 'participant', 'trustee', 'auditor')", "role"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    """Who or what the token is for (a person, a trustee id, a frontend); free text."""
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(SHA256_HEX, unique=True)
    """SHA-256 (hex) of the token string; lookups go by this value."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Blob(Base):
    """A file in the blob store, by SHA-256 name (shared by every row that names it)."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(SHA256_HEX, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Challenge(Base):
    """A challenge: the task, the release policy and the key ceremony it is scored under."""

    __tablename__ = "challenges"
    __table_args__ = (
        CheckConstraint("classes BETWEEN 2 AND 64", "classes"),
        CheckConstraint("n_items >= 1", "n_items"),
        CheckConstraint("submission_limit_per_day >= 1", "submission_limit"),
        CheckConstraint("closes_at > opens_at", "window"),
    )
    # server defaults (the description's) are read when first used, not RETURNed on insert:
    # an insert then names only the columns it sets (the migration tests insert into older
    # revisions of this table)
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012 - SQLAlchemy's own mapping

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """URL slug; also the ``challenge`` field every bundle for this challenge carries."""
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_LENGTH), server_default="")
    """The organizer's text for readers (the web page): service metadata, not part of the
    logged definition, so nothing the trustees or the audit rely on."""
    classes: Mapped[int] = mapped_column(Integer)
    n_items: Mapped[int] = mapped_column(Integer)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``ReleasePolicy.to_json()``: ``{"classes": K, "metrics": [...]}``."""
    params_id: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(SHA256_HEX)
    """SHA-256 of the public context (``PublicContext.key_id``)."""
    threshold: Mapped[int] = mapped_column(Integer)
    roster: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """The ceremony record's roster: ``[{"id", "index", "public_key"}]`` by index."""
    answers: Mapped[str] = mapped_column(String(16), server_default="lagrange")
    """The ceremony record's ``answers`` ("lagrange" or "shamir", revision 0013_answers)."""
    public_context_hash: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    evaluation_keys_hash: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    ceremony_record_hash: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    submission_limit_per_day: Mapped[int] = mapped_column(Integer)
    """Submissions one enrolled identity may make in any 24 hours (``rules`` repeats it)."""
    rules: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """``ChallengeRules.to_json()`` (organizer key, enrolment, quotas); ``None`` for challenges
    created before signed inputs (revision 0007), which take no more uploads."""
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)
    """When the organizer closed a split challenge (its ``close`` entry's time; revision
    0011): private parts are asked from then on."""
    created_by: Mapped[int] = mapped_column(ForeignKey("tokens.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def state(self, now: datetime | None = None) -> str:
        """``upcoming``, ``open`` or ``closed`` at ``now`` (default: the current time)."""
        now = now or utcnow()
        if now < self.opens_at:
            return "upcoming"
        return "open" if now < self.closes_at else "closed"


# -- the networked protocol (revision 0002_protocol) ----------------------------------------------
class LogEntry(Base):
    """One entry of a challenge's append-only log: canonical JSON, as the library formats it.

    ``key`` names the event (``bundle:<digest>``, ``request:<id>``, ...) and is unique per
    challenge, so a retried job cannot log the same event twice.
    """

    __tablename__ = "log_entries"
    __table_args__ = (UniqueConstraint("challenge_id", "key", name="uq_log_entries_key"),)

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(200))
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogNode(Base):
    """One node of a challenge's Merkle tree (``transparency/log.py``, ``NodeStore``): the
    hash of the complete subtree of ``2**level`` leaves starting at leaf
    ``position * 2**level``; level 0 holds the leaf hashes. Kept so that the log grows without
    being rebuilt: an append writes one leaf and the nodes it completes, a root or a proof
    reads O(log size) rows."""

    __tablename__ = "log_nodes"

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Base):
    """A signed tree head of a challenge's log (``SignedTreeHead.to_json()``), one per size."""

    __tablename__ = "tree_heads"

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sth: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UploadedBundle(Base):
    """An uploaded bundle (the labels, or a submission) and where it is in the release.

    ``state``: a :class:`~cryptoscore.protocol.release.ReleaseState` value, the library's own
    spelling (the CHECK constraint is built from the enum; the API shows the same value).
    """

    __tablename__ = "bundles"
    __table_args__ = (
        CheckConstraint("kind IN ('labels', 'predictions')", "kind"),
        CheckConstraint(
            "state IN (" + ", ".join(f"'{s.value}'" for s in ReleaseState) + ")", "state"
        ),
    )

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    digest: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(100))
    """The uploader's token name (what the log and the leaderboard show)."""
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"), index=True)
    state: Mapped[str] = mapped_column(
        String(STATE_LENGTH), default=ReleaseState.AWAITING_CONTRIBUTIONS.value
    )
    reason: Mapped[str] = mapped_column(String(REASON_LENGTH), default="")
    active_set: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    values: Mapped[dict[str, int] | None] = mapped_column(JSON, default=None)
    released_index: Mapped[int | None] = mapped_column(Integer, default=None)
    """Log index of the release entry: the leaderboard's projection and tie-break."""
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    signer: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    """The Ed25519 key (hex) that signed the upload (``None`` before revision 0007)."""
    signature: Mapped[str | None] = mapped_column(String(128), default=None)
    logged_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """The ``time`` of its log entry (Unix ms): what quotas are counted in."""
    private_state: Mapped[str | None] = mapped_column(String(STATE_LENGTH), default=None)
    """A split challenge's final submission after the close: ``pending``, then ``scoring``,
    ``released`` or ``disputed`` (its private part, round 3); None otherwise (revision 0011).
    ``state``, ``values`` and ``released_index`` are then its public part's."""
    private_values: Mapped[dict[str, int] | None] = mapped_column(JSON, default=None)
    private_reason: Mapped[str] = mapped_column(
        String(REASON_LENGTH), default="", server_default=""
    )
    private_released_index: Mapped[int | None] = mapped_column(Integer, default=None)
    """Log index of the private part's ``part_release`` entry."""
    shown: Mapped[dict[str, int] | None] = mapped_column(JSON, default=None)
    """Under the Ladder: the shown values (``{"correct": s}``) its ``ladder_release`` logged;
    ``values`` stays the exact ones, which only the service and the restricted audit bundle
    hold (revision 0012, docs/design.md "Ladder")."""
    ladder_nonce: Mapped[str | None] = mapped_column(String(64), default=None)
    """Under the Ladder: the nonce (hex) of the commitment to ``values``."""


class FinalSelection(Base):
    """A participant's signed choice of its final submissions (a split challenge; revision
    0011), as logged: only the highest ``sequence`` of an identity counts."""

    __tablename__ = "selections"

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    identity: Mapped[str] = mapped_column(String(64), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    submissions: Mapped[list[str]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(String(128))
    logged_ms: Mapped[int] = mapped_column(BigInteger)


class TrusteeContribution(Base):
    """A trustee's signed round-1 randomness for one bundle (at most t per bundle)."""

    __tablename__ = "contributions"

    challenge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bundle: Mapped[str] = mapped_column(String(64), primary_key=True)
    trustee: Mapped[str] = mapped_column(String(64), primary_key=True)
    randomness: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(128), default=None)
    """Ed25519, hex; NULL only for contributions stored before migration 0006."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def contribution(self) -> Contribution:
        """The signed record (FormatError for a pre-0006 row without a signature)."""
        return Contribution(
            self.challenge_id,
            self.bundle,
            self.trustee,
            bytes.fromhex(self.randomness),
            bytes.fromhex(self.signature or ""),
        )


class StoredRequest(Base):
    """A decryption request: its record and the aggregate ciphertext it names, as blobs."""

    __tablename__ = "requests"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), index=True)
    bundle: Mapped[str] = mapped_column(String(64))
    """The bundle (round 1) or the submission (round 2) the request belongs to."""
    round: Mapped[int] = mapped_column(Integer)
    request_blob: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    aggregate_blob: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    trustees: Mapped[list[str]] = mapped_column(JSON)
    """Roster ids of the active set."""
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoredPartial(Base):
    """A trustee's partial decryption for one request (one per trustee and request)."""

    __tablename__ = "partials"

    request_id: Mapped[str] = mapped_column(ForeignKey("requests.request_id"), primary_key=True)
    trustee: Mapped[str] = mapped_column(String(64), primary_key=True)
    blob: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PadRequestRow(Base):
    """A submitter's pad request (``PadRequest.to_bytes()``) and the bundle that used it."""

    __tablename__ = "pad_requests"

    digest: Mapped[str] = mapped_column(SHA256_HEX, primary_key=True)
    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), index=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    seed: Mapped[str] = mapped_column(SHA256_HEX, unique=True)
    """The submitter's seed (hex): one request per seed, ever."""
    c1_seed: Mapped[str] = mapped_column(SHA256_HEX, unique=True)
    """``PadRequest.c1_seed`` (hex): what a bundle encrypted with these pads carries."""
    record: Mapped[bytes] = mapped_column(LargeBinary)
    trustees: Mapped[list[str]] = mapped_column(JSON)
    """Roster ids of the active set."""
    bundle: Mapped[str | None] = mapped_column(SHA256_HEX, default=None)
    """The uploaded bundle encrypted with these pads (at most one)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    requester: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    """The Ed25519 key (hex) that signed the request (``None`` before revision 0007)."""
    signature: Mapped[str | None] = mapped_column(String(128), default=None)
    logged_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class Participant(Base):
    """An identity enrolled in a challenge (``Enrolment``, logged) and the token that did it."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("challenge_id", "token_id"),)  # one identity per token

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    identity: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Ed25519 public key, hex."""
    name: Mapped[str] = mapped_column(String(64))
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id"))
    record: Mapped[bytes] = mapped_column(LargeBinary)
    """``Enrolment.to_bytes()``."""
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxJob(Base):
    """A job written in the same transaction as the state that needs it, until it is handed
    to the queue (``job_outbox.py``)."""

    __tablename__ = "job_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"))
    digest: Mapped[str] = mapped_column(SHA256_HEX)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrusteeRefusal(Base):
    """A task a trustee refused, and why (its own words): one row per trustee and task, the
    reason of its latest refusal. Shown to the task's owner and the organizer."""

    __tablename__ = "trustee_refusals"
    __table_args__ = (CheckConstraint("task IN ('pads', 'contributions', 'requests')", "task"),)

    challenge_id: Mapped[str] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    trustee: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    """The pad request digest, the bundle digest, or the decryption request id."""
    reason: Mapped[str] = mapped_column(String(REASON_LENGTH))
    refused_at: Mapped[datetime] = mapped_column(default=utcnow)


class PadShareRow(Base):
    """One trustee's answer to a pad request (``PadShare.to_bytes()``, a blob)."""

    __tablename__ = "pad_shares"

    request: Mapped[str] = mapped_column(ForeignKey("pad_requests.digest"), primary_key=True)
    trustee: Mapped[str] = mapped_column(String(64), primary_key=True)
    blob: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrusteePresence(Base):
    """When a trustee (by roster id) last asked for its tasks."""

    __tablename__ = "trustee_presence"

    trustee: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


# -- the ceremony relay (revision 0009_ceremonies) -------------------------------------------------
class CeremonyRow(Base):
    """A dealerless key ceremony the service relays: the organizer's plan
    (``CeremonyPlan.to_bytes()``, small: kept in the row) and the fields listings need."""

    __tablename__ = "ceremonies"

    id: Mapped[str] = mapped_column(SHA256_HEX, primary_key=True)
    """The plan's SHA-256 (hex): the ceremony id every message names."""
    plan: Mapped[bytes] = mapped_column(LargeBinary)
    params_id: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)
    roster: Mapped[list[str]] = mapped_column(JSON)
    """The roster's trustee ids, in index order."""
    created_by: Mapped[str] = mapped_column(String(100))
    """The organizer token's name."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CeremonyMessageRow(Base):
    """One trustee's signed message of one kind (``SignedMessage.to_bytes()``, a blob): at most
    one per ceremony, kind and trustee — a second, different one is equivocation, refused."""

    __tablename__ = "ceremony_messages"
    __table_args__ = (
        UniqueConstraint("ceremony_id", "kind", "trustee_id", name="uq_ceremony_messages_sender"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ceremony_id: Mapped[str] = mapped_column(ForeignKey("ceremonies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    round: Mapped[int] = mapped_column(Integer)
    trustee_id: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(SHA256_HEX)
    """SHA-256 (hex) of the record without its signature (what the transcript names)."""
    previous: Mapped[str] = mapped_column(SHA256_HEX)
    blob: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    """The message's bytes, signature included, by SHA-256."""
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
