"""marshmallow schemas: every request body the service reads and every JSON body it writes.

The OpenAPI document (``openapi.py``) is generated from these classes, so a field changes in
one place. Request schemas reject unknown fields (marshmallow's default ``RAISE``); a body
that fails them is a 422 problem with the field messages in ``errors``.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from cryptoscore.protocol.release import ReleaseState
from cryptoscore.protocol.rules import MAX_ENROLLED, MAX_FINALS
from cryptoscore.scoring.policy import METRICS
from cryptoscore.transparency.leaderboard import RANKING_RULE, VIEWS, Z_95
from cryptoscore_server.models import DESCRIPTION_LENGTH, Role, utcnow

__all__ = [
    "BlobRefSchema",
    "CeremonyDetailSchema",
    "CeremonyListSchema",
    "CeremonyMessageListSchema",
    "CeremonyMessageSchema",
    "CeremonySchema",
    "ChallengeBlobsSchema",
    "ChallengeCreateSchema",
    "ChallengeListSchema",
    "ChallengeSchema",
    "HealthSchema",
    "PolicySchema",
    "ProblemSchema",
    "TokenCreateSchema",
    "TokenCreatedSchema",
    "TokenListSchema",
    "TokenSchema",
    "TrusteeSchema",
    "dump",
]

#: Challenge ids: lower-case letters, digits and inner hyphens, 1..64 characters (URL-safe,
#: and short enough for the ``challenge`` field of a bundle).
CHALLENGE_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
ROLES = [r.value for r in Role]
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$")


def dump(schema: Schema, obj: Any) -> dict[str, Any]:
    """``schema.dump(obj)`` typed as the JSON object it is (for view return values)."""
    out: dict[str, Any] = schema.dump(obj)
    return out


class ProblemSchema(Schema):
    """RFC 9457 problem details (the body of every error response)."""

    type = fields.String(required=True, metadata={"description": "URI naming the problem kind"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String(metadata={"description": "the request path"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={"description": "422 only: field name → messages"},
    )
    part = fields.String(metadata={"description": "the upload part the problem is in"})
    incident = fields.String(metadata={"description": "500 only: id of the logged incident"})
    check = fields.String(metadata={"description": "503 only: the dependency that failed"})


# -- health ---------------------------------------------------------------------------------
class HealthSchema(Schema):
    """Service health."""

    status = fields.String(required=True, metadata={"example": "ok"})
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "readiness only: each dependency → ok / not configured"},
    )


# -- tokens ---------------------------------------------------------------------------------
class TokenCreateSchema(Schema):
    """A token to create."""

    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    name = fields.String(
        required=True,
        validate=[
            validate.Length(1, 100),
            validate.Predicate("isprintable", error="must be printable characters only"),
        ],
        metadata={"description": "who or what the token is for"},
    )


class TokenSchema(Schema):
    """A token as listed: never the token itself."""

    id = fields.Integer(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    name = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    revoked_at = fields.AwareDateTime(allow_none=True, required=True)
    active = fields.Boolean(required=True)


class TokenCreatedSchema(TokenSchema):
    """The created token, with the token itself (shown once)."""

    token = fields.String(
        required=True,
        metadata={"description": "the bearer token; shown this once, stored only as a hash"},
    )


class TokenListSchema(Schema):
    """Every token, oldest first."""

    tokens = fields.List(fields.Nested(TokenSchema), required=True)


# -- challenges -----------------------------------------------------------------------------
def _printable_lines(text: str) -> None:
    """Printable characters and line breaks (``\n``) only: no control characters."""
    if not all(ch.isprintable() or ch == "\n" for ch in text):
        raise ValidationError("must be printable characters and line breaks only")


class SplitCreateSchema(Schema):
    """A challenge's public/private split (``protocol/rules.SplitRule``); it closes at the
    challenge's ``closes_at``."""

    public_items = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "how many test items are public (fewer than n_items)"},
    )
    finals = fields.Integer(
        load_default=1,
        strict=True,
        validate=validate.Range(1, MAX_FINALS),
        metadata={"description": "final submissions per identity scored on the private part"},
    )


class DpCreateSchema(Schema):
    """Differential-privacy noise on every release (``protocol/rules.DpRule``)."""

    rho = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(min=1e-6, max=100.0),
        metadata={"description": "zCDP rho of one release (noise by every trustee)"},
    )
    budget = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(min=1e-6, max=100_000.0),
        metadata={"description": "rho_total: what one identity's releases may add up to"},
    )


