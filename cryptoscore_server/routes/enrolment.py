"""Enrolment: a participant registers its Ed25519 identity for one challenge.

* ``POST /challenges/{id}/enrolment`` (participant): the body is ``Enrolment.to_bytes()``
  (``cryptoscore/protocol/signed_inputs.py``), signed by the identity it enrols. The service
  checks the record (400), that it is for this challenge (409), that the challenge's rules let
  this identity enrol (an invite-only challenge: 403 for a key not invited), that the identity
  is not another token's and this token has no other identity here (409), that an open
  challenge with a cap (``max_enrolled``) has room for one more identity (409,
  ``enrolment-full``: trustees would refuse the inputs of an identity beyond it), then logs it
  (``{"type": "enrolment", ...}``) and signs a head. Posting the same record again returns
  200 and changes nothing.
* ``GET /challenges/{id}/enrolment``: the caller's enrolment (404 if none), with ``quota``:
  the submissions and pad requests its identity made in the last 24 hours of log time and the
  limits, so a client refuses what would be over quota before the trustees make pads.

Pad requests and submissions for predictions are signed with the enrolled identity; trustees
and auditors check it against the log (``cryptoscore/trustee/input_rules.py``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import func, select

from cryptoscore.errors import CryptoScoreError
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.protocol.signed_inputs import Enrolment
from cryptoscore_server.auth import current_token, require_roles
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.bodies import octet_body
from cryptoscore_server.db import get_session
from cryptoscore_server.ledger import append_event, challenge_lock, sign_head
from cryptoscore_server.models import Challenge, Participant, Role, Token, utcnow
from cryptoscore_server.openapi import binary_body, doc
from cryptoscore_server.problems import Problem, library_problem
from cryptoscore_server.progress import quota_json
from cryptoscore_server.routes.challenges import get_challenge
from cryptoscore_server.schemas import EnrolmentSchema, dump

__all__ = ["bp", "challenge_rules", "enrolled_identity"]

bp = Blueprint("enrolment", __name__, url_prefix="/challenges")


def challenge_rules(challenge: Challenge) -> ChallengeRules:
    """The challenge's rules; a challenge created before signed inputs takes no uploads (409)."""
    if challenge.rules is None:
        raise Problem(
            409,
            f"Challenge {challenge.id!r} was created before signed inputs: it takes no more "
            "enrolments, pad requests or uploads. Create a new challenge.",
            title="challenge without rules",
            type="urn:cryptoscore:problem:no-rules",
        )
    return ChallengeRules.from_json(challenge.rules)


def enrolled_identity(challenge: Challenge, token: Token) -> str:
    """The identity ``token`` enrolled in ``challenge`` (403 if none)."""
    found = (
        get_session()
        .scalars(
            select(Participant.identity)
            .where(Participant.challenge_id == challenge.id)
            .where(Participant.token_id == token.id)
        )
        .one_or_none()
    )
    if found is None:
        raise Problem(
            403,
            f"You are not enrolled in {challenge.id!r}: enrol an identity first "
            f"(POST /challenges/{challenge.id}/enrolment).",
            title="not enrolled",
            type="urn:cryptoscore:problem:not-enrolled",
        )
    return str(found)


def _body(row: Participant) -> dict[str, Any]:
    return {"challenge": row.challenge_id, "identity": row.identity, "name": row.name}


@bp.post("/<challenge_id>/enrolment")
@doc(
    summary="Enrol your Ed25519 identity in a challenge (signed by that identity)",
    tags=["enrolment"],
    request_body=binary_body("Enrolment.to_bytes()"),
    responses={201: EnrolmentSchema, 200: EnrolmentSchema},
    problems=[400, 403, 404, 409, 413, 415],
)
@require_roles(Role.PARTICIPANT)
def enrol(challenge_id: str) -> tuple[dict[str, Any], int]:
    raw = octet_body("enrolment")
    session, store = get_session(), get_blob_store()
    challenge = get_challenge(challenge_id)
    rules = challenge_rules(challenge)
    token = current_token()
    try:
        enrolment = Enrolment.from_bytes(raw)
        enrolment.verify()
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    if enrolment.challenge_id != challenge.id:
        raise Problem(409, f"This enrolment is for challenge {enrolment.challenge_id!r}.")
    if challenge.state(utcnow()) == "closed":
        raise Problem(409, f"Challenge {challenge.id!r} is closed.", title="challenge closed")
    if not rules.may_enrol(enrolment.identity):
        raise Problem(403, f"This identity is not invited to {challenge.id!r}.")
    identity = enrolment.identity.hex()
    with challenge_lock(session, challenge.id):
        existing = session.get(Participant, (challenge.id, identity))
        if existing is not None:
            if existing.token_id == token.id and existing.record == enrolment.to_bytes():
                return dump(EnrolmentSchema(), _body(existing)), 200
            raise Problem(409, "This identity is enrolled in this challenge already.")
        mine = session.scalars(
            select(Participant)
            .where(Participant.challenge_id == challenge.id)
            .where(Participant.token_id == token.id)
        ).one_or_none()
        if mine is not None:
            raise Problem(
                409, f"You enrolled identity {mine.identity[:16]}… in this challenge already."
            )
        if rules.max_enrolled is not None:
            enrolled = session.scalar(
                select(func.count())
                .select_from(Participant)
                .where(Participant.challenge_id == challenge.id)
            )
            if enrolled is not None and enrolled >= rules.max_enrolled:
                raise Problem(
                    409,
                    f"Challenge {challenge.id!r} caps enrolment at {rules.max_enrolled} "
                    "identities, and all are taken.",
                    title="enrolment full",
                    type="urn:cryptoscore:problem:enrolment-full",
                )
        append_event(
            session,
            store,
            challenge.id,
            f"enrolment:{identity}",
            lambda t, k: t.record_enrolment(enrolment, key=k),
        )
        sign_head(session, challenge.id)
        row = Participant(
            challenge_id=challenge.id,
            identity=identity,
            name=enrolment.name,
            token_id=token.id,
            record=enrolment.to_bytes(),
        )
        session.add(row)
        session.commit()
    return dump(EnrolmentSchema(), _body(row)), 201


@bp.get("/<challenge_id>/enrolment")
@doc(
    summary="Your enrolment in a challenge, and your use of its daily limits",
    tags=["enrolment"],
    responses={200: EnrolmentSchema},
    problems=[404],
)
@require_roles(Role.PARTICIPANT)
def show(challenge_id: str) -> dict[str, Any]:
    challenge = get_challenge(challenge_id)
    row = (
        get_session()
        .scalars(
            select(Participant)
            .where(Participant.challenge_id == challenge_id)
            .where(Participant.token_id == current_token().id)
        )
        .one_or_none()
    )
    if row is None:
        raise Problem(404, f"You are not enrolled in {challenge_id!r}.")
    quota = quota_json(
        get_session(),
        challenge_id,
        row.identity,
        challenge_rules(challenge),
        "submissions",
        "pad_requests",
    )
    return dump(EnrolmentSchema(), {**_body(row), "quota": quota})
