"""Refusals: what trustees would not answer, and why, told to the service.

A trustee checks every task against the challenge's rules and its own copy of the log
(``cryptoscore/trustee/``) and refuses what breaks them — an unsigned input, a participant
over quota, a request the log does not hold. It then tells the service why, so the refusal is
not silent:

* ``POST /trustee/refusals`` (trustee of the challenge's roster): JSON ``{challenge, task,
  subject, reason}`` — the task kind (``pads``, ``contributions``, ``requests``), its pad
  request digest, bundle digest or request id, and the trustee's one-line reason. Kept one
  per trustee and task (the latest reason), written to the service's log when new or
  changed; a refused bundle (or the bundle of a refused request) still undecided gets it as
  its ``reason``, so its owner's status says why it is stuck; a pad request's status lists
  it under ``refused``. 201 when new, 200 when the same again.
* ``GET /challenges/{id}/refusals`` (organizer, admin, auditor): every refusal, latest first.

A refusal is the trustee's word, not a verdict: nothing is decided by it. It is not logged
in the challenge's transparency log (which records what was done, not what was not).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from sqlalchemy import select

from cryptoscore.protocol.release import ReleaseState
from cryptoscore_server.auth import current_token, require_roles
from cryptoscore_server.bodies import json_body
from cryptoscore_server.db import get_session
from cryptoscore_server.ledger import challenge_lock
from cryptoscore_server.models import (
    REASON_LENGTH,
    Role,
    StoredRequest,
    TrusteeRefusal,
    UploadedBundle,
    utcnow,
)
from cryptoscore_server.openapi import doc
from cryptoscore_server.routes.bundles import require_roster_trustee
from cryptoscore_server.routes.challenges import get_challenge
from cryptoscore_server.schemas import (
    RefusalListSchema,
    RefusalReportSchema,
    RefusalSchema,
    dump,
)

__all__ = ["bp"]

bp = Blueprint("refusals", __name__)
_UNDECIDED = {
    ReleaseState.AWAITING_CONTRIBUTIONS,
    ReleaseState.NOISE_CHECK,
    ReleaseState.VALIDITY,
    ReleaseState.SCORING,
}


def _body(row: TrusteeRefusal) -> dict[str, Any]:
    return {
        "trustee": row.trustee,
        "task": row.task,
        "subject": row.subject,
        "reason": row.reason,
        "refused_at": row.refused_at,
    }


def _refused_bundle(challenge_id: str, task: str, subject: str) -> UploadedBundle | None:
    session = get_session()
    if task == "contributions":
        return session.get(UploadedBundle, (challenge_id, subject))
    if task == "requests":
        request = session.get(StoredRequest, subject)
        if request is not None and request.challenge_id == challenge_id:
            return session.get(UploadedBundle, (challenge_id, request.bundle))
    return None


@bp.post("/trustee/refusals")
@doc(
    summary="Tell the service why the calling trustee refused a task",
    tags=["trustee"],
    request_body={
        "required": True,
        "content": {"application/json": {"schema": "RefusalReport"}},
    },
    responses={201: RefusalSchema, 200: RefusalSchema},
    problems=[403, 404, 415, 422],
)
@require_roles(Role.TRUSTEE)
def report() -> tuple[dict[str, Any], int]:
    body = json_body(RefusalReportSchema())
    session = get_session()
    challenge = get_challenge(body["challenge"])
    trustee = require_roster_trustee(challenge, current_token())
    key = (challenge.id, trustee, body["task"], body["subject"])
    with challenge_lock(session, challenge.id):
        row = session.get(TrusteeRefusal, key)
        if row is not None and row.reason == body["reason"]:
            return dump(RefusalSchema(), _body(row)), 200
        status = 201 if row is None else 200
        if row is None:
            row = TrusteeRefusal(
                challenge_id=challenge.id,
                trustee=trustee,
                task=body["task"],
                subject=body["subject"],
                reason=body["reason"],
            )
            session.add(row)
        else:
            row.reason, row.refused_at = body["reason"], utcnow()
        bundle = _refused_bundle(challenge.id, body["task"], body["subject"])
        if bundle is not None and (
            bundle.state in _UNDECIDED
            or (bundle.state == ReleaseState.VALID and bundle.kind == "predictions")
        ):
            bundle.reason = f"{trustee} refused: {body['reason']}"[:REASON_LENGTH]
        session.commit()
    current_app.logger.warning(
        "trustee %s refused %s %s of challenge %s: %s",
        trustee,
        body["task"],
        body["subject"],
        challenge.id,
        body["reason"],
    )
    return dump(RefusalSchema(), _body(row)), status


@bp.get("/challenges/<challenge_id>/refusals")
@doc(
    summary="What the trustees refused in a challenge, and why",
    tags=["trustee"],
    responses={200: RefusalListSchema},
    problems=[404],
)
@require_roles(Role.ORGANIZER, Role.ADMIN, Role.AUDITOR)
def listing(challenge_id: str) -> dict[str, Any]:
    get_challenge(challenge_id)
    rows = get_session().scalars(
        select(TrusteeRefusal)
        .where(TrusteeRefusal.challenge_id == challenge_id)
        .order_by(TrusteeRefusal.refused_at.desc(), TrusteeRefusal.trustee)
    )
    return dump(RefusalListSchema(), {"refusals": [_body(r) for r in rows]})