class SelectionCreateSchema(Schema):
    """A participant's signed choice of its final submissions (a split challenge)."""

    sequence = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, (1 << 53) - 1),
        metadata={"description": "higher than every earlier selection of this identity"},
    )
    submissions = fields.List(
        fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$", error="64 lower-case hex")),
        required=True,
        validate=validate.Length(1, MAX_FINALS),
        metadata={"description": "the predictions bundles (digests) chosen as final"},
    )
    signature = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{128}$", error="128 lower-case hex digits"),
        metadata={"description": "Ed25519 over signed_inputs.selection_message (hex)"},
    )


class SelectionSchema(Schema):
    challenge = fields.String(required=True)
    identity = fields.String(required=True)
    sequence = fields.Integer(required=True)
    submissions = fields.List(fields.String(), required=True)
    index = fields.Integer(required=True, metadata={"description": "its log entry's index"})


class CloseSchema(Schema):
    challenge = fields.String(required=True)
    closed_ms = fields.Integer(required=True, metadata={"description": "the close entry's time"})
    index = fields.Integer(required=True, metadata={"description": "its log entry's index"})
    finals = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "submissions whose private part is asked of the trustees"},
    )


class ChallengeCreateSchema(Schema):
    """The JSON part ``challenge`` of a challenge upload."""

    id = fields.String(
        required=True,
        validate=validate.Regexp(
            CHALLENGE_ID, error="1-64 lower-case letters, digits and inner hyphens"
        ),
    )
    name = fields.String(
        required=True,
        validate=[
            validate.Length(1, 200),
            validate.Predicate("isprintable", error="must be printable characters only"),
        ],
    )
    description = fields.String(
        load_default="",
        validate=[validate.Length(0, DESCRIPTION_LENGTH), _printable_lines],
        metadata={"description": "for readers (the web page); not part of the logged definition"},
    )
    classes = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(2, 64),
        metadata={"description": "number of classes; 2 is a binary task"},
    )
    n_items = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "test items"},
    )
    metrics = fields.List(
        fields.String(validate=validate.OneOf(METRICS)),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "what the release policy lets trustees decrypt"},
    )
    submission_limit_per_day = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, 1000),
        metadata={"description": "submissions per enrolled identity in any 24 hours"},
    )
    pad_requests_per_day = fields.Integer(
        strict=True,
        validate=validate.Range(1, 1000),
        metadata={"description": "pad requests per identity in any 24 hours (default 2x)"},
    )
    organizer_key = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{64}$", error="64 lower-case hex digits"),
        metadata={"description": "the organizer's Ed25519 public key (hex): signs the labels"},
    )
    enrolment = fields.String(
        load_default="open",
        validate=validate.OneOf(["open", "invite"]),
        metadata={"description": "open: any identity may enrol; invite: the invited only"},
    )
    invited = fields.List(
        fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$", error="64 lower-case hex")),
        load_default=list,
        validate=validate.Length(max=10_000),
        metadata={"description": "Ed25519 public keys (hex) that may enrol (invite only)"},
    )
    max_enrolled = fields.Integer(
        strict=True,
        validate=validate.Range(1, MAX_ENROLLED),
        metadata={
            "description": "open enrolment only: at most this many identities may enrol "
            "(default: no cap)"
        },
    )
    opens_at = fields.AwareDateTime(required=True, metadata={"description": "ISO 8601 with offset"})
    closes_at = fields.AwareDateTime(
        required=True, metadata={"description": "ISO 8601 with offset"}
    )
    pad_sets = fields.String(
        load_default="checked",
        validate=validate.OneOf(["checked", "any"]),
        metadata={
            "description": 'which pad sets a submitter may name (docs/design.md, "Checked pad '
            "sets\"): checked (default) — enough trustees that every bundle's round 1 and "
            "score are checked against lying trustees; any — availability first: as few as t, "
            "whose releases are not checked"
        },
    )
    ladder_margin = fields.String(
        validate=validate.Regexp(r"^(0\.[0-9]{1,9}|[0-9]{1,9}/[0-9]{1,9})$"),
        metadata={
            "description": 'the Ladder (docs/design.md, "Ladder"): a shown score changes only '
            "when a submission beats it by more than this fraction η of the items scored (the "
            "public part, or every item): a decimal or n/d, 0 < η < 1, η times the items a "
            "whole number (absent: exact counts)"
        },
    )
    split = fields.Nested(
        SplitCreateSchema,
        metadata={
            "description": "a public/private split: public scores until closes_at (the split's "
            "close), the private part of each identity's finals after the organizer closes"
        },
    )

    dp = fields.Nested(
        DpCreateSchema,
        metadata={
            "description": "differential-privacy noise added by the trustees inside the "
            "threshold decryption, with a per-identity budget (absent: exact counts)"
        },
    )

    @post_load
    def _to_utc(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        # stored and returned in UTC, whatever offset the client wrote
        for key in ("opens_at", "closes_at"):
            data[key] = data[key].astimezone(UTC)
        return data

    @validates_schema
    def _check_window(self, data: dict[str, Any], **_kwargs: Any) -> None:
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens is not None and closes is not None and closes <= opens:
            raise ValidationError("must be later than opens_at", "closes_at")
        if closes is not None and closes <= utcnow():
            raise ValidationError("must be in the future", "closes_at")
        invited = data.get("invited") or []
        if data.get("enrolment") == "invite" and not invited:
            raise ValidationError("an invite-only challenge invites at least one key", "invited")
        if data.get("enrolment") == "open" and invited:
            raise ValidationError("an open challenge invites nobody in particular", "invited")
        if data.get("enrolment") == "invite" and data.get("max_enrolled") is not None:
            raise ValidationError("an invite list is its own cap", "max_enrolled")
        if len(set(invited)) != len(invited):
            raise ValidationError("a key is invited twice", "invited")


class PolicySchema(Schema):
    """The release policy: what may ever be decrypted."""

    classes = fields.Integer(required=True)
    metrics = fields.List(fields.String(), required=True)
    aggregates = fields.List(
        fields.String(), required=True, metadata={"description": "released aggregates, in order"}
    )


class TrusteeSchema(Schema):
    """One roster entry of the key ceremony."""

    id = fields.String(required=True)
    index = fields.Integer(required=True, metadata={"description": "Shamir evaluation point"})
    public_key = fields.String(required=True, metadata={"description": "Ed25519, hex"})


class BlobRefSchema(Schema):
    """A stored file, by SHA-256."""

    sha256 = fields.String(required=True, validate=SHA256)
    size = fields.Integer(required=True)


class ChallengeBlobsSchema(Schema):
    """The challenge's key ceremony files."""

    public_context = fields.Nested(BlobRefSchema, required=True)
    evaluation_keys = fields.Nested(BlobRefSchema, required=True)
    ceremony_record = fields.Nested(BlobRefSchema, required=True)


class ChallengeSchema(Schema):
    """A challenge (public information only)."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True, metadata={"description": "the organizer's text"})
    classes = fields.Integer(required=True)
    n_items = fields.Integer(required=True)
    policy = fields.Nested(PolicySchema, required=True)
    params = fields.String(required=True, metadata={"description": "parameter set id"})
    key_id = fields.String(required=True, metadata={"description": "SHA-256 of the public context"})
    threshold = fields.Integer(required=True, metadata={"description": "trustees needed (t of n)"})
    trustees = fields.List(fields.Nested(TrusteeSchema), required=True)
    blobs = fields.Nested(ChallengeBlobsSchema, required=True)
    submission_limit_per_day = fields.Integer(required=True)
    rules = fields.Dict(
        required=True,
        allow_none=True,
        metadata={
            "description": "ChallengeRules JSON: organizer key, enrolment, invited keys, "
            "submissions_per_day, pad_requests_per_day, max_enrolled (open enrolment's cap, "
            "absent if none) (null: created before signed inputs)"
        },
    )
    leakage = fields.Dict(
        required=True,
        allow_none=True,
        metadata={
            "description": "what the released counts can give away of the labels "
            "(cryptoscore.protocol.leakage.LabelLeakage JSON: the information bound, the "
            "demonstrated attack's rate, per identity and per enrolment; 'statement' says it "
            "in words); null: created before signed inputs"
        },
    )
    pad_sets = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(["checked", "any"]),
        metadata={
            "description": 'which pad sets a submitter may name (docs/design.md, "Checked pad '
            'sets"): checked — enough trustees that every round 1 and score is checked against '
            "lying trustees (trustees refuse fewer); any — as few as t, and such bundles' "
            "releases are not checked; null: created before signed inputs"
        },
    )
    pad_sets_warning = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "what pad_sets any gives up, in words (null under checked)"},
    )
    opens_at = fields.AwareDateTime(required=True)
    closes_at = fields.AwareDateTime(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["upcoming", "open", "closed"]))
    created_at = fields.AwareDateTime(required=True)
    log_key = fields.String(
        required=True,
        metadata={"description": "the service's Ed25519 log key (hex): verifies receipts"},
    )


class ChallengeListSchema(Schema):
    """Every challenge, oldest first."""

    challenges = fields.List(fields.Nested(ChallengeSchema), required=True)


# -- the protocol ---------------------------------------------------------------------------
class LabelsUploadedSchema(Schema):
    """The labels, logged, with the organizer's receipt."""

    bundle = fields.String(required=True, validate=SHA256)
    state = fields.String(required=True)
    receipt = fields.Dict(required=True, metadata={"description": "cryptoscore Receipt JSON"})


class SubmissionUploadedSchema(Schema):
    """The submission, logged, with the participant's receipt."""

    submission = fields.String(required=True, validate=SHA256)
    state = fields.String(required=True)
    receipt = fields.Dict(required=True, metadata={"description": "cryptoscore Receipt JSON"})


SUBMISSION_STATES = [state.value for state in ReleaseState]
"""The library's spelling (``ReleaseState``), as the database keeps it."""


_REASON = (
    "why it is stuck, invalid or disputed, where known (a trustee's refusal, a failed check, "
    "the release invariant its combined values broke)"
)
_INVARIANT = (
    "disputed: the release invariant the combined values broke (count-range, "
    "correct-plus-errors, confusion-total, correct-diagonal, errors-off-diagonal, "
    "label-histogram, validity-domain, noise-residual-domain), or answers-decoding: the "
    "trustees' answers were too far off one polynomial to decode (the reason names the "
    "suspects, no value); null otherwise"
)
_SHOWN_PART = "a split challenge: state and values are of this part"
_PRIVATE_PART = "a split challenge's final after the close: its private part"
_WAITING_FOR = (
    "what an undecided bundle waits for, e.g. 'round 1: 1 of 2 trustee contributions' "
    "(empty once decided)"
)


def _nullable_string(description: str) -> fields.String:
    """A response's string that is always present, null where it does not apply."""
    return fields.String(required=True, allow_none=True, metadata={"description": description})


def _nullable_nested(schema: type[Schema], description: str) -> fields.Nested:
    """A response's nested record that is always present, null where it does not apply."""
    return fields.Nested(
        schema, required=True, allow_none=True, metadata={"description": description}
    )


def _part_choice(description: str) -> fields.String:
    """A split challenge's part, public or private (absent without a split)."""
    return fields.String(
        validate=validate.OneOf(["public", "private"]), metadata={"description": description}
    )


class PrivatePartSchema(Schema):
    """A final submission's private part (a split challenge, after the close)."""

    state = fields.String(
        required=True,
        validate=validate.OneOf(["pending", "scoring", "released", "disputed"]),
        metadata={"description": "pending: its request is not asked yet"},
    )
    values = fields.Dict(
        keys=fields.String(), values=fields.Integer(), allow_none=True, required=True
    )
    reason = fields.String(required=True)


class SubmissionStatusSchema(Schema):
    """A submission's place in the release, and its released values once released."""

    submission = fields.String(required=True)
    participant = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(SUBMISSION_STATES))
    reason = fields.String(required=True, metadata={"description": _REASON})
    waiting_for = fields.String(required=True, metadata={"description": _WAITING_FOR})
    submitted_at = fields.AwareDateTime(required=True)
    values = fields.Dict(
        keys=fields.String(), values=fields.Integer(), allow_none=True, required=True
    )
    invariant = _nullable_string(_INVARIANT)
    part = _nullable_string(_SHOWN_PART)
    private = _nullable_nested(PrivatePartSchema, _PRIVATE_PART)


