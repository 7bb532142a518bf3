"""Challenges: create (organizer, admin), read and list (public), and key downloads.

A challenge is created with one ``multipart/form-data`` request:

* ``challenge``        — JSON (:class:`~cryptoscore_server.schemas.ChallengeCreateSchema`): id,
  name, classes, n_items, metrics, submission_limit_per_day, opens_at, closes_at, and the
  participation rules (``protocol/rules.py``): organizer_key (it signs the labels), enrolment
  (``open`` or ``invite`` with ``invited`` keys), max_enrolled (open enrolment's cap; none if
  absent), pad_requests_per_day (default twice the submission limit), and split (a
  public/private split: ``public_items`` and ``finals``; it closes at ``closes_at``), dp
  (differential-privacy noise: ``rho`` per release and each identity's ``budget``) and
  ladder_margin (the Ladder's η as a decimal string, 0 < η < 1, a whole number of the items
  it scores; docs/design.md "Ladder") and pad_sets (``checked``, the default, or ``any``:
  docs/design.md "Checked pad sets"; the answer states what ``any`` gives up);
* ``ceremony_record``  — the public record of the key ceremony (``CeremonyRecord``);
* ``public_context``   — the public key participants encrypt with (``PublicContext``);
* ``evaluation_keys``  — relinearization and Galois keys for scoring (``EvaluationKeys``).

Everything is checked by the library before anything is stored: each part parses as its
record, the record vouches for both key files (``CeremonyRecord.check_keys``), the parameter
set can hold every count over ``n_items`` items (``ParameterSet.check_count``), and the policy
is allowed for the task (``ReleasePolicy``). Only then are the three files written to the blob
store and the row committed; if the commit fails, the blobs this request created are removed,
so a refused upload leaves the database and the blob store as they were.

The answer, and every read of a challenge, carries ``leakage``: what its released counts can
give away of the labels (``cryptoscore/protocol/leakage.py``), for the leaderboard to show.
The CLI refuses, before sending, what leaks every label to one identity; the service states it.

Downloads: the public context and the ceremony record are public (participants and auditors
verify keys against the record); the evaluation keys (~30 MB) are for trustees and auditors,
who recompute scores with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cryptoscore.errors import CryptoScoreError
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.ladder import LadderRule, margin_counts
from cryptoscore.protocol.leakage import leakage_of_rules
from cryptoscore.protocol.rules import PAD_SETS_ANY_WARNING, ChallengeRules, DpRule, SplitRule
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore_server.auth import current_token, require_roles
from cryptoscore_server.blobs import BlobStore, StoredBlob, get_blob_store, record_blob, send_blob
from cryptoscore_server.bodies import multipart_file_parts, multipart_json_part, require_multipart
from cryptoscore_server.cors import public_read
from cryptoscore_server.db import get_session
from cryptoscore_server.ledger import append_event, log_public_hex, sign_head
from cryptoscore_server.models import Blob, Challenge, Role
from cryptoscore_server.openapi import binary_response, binary_schema, doc
from cryptoscore_server.problems import Problem, library_problem
from cryptoscore_server.schemas import (
    ChallengeCreateSchema,
    ChallengeListSchema,
    ChallengeSchema,
    dump,
)

__all__ = ["FILE_PARTS", "bp", "get_challenge"]

bp = Blueprint("challenges", __name__, url_prefix="/challenges")
A = TypeVar("A")
T = TypeVar("T")

# Upload parts, in the order they are parsed: the small record first, so a wrong upload
# fails before the 30 MB of evaluation keys are loaded into SEAL.
FILE_PARTS = ("ceremony_record", "public_context", "evaluation_keys")

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["challenge", *FILE_PARTS],
                "properties": {
                    "challenge": {"$ref": "#/components/schemas/ChallengeCreate"},
                    "ceremony_record": binary_schema("CeremonyRecord.to_bytes()"),
                    "public_context": binary_schema("PublicContext.to_bytes()"),
                    "evaluation_keys": binary_schema("EvaluationKeys.to_bytes()"),
                },
            },
            "encoding": {"challenge": {"contentType": "application/json"}},
        }
    },
}
_OCTETS = binary_response(
    "The record's bytes",
    headers={"ETag": {"description": "its SHA-256 (hex)", "schema": {"type": "string"}}},
)


def _parse(part: str, parser: Callable[[A], T], value: A) -> T:
    """``parser(value)``, a library error becoming a problem that names the upload part."""
    try:
        return parser(value)
    except CryptoScoreError as exc:
        raise library_problem(exc, part=part) from None


def _challenge_json(row: Challenge, sizes: dict[str, int]) -> dict[str, Any]:
    policy = ReleasePolicy.from_json(row.policy)
    leakage, pad_sets = None, None
    if row.rules is not None:
        rules = ChallengeRules.from_json(row.rules)
        leakage = leakage_of_rules(policy, row.n_items, rules, row.opens_at, row.closes_at)
        pad_sets = rules.pad_sets
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "classes": row.classes,
        "n_items": row.n_items,
        "policy": {**policy.to_json(), "aggregates": list(policy.aggregate_names())},
        "params": row.params_id,
        "key_id": row.key_id,
        "threshold": row.threshold,
        "trustees": row.roster,
        "blobs": {
            part: {"sha256": digest, "size": sizes[digest]}
            for part, digest in (
                ("public_context", row.public_context_hash),
                ("evaluation_keys", row.evaluation_keys_hash),
                ("ceremony_record", row.ceremony_record_hash),
            )
        },
        "submission_limit_per_day": row.submission_limit_per_day,
        "rules": row.rules,
        "leakage": None if leakage is None else leakage.to_json(),
        "pad_sets": pad_sets,
        "pad_sets_warning": PAD_SETS_ANY_WARNING if pad_sets == "any" else None,
        "opens_at": row.opens_at,
        "closes_at": row.closes_at,
        "state": row.state(),
        "created_at": row.created_at,
        "log_key": log_public_hex(),
    }


def _blob_sizes(rows: list[Challenge]) -> dict[str, int]:
    digests = {
        d
        for r in rows
        for d in (r.public_context_hash, r.evaluation_keys_hash, r.ceremony_record_hash)
    }
    if not digests:
        return {}
    blobs = get_session().scalars(select(Blob).where(Blob.sha256.in_(digests)))
    return {b.sha256: b.size for b in blobs}


def get_challenge(challenge_id: str) -> Challenge:
    """The challenge row, or a 404 problem."""
    row = get_session().get(Challenge, challenge_id)
    if row is None:
        raise Problem(404, f"There is no challenge {challenge_id!r}.")
    return row


@bp.post("")
@doc(
    summary="Create a challenge from its definition and its key ceremony's public files",
    description="multipart/form-data: a JSON part `challenge` and three file parts. "
    "Every part is checked with the cryptoscore library before anything is stored.",
    tags=["challenges"],
    request_body=_UPLOAD_BODY,
    responses={201: ChallengeSchema},
    problems=[400, 409, 413, 415, 422],
)
@require_roles(Role.ORGANIZER, Role.ADMIN)
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    require_multipart(("challenge", *FILE_PARTS))
    meta = multipart_json_part("challenge", ChallengeCreateSchema())
    session = get_session()
    if session.get(Challenge, meta["id"]) is not None:
        raise Problem(409, f"A challenge with id {meta['id']!r} exists already.")
    raw = multipart_file_parts(FILE_PARTS)

    record = _parse("ceremony_record", CeremonyRecord.from_bytes, raw["ceremony_record"])
    public = _parse("public_context", PublicContext.from_bytes, raw["public_context"])
    _parse("public_context", record.check_keys, public)
    evaluation = _parse("evaluation_keys", EvaluationKeys.from_bytes, raw["evaluation_keys"])
    _parse("evaluation_keys", lambda e: record.check_keys(public, e), evaluation)
    try:
        public.params.check_count(meta["n_items"], "n_items")
        policy = ReleasePolicy(meta["classes"], tuple(meta["metrics"]))
        rules = ChallengeRules(
            organizer=PublicKey.from_hex(meta["organizer_key"]),
            enrolment=meta["enrolment"],
            invited=tuple(PublicKey.from_hex(k) for k in meta["invited"]),
            submissions_per_day=meta["submission_limit_per_day"],
            pad_requests_per_day=meta.get(
                "pad_requests_per_day", min(1000, 2 * meta["submission_limit_per_day"])
            ),
            max_enrolled=meta.get("max_enrolled"),
            split=(
                None
                if "split" not in meta
                else SplitRule(  # the split closes with the challenge (``closes_at``)
                    public_items=meta["split"]["public_items"],
                    closes_ms=int(meta["closes_at"].timestamp() * 1000),
                    finals=meta["split"]["finals"],
                )
            ),
            dp=None if "dp" not in meta else DpRule(meta["dp"]["rho"], meta["dp"]["budget"]),
            pad_sets=meta["pad_sets"],
            ladder=(
                None
                if "ladder_margin" not in meta
                else LadderRule(  # η in counts of the items the Ladder scores, exactly
                    margin_counts(
                        meta["ladder_margin"],
                        meta["split"]["public_items"] if "split" in meta else meta["n_items"],
                    )
                )
            ),
        )
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    try:
        context = ChallengeContext(
            meta["id"], record, public, evaluation, policy, meta["n_items"], rules
        )
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    del evaluation  # ~30 MB; the context keeps what logging needs

    store = get_blob_store()
    stored: dict[str, StoredBlob] = {}
    logged: list[StoredBlob] = []
    try:
        for part in FILE_PARTS:
            stored[part] = store.put_bytes(raw[part])
            record_blob(session, stored[part])  # executed at once, before the challenge row
        row = Challenge(
            id=meta["id"],
            name=meta["name"],
            description=meta["description"],
            classes=meta["classes"],
            n_items=meta["n_items"],
            policy=policy.to_json(),
            params_id=public.params.ID,
            key_id=public.key_id,
            threshold=record.threshold,
            answers=record.answers,
            roster=[e.to_json() for e in sorted(record.roster, key=lambda e: e.index)],
            public_context_hash=stored["public_context"].sha256,
            evaluation_keys_hash=stored["evaluation_keys"].sha256,
            ceremony_record_hash=stored["ceremony_record"].sha256,
            submission_limit_per_day=meta["submission_limit_per_day"],
            rules=rules.to_json(),
            opens_at=meta["opens_at"],
            closes_at=meta["closes_at"],
            created_by=current_token().id,
        )
        session.add(row)
        session.flush()
        # the public record starts with the ceremony and the challenge definition
        append_event(
            session,
            store,
            row.id,
            "ceremony",
            lambda t, k: t.record_ceremony(
                context.record, context.public, context.evaluation, key=k
            ),
            logged,
        )
        append_event(
            session,
            store,
            row.id,
            "challenge",
            lambda t, k: t.record_challenge(context, key=k),
            logged,
        )
        sign_head(session, row.id)
        session.commit()
    except BaseException as exc:
        session.rollback()
        _discard_unreferenced(store, [*stored.values(), *logged])
        if isinstance(exc, IntegrityError) and session.get(Challenge, meta["id"]) is not None:
            # lost a race with a concurrent create of the same id
            raise Problem(409, f"A challenge with id {meta['id']!r} exists already.") from None
        raise
    sizes = {s.sha256: s.size for s in stored.values()}
    location = url_for("challenges.read", challenge_id=row.id)
    return dump(ChallengeSchema(), _challenge_json(row, sizes)), 201, {"Location": location}


def _discard_unreferenced(store: BlobStore, blobs: Any) -> None:
    """Undo the blob writes of a failed request: files it created that no row names."""
    session = get_session()
    for blob in blobs:
        if blob.created and session.get(Blob, blob.sha256) is None:
            store.discard(blob.sha256)


@bp.get("")
@doc(summary="List challenges (public)", tags=["challenges"], responses={200: ChallengeListSchema})
@public_read
def list_challenges() -> dict[str, Any]:
    rows = list(
        get_session().scalars(select(Challenge).order_by(Challenge.created_at, Challenge.id))
    )
    sizes = _blob_sizes(rows)
    return dump(ChallengeListSchema(), {"challenges": [_challenge_json(r, sizes) for r in rows]})


@bp.get("/<challenge_id>")
@doc(
    summary="Read one challenge (public): policy, trustees, key ids, blob hashes",
    tags=["challenges"],
    responses={200: ChallengeSchema},
    problems=[404],
)
@public_read
def read(challenge_id: str) -> dict[str, Any]:
    row = get_challenge(challenge_id)
    return dump(ChallengeSchema(), _challenge_json(row, _blob_sizes([row])))


def _send_blob(digest: str, download_name: str) -> Response:
    return send_blob(digest, download_name, what="file of this challenge")


@bp.get("/<challenge_id>/public-context")
@doc(
    summary="Download the public context participants encrypt with (public)",
    tags=["challenges"],
    responses={200: _OCTETS},
    problems=[404],
)
@public_read
def public_context(challenge_id: str) -> Response:
    row = get_challenge(challenge_id)
    return _send_blob(row.public_context_hash, f"{row.id}.public-context")


@bp.get("/<challenge_id>/ceremony-record")
@doc(
    summary="Download the public record of the key ceremony (public)",
    tags=["challenges"],
    responses={200: _OCTETS},
    problems=[404],
)
@public_read
def ceremony_record(challenge_id: str) -> Response:
    row = get_challenge(challenge_id)
    return _send_blob(row.ceremony_record_hash, f"{row.id}.ceremony-record")


@bp.get("/<challenge_id>/evaluation-keys")
@doc(
    summary="Download the evaluation keys (trustees and auditors recompute scores with them)",
    tags=["challenges"],
    responses={200: _OCTETS},
    problems=[404],
)
@require_roles(Role.TRUSTEE, Role.AUDITOR)
def evaluation_keys(challenge_id: str) -> Response:
    row = get_challenge(challenge_id)
    return _send_blob(row.evaluation_keys_hash, f"{row.id}.evaluation-keys")