LEADERBOARD_DEFAULT_LIMIT = 100
LEADERBOARD_MAX_LIMIT = 500


class LeaderboardQuerySchema(Schema):
    """The query of ``GET /challenges/{id}/leaderboard`` (unknown parameters are refused)."""

    view = fields.String(
        load_default="best",
        validate=validate.OneOf(VIEWS),
        metadata={"description": "best: each participant's best submission; all: every one"},
    )
    limit = fields.Integer(
        load_default=LEADERBOARD_DEFAULT_LIMIT,
        validate=validate.Range(1, LEADERBOARD_MAX_LIMIT),
        metadata={"description": f"rows per page, 1..{LEADERBOARD_MAX_LIMIT}"},
    )
    offset = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={"description": "rows to skip (0-based); past the end gives no rows"},
    )
    part = _part_choice(
        "a split challenge: which part's scores (default: public until the organizer closes "
        "the challenge, private after); refused without a split"
    )


class LeaderboardRowSchema(Schema):
    """One released submission, ranked (``cryptoscore.transparency.leaderboard``)."""

    rank = fields.Integer(required=True, metadata={"description": "ties share a rank"})
    participant = fields.String(required=True)
    submission = fields.String(required=True, metadata={"description": "the bundle's SHA-256"})
    values = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "the released aggregates (exact counts), as logged"},
    )
    n = fields.Integer(required=True, metadata={"description": "items scored (n_items)"})
    correct = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "released correct, else n - errors, else the confusion diagonal"},
    )
    accuracy = fields.Float(required=True, allow_none=True, metadata={"description": "correct / n"})
    accuracy_low = fields.Float(
        required=True, allow_none=True, metadata={"description": "Wilson score 95% lower bound"}
    )
    accuracy_high = fields.Float(
        required=True, allow_none=True, metadata={"description": "Wilson score 95% upper bound"}
    )
    submitted_at = fields.AwareDateTime(required=True)
    part = _part_choice("a split challenge: the part these values score (n its size)")
    release = fields.String(
        validate=validate.OneOf(["dp", "ladder"]),
        metadata={
            "description": "dp: these values carry the trustees' noise; ladder: values is the "
            "Ladder's shown count {correct}, not the exact values (absent: exact counts)"
        },
    )
    expected_abs_error = fields.Float(
        metadata={"description": "dp: E|released correct - exact correct| (Gaussian approx.)"}
    )
    noise_variance = fields.Float(
        metadata={"description": "dp: the variance of correct's noise, widening the interval"}
    )
    ladder_margin = fields.Integer(
        metadata={"description": "under the Ladder: its margin in counts of n"}
    )


class IntervalSchema(Schema):
    """How ``accuracy_low`` / ``accuracy_high`` are computed."""

    method = fields.String(required=True, metadata={"example": "wilson"})
    level = fields.Float(required=True, metadata={"example": 0.95})
    z = fields.Float(required=True, metadata={"example": Z_95})


class DisputedSubmissionSchema(Schema):
    """A submission whose combined score broke a release invariant: nothing of it is
    released, so it is not ranked; shown so that nobody mistakes it for a missing one."""

    participant = fields.String(required=True)
    submission = fields.String(required=True)
    invariant = fields.String(required=True, metadata={"description": _INVARIANT})
    reason = fields.String(required=True)
    submitted_at = fields.AwareDateTime(required=True)


class LeaderboardSplitSchema(Schema):
    """A split challenge's published sizes and its close (``protocol/rules.SplitRule``)."""

    public_items = fields.Integer(required=True)
    private_items = fields.Integer(required=True)
    finals = fields.Integer(required=True)
    closes_at = fields.AwareDateTime(required=True)
    closed = fields.Boolean(required=True, metadata={"description": "the organizer has closed"})


class LeaderboardReleaseSchema(Schema):
    """Which release policy made the numbers: exact counts, or differential-privacy noise
    (``threshold/dp_noise.py``) with its parameters."""

    kind = fields.String(required=True, validate=validate.OneOf(["exact", "dp"]))
    rho = fields.Float(metadata={"description": "zCDP rho per release"})
    budget = fields.Float(metadata={"description": "rho_total per identity"})
    releases_per_identity = fields.Integer()
    sigma = fields.Float(metadata={"description": "each draw's discrete Gaussian sigma"})
    trustees = fields.Integer(metadata={"description": "t: partials in every release"})
    answers = fields.String(
        validate=validate.OneOf(["lagrange", "shamir"]),
        metadata={"description": "how the key's trustees answer (their noise: own or shared)"},
    )
    summed_draws = fields.Integer(
        metadata={
            "description": "draws added up in every release: t (lagrange), C(n, t-1) (shamir)"
        }
    )
    sensitivity = fields.Float(metadata={"description": "L2 sensitivity of the noised vector"})
    interval = fields.String(metadata={"description": "how the interval is widened"})
    expected_error = fields.String(metadata={"description": "how expected_abs_error is stated"})


class LeaderboardSchema(Schema):
    """A page of the leaderboard, with the rule that ranks it and the policy behind the
    numbers."""

    challenge = fields.String(required=True)
    view = fields.String(required=True, validate=validate.OneOf(VIEWS))
    policy = fields.Nested(PolicySchema, required=True)
    n_items = fields.Integer(required=True)
    ranking_rule = fields.String(required=True, metadata={"example": RANKING_RULE})
    interval = fields.Nested(IntervalSchema, required=True)
    total = fields.Integer(required=True, metadata={"description": "rows in the whole view"})
    offset = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    next_offset = fields.Integer(
        required=True, allow_none=True, metadata={"description": "the next page; null: last"}
    )
    rows = fields.List(fields.Nested(LeaderboardRowSchema), required=True)
    part = _nullable_string("the part shown (a split challenge); null without a split")
    split = _nullable_nested(
        LeaderboardSplitSchema, "the challenge's split, and whether it has closed"
    )
    disputed = fields.List(
        fields.Nested(DisputedSubmissionSchema),
        required=True,
        metadata={"description": "submissions whose score was disputed: never ranked"},
    )
    release = fields.Nested(
        LeaderboardReleaseSchema,
        required=True,
        metadata={"description": "which release policy made these numbers"},
    )


class ContributionTaskSchema(Schema):
    """A bundle awaiting this trustee's contribution."""

    challenge = fields.String(required=True)
    bundle = fields.String(required=True)


class RequestTaskSchema(Schema):
    """A decryption request awaiting this trustee's partial."""

    challenge = fields.String(required=True)
    request_id = fields.String(required=True)
    request = fields.String(required=True, metadata={"description": "base64 DecryptionRequest"})


class PadTaskSchema(Schema):
    """A pad request awaiting this trustee's share (``cryptoscore.threshold.pad_shares``)."""

    challenge = fields.String(required=True)
    request = fields.String(required=True, metadata={"description": "the request's SHA-256"})
    record = fields.String(required=True, metadata={"description": "base64 PadRequest"})


class TrusteeTasksSchema(Schema):
    """What awaits the calling trustee."""

    contributions = fields.List(fields.Nested(ContributionTaskSchema), required=True)
    requests = fields.List(fields.Nested(RequestTaskSchema), required=True)
    pads = fields.List(fields.Nested(PadTaskSchema), required=True)


class Round1EvidenceSchema(Schema):
    """A bundle's round-1 messages (``cryptoscore.protocol.requests.Round1Evidence``), for
    trustees."""

    bundle = fields.String(required=True)
    contributions = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "base64 Contribution records, each signed by its trustee"},
    )
    requests = fields.List(
        fields.String(), required=True, metadata={"description": "base64 DecryptionRequest"}
    )
    partials = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "request id -> base64 PartialDecryption records"},
    )


class QuotaUseSchema(Schema):
    """How much of a daily limit one identity used (in the last 24 hours of log time)."""

    used = fields.Integer(required=True)
    per_day = fields.Integer(required=True)


class QuotaSchema(Schema):
    """An enrolled identity's use of the challenge's daily limits."""

    submissions = fields.Nested(QuotaUseSchema, required=True)
    pad_requests = fields.Nested(QuotaUseSchema, required=True)


class EnrolmentSchema(Schema):
    """An identity enrolled in a challenge."""

    challenge = fields.String(required=True)
    identity = fields.String(required=True, metadata={"description": "Ed25519 public key, hex"})
    name = fields.String(required=True)
    quota = fields.Nested(
        QuotaSchema,
        metadata={
            "description": "GET only: submissions and pad requests this identity made in the "
            "last 24 hours of log time, and the limits (a client checks before asking for pads)"
        },
    )


class LabelsStatusSchema(Schema):
    """The challenge's labels: uploaded or not, and where they are in round 1."""

    uploaded = fields.Boolean(required=True)
    bundle = fields.String(required=True, allow_none=True, validate=SHA256)
    state = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(SUBMISSION_STATES)
    )
    reason = fields.String(required=True, metadata={"description": _REASON})
    waiting_for = fields.String(required=True, metadata={"description": _WAITING_FOR})
    submitted_at = fields.AwareDateTime(required=True, allow_none=True)
    pad_requests = fields.Nested(
        QuotaUseSchema,
        required=True,
        metadata={"description": "pad requests the organizer key made in the last 24 hours"},
    )


class PadRequestCreateSchema(Schema):
    """A submitter asks the trustees for encryption pads for one bundle."""

    kind = fields.String(required=True, validate=validate.OneOf(["predictions", "labels"]))
    seed = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{64}$"),
        metadata={"description": "32 fresh random bytes, hex: the seed of every c1"},
    )
    recipient = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{64}$"),
        metadata={"description": "the submitter's X25519 public key, hex"},
    )
    trustees = fields.List(
        fields.String(validate=validate.Length(1, 64)),
        metadata={
            "description": "roster ids to ask: exactly t for additive answers, at least t for "
            "Shamir answers, none named a liar in the log (default: every roster trustee not "
            "named a liar for Shamir answers, the t seen most recently for additive answers)"
        },
    )
    signature = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{128}$"),
        metadata={
            "description": "Ed25519 signature (hex) of the organizer (labels) or of the "
            "caller's enrolled identity (predictions) over challenge, kind, seed and recipient "
            "(cryptoscore.protocol.signed_inputs.sign_pad_request)"
        },
    )


class PadRequestSchema(Schema):
    """A pad request and the trustees who answered it so far."""

    request = fields.String(required=True, metadata={"description": "SHA-256 of the record"})
    record = fields.String(required=True, metadata={"description": "base64 PadRequest"})
    kind = fields.String(required=True)
    trustees = fields.List(fields.String(), required=True)
    answered = fields.List(fields.String(), required=True)
    ready = fields.Boolean(required=True, metadata={"description": "every share is in"})
    verifiable = fields.Boolean(
        required=True,
        metadata={
            "description": "releases of a bundle encrypted with these pads are checked: Shamir "
            "answers of at least 2t − 1 trustees (the pad set answers the bundle's round 1 and "
            "its score), so any lie of up to t − 1 of them is detected and nothing wrong is "
            "released; false for fewer trustees and for additive answers, whose releases are "
            "not checked"
        },
    )
    bundle = fields.String(allow_none=True, metadata={"description": "the bundle that used it"})
    refused = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "trustee id: why it refused this request (its own words)"},
    )


class RefusalReportSchema(Schema):
    """A trustee says it refused a task, and why."""

    challenge = fields.String(required=True, validate=validate.Length(1, 64))
    task = fields.String(
        required=True, validate=validate.OneOf(["pads", "contributions", "requests"])
    )
    subject = fields.String(
        required=True,
        validate=[
            validate.Length(1, 128),
            validate.Predicate("isprintable", error="must be printable characters only"),
        ],
        metadata={"description": "pad request digest, bundle digest, or request id"},
    )
    reason = fields.String(
        required=True,
        validate=[
            validate.Length(1, 500),
            validate.Predicate("isprintable", error="must be printable characters only"),
        ],
    )


class RefusalSchema(Schema):
    """A task a trustee refused, and why."""

    trustee = fields.String(required=True)
    task = fields.String(required=True)
    subject = fields.String(required=True)
    reason = fields.String(required=True)
    refused_at = fields.AwareDateTime(required=True)


class RefusalListSchema(Schema):
    """Every refusal of a challenge's tasks, latest first."""

    refusals = fields.List(fields.Nested(RefusalSchema), required=True)


class AcceptedSchema(Schema):
    """A trustee message, stored and logged."""

    challenge = fields.String(required=True)
    bundle = fields.String()
    request_id = fields.String()
    trustee = fields.String(required=True)


class LogHeadSchema(Schema):
    """A signed tree head (``SignedTreeHead.to_json()``)."""

    version = fields.Integer()
    log_id = fields.String()
    size = fields.Integer()
    root = fields.String()
    timestamp_ms = fields.Integer()
    signature = fields.String()


SUBMISSION_EVENTS = (
    "bundle",
    "contribution",
    "request",
    "partial",
    "round1",
    "release",
    "part_release",
    "dispute",
)
"""The log entry types about a submission (``cryptoscore.transparency.entries``)."""


class LoggedEventSchema(Schema):
    """One log entry about a submission, as the log holds it (only the members shown)."""

    index = fields.Integer(required=True, metadata={"description": "the entry's log index"})
    type = fields.String(required=True, validate=validate.OneOf(SUBMISSION_EVENTS))
    time_ms = fields.Integer(metadata={"description": "bundle: when it was logged (Unix ms)"})
    trustee = fields.String(metadata={"description": "contribution, partial: whose"})
    request_id = fields.String(metadata={"description": "request, partial, release, dispute"})
    round = fields.Integer(metadata={"description": "request: 1 (validity) or 2 (score)"})
    circuit = fields.String(metadata={"description": "request: noise/v1, validity/v1, score/v1"})
    verdict = fields.String(metadata={"description": "round1: valid, invalid or disputed"})
    reason = fields.String(metadata={"description": "round1: why invalid; dispute: why"})
    invariant = fields.String(metadata={"description": "dispute: the invariant broken"})
    part = fields.String(metadata={"description": "part_release: public or private"})


class LoggedSubmissionSchema(Schema):
    """A submission as the public log shows it: its bundle entry and every entry about it
    under the latest signed head, and the state they add up to."""

    challenge = fields.String(required=True)
    submission = fields.String(required=True)
    participant = fields.String(required=True, metadata={"description": "the bundle's owner"})
    logged_at = fields.AwareDateTime(
        required=True, allow_none=True, metadata={"description": "the bundle entry's time"}
    )
    state = fields.String(required=True, validate=validate.OneOf(SUBMISSION_STATES))
    reason = fields.String(
        required=True, metadata={"description": "the round-1 verdict's, or the dispute's"}
    )
    values = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        allow_none=True,
        required=True,
        metadata={"description": "the release entry's values (null: not released)"},
    )
    invariant = _nullable_string(_INVARIANT)
    part = _nullable_string(_SHOWN_PART)
    private = _nullable_nested(PrivatePartSchema, _PRIVATE_PART)
    bundle_index = fields.Integer(
        required=True, metadata={"description": "the bundle entry's index: the receipt's"}
    )
    tree_head = fields.Dict(required=True, metadata={"description": "the latest signed head"})
    events = fields.List(fields.Nested(LoggedEventSchema), required=True)


class TrusteePresenceSchema(Schema):
    """A roster trustee and when it last asked the service for its tasks."""

    id = fields.String(required=True)
    index = fields.Integer(required=True)
    last_seen = fields.AwareDateTime(required=True, allow_none=True)
    online = fields.Boolean(required=True)


class TrusteePresenceListSchema(Schema):
    """The challenge's trustees, t of them needed, and which are online."""

    challenge = fields.String(required=True)
    threshold = fields.Integer(required=True)
    online_within = fields.Integer(
        required=True, metadata={"description": "seconds since the last poll that count as online"}
    )
    trustees = fields.List(fields.Nested(TrusteePresenceSchema), required=True)


class LogEntriesSchema(Schema):
    """A page of the log: entries from index ``from`` on, and the latest signed head."""

    tree_head = fields.Dict(required=True)
    entries = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "canonical JSON entries, in log order, at most 5000"},
    )


class ConsistencySchema(Schema):
    """The latest signed head and a proof that it extends the head of size ``from``."""

    tree_head = fields.Dict(required=True)
    consistency = fields.Dict(required=True)


# -- the ceremony relay -----------------------------------------------------------------------
CEREMONY_STATES = ("collecting", "complete", "aborted")


class CeremonyTrusteeSchema(Schema):
    """One roster entry of a ceremony plan."""

    trustee_id = fields.String(required=True)
    index = fields.Integer(required=True, metadata={"description": "Shamir evaluation point"})
    public_key = fields.String(required=True, metadata={"description": "Ed25519, hex"})


class CeremonySchema(Schema):
    """A dealerless key ceremony the service relays: its plan and how far it is."""

    id = fields.String(required=True, metadata={"description": "the plan's SHA-256 (hex)"})
    params = fields.String(required=True, metadata={"description": "parameter set id"})
    threshold = fields.Integer(required=True)
    n = fields.Integer(required=True)
    roster = fields.List(fields.Nested(CeremonyTrusteeSchema), required=True)
    created_by = fields.String(required=True, metadata={"description": "the organizer token"})
    created_at = fields.AwareDateTime(required=True)
    state = fields.String(
        required=True,
        validate=validate.OneOf(CEREMONY_STATES),
        metadata={
            "description": "collecting; complete (every trustee's last message is in); "
            "aborted (a seed was revealed)"
        },
    )
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "message kind → messages posted"},
    )


class CeremonyListSchema(Schema):
    """Ceremonies, oldest first."""

    ceremonies = fields.List(fields.Nested(CeremonySchema), required=True)


class CeremonyMessageSchema(Schema):
    """One posted message: kind, round, sender, digest (of the record without its signature)
    and size in bytes."""

    kind = fields.String(required=True)
    round = fields.Integer(required=True)
    trustee_id = fields.String(required=True)
    digest = fields.String(required=True, validate=SHA256)
    size = fields.Integer(required=True)


class CeremonyMessageListSchema(Schema):
    """Every message of a ceremony, by round and roster index."""

    ceremony = fields.String(required=True)
    messages = fields.List(fields.Nested(CeremonyMessageSchema), required=True)


class CeremonyPostedSchema(Schema):
    """A trustee's message of one kind (digest, size)."""

    trustee_id = fields.String(required=True)
    digest = fields.String(required=True, validate=SHA256)
    size = fields.Integer(required=True)


class CeremonyKindSchema(Schema):
    """One kind of message: who posted it and who has not."""

    kind = fields.String(required=True)
    round = fields.Integer(required=True)
    posted = fields.List(fields.Nested(CeremonyPostedSchema), required=True)
    missing = fields.List(fields.String(), required=True)


class CeremonyDetailSchema(CeremonySchema):
    """A ceremony, and for each kind of message which trustees posted it and which not."""

    kinds = fields.List(fields.Nested(CeremonyKindSchema), required=True)
