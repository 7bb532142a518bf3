"""A public/private split (docs/design.md, "Public/private split"): participants' final
selections and the organizer's close.

* ``POST /challenges/{id}/selections`` (participant): a signed choice of final submissions
  (``signed_inputs.selection_message``), while the challenge is open: a sequence number higher
  than every earlier selection of the identity, at most ``finals`` of its own submissions.
  Logged as a ``selection`` entry; the latest one logged before the close names the identity's
  finals (``trustee/log_rules.final_submissions``, which the trustees apply themselves).
* ``POST /challenges/{id}/close`` (the challenge's organizer, or an admin): once ``closes_at``
  has passed, logs the ``close`` entry and asks for the private part of each identity's finals
  (the driver's ``private_start`` / ``private_finish`` jobs). The trustees answer only what
  their own rules allow: after the close, a final submission, once.

Bad input is a problem-details error and stores nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cryptoscore.errors import CryptoScoreError
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.driver import PRIVATE_PENDING
from cryptoscore.protocol.release import ReleaseState
from cryptoscore.protocol.rules import SplitRule
from cryptoscore.protocol.signed_inputs import verify_selection
from cryptoscore_server.auth import current_token, require_roles
from cryptoscore_server.blobs import BlobStore, get_blob_store
from cryptoscore_server.bodies import json_body
from cryptoscore_server.db import get_session
from cryptoscore_server.job_outbox import dispatch, schedule
from cryptoscore_server.jobs import enqueue
from cryptoscore_server.ledger import (
    append_event,
    challenge_lock,
    log_time_ms,
    sign_head,
    transcript,
)
from cryptoscore_server.models import (
    Challenge,
    FinalSelection,
    Role,
    StoredRequest,
    UploadedBundle,
    utcnow,
)
from cryptoscore_server.openapi import doc
from cryptoscore_server.problems import Problem, library_problem
from cryptoscore_server.routes.challenges import get_challenge
from cryptoscore_server.routes.enrolment import challenge_rules, enrolled_identity
from cryptoscore_server.schemas import CloseSchema, SelectionCreateSchema, SelectionSchema, dump

__all__ = ["bp", "final_submissions"]

bp = Blueprint("split", __name__, url_prefix="/challenges")


def _split_of(challenge: Challenge) -> SplitRule:
    split = challenge_rules(challenge).split
    if split is None:
        raise Problem(
            409,
            f"Challenge {challenge.id!r} has no public/private split.",
            type="urn:cryptoscore:problem:no-split",
        )
    return split


def _closed(challenge: Challenge) -> Problem:
    return Problem(
        409,
        f"Challenge {challenge.id!r} has closed: selections count only before "
        f"{challenge.closes_at.isoformat()}.",
        title="challenge closed",
        type="urn:cryptoscore:problem:challenge-closed",
    )


@bp.post("/<challenge_id>/selections")
@doc(
    summary="Choose your final submissions (a split challenge; signed, before the close)",
    tags=["split"],
    request_body={
        "required": True,
        "content": {"application/json": {"schema": "SelectionCreate"}},
    },
    responses={201: SelectionSchema},
    problems=[400, 403, 404, 409, 415, 422],
)
@require_roles(Role.PARTICIPANT)
def select_finals(challenge_id: str) -> tuple[dict[str, Any], int]:
    body = json_body(SelectionCreateSchema())
    session, store = get_session(), get_blob_store()
    challenge = get_challenge(challenge_id)
    split = _split_of(challenge)
    identity = enrolled_identity(challenge, current_token())
    sequence, submissions = body["sequence"], list(body["submissions"])
    if len(set(submissions)) != len(submissions):
        raise Problem(422, "A selection names each submission once.")
    if len(submissions) > split.finals:
        raise Problem(422, f"At most {split.finals} final submissions per identity.")
    try:
        signature = bytes.fromhex(body["signature"])
        verify_selection(
            PublicKey.from_hex(identity), signature, challenge.id, sequence, submissions
        )
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    with challenge_lock(session, challenge.id):
        session.refresh(challenge)
        if challenge.closed_ms is not None or challenge.state(utcnow()) == "closed":
            raise _closed(challenge)
        latest = session.scalar(
            select(func.max(FinalSelection.sequence))
            .where(FinalSelection.challenge_id == challenge.id)
            .where(FinalSelection.identity == identity)
        )
        if latest is not None and sequence <= latest:
            raise Problem(
                409,
                f"Selection {sequence} is not newer than your latest ({latest}): a replayed or "
                "older selection replaces nothing.",
                type="urn:cryptoscore:problem:stale-selection",
            )
        own = set(
            session.scalars(
                select(UploadedBundle.digest)
                .where(UploadedBundle.challenge_id == challenge.id)
                .where(UploadedBundle.kind == "predictions", UploadedBundle.signer == identity)
                .where(UploadedBundle.digest.in_(submissions))
            )
        )
        foreign = [d for d in submissions if d not in own]
        if foreign:
            raise Problem(422, f"Not your submissions in {challenge.id!r}: {foreign}.")
        now_ms = log_time_ms(session, challenge.id)
        index = append_event(
            session,
            store,
            challenge.id,
            f"selection:{identity}:{sequence}",
            lambda t, k: t.record_selection(
                PublicKey.from_hex(identity), sequence, submissions, signature, now_ms, key=k
            ),
        )
        session.add(
            FinalSelection(
                challenge_id=challenge.id,
                identity=identity,
                sequence=sequence,
                submissions=submissions,
                signature=signature.hex(),
                logged_ms=now_ms,
            )
        )
        sign_head(session, challenge.id)
        session.commit()
    out = {
        "challenge": challenge.id,
        "identity": identity,
        "sequence": sequence,
        "submissions": submissions,
        "index": index,
    }
    return dump(SelectionSchema(), out), 201


def _valid_round1(session: Session, row: UploadedBundle) -> bool:
    """Whether ``row``'s round 1 ended valid (its state since, or a disputed score)."""
    if row.state in (ReleaseState.VALID, ReleaseState.SCORING, ReleaseState.RELEASED):
        return True
    return row.state == ReleaseState.DISPUTED and (
        session.scalars(
            select(StoredRequest.request_id)
            .where(StoredRequest.challenge_id == row.challenge_id)
            .where(StoredRequest.bundle == row.digest, StoredRequest.round == 2)
        ).first()
        is not None
    )


def final_submissions(session: Session, challenge: Challenge, split: SplitRule) -> list[str]:
    """Each identity's finals, as the trustees read them from the log
    (``trustee/log_rules.final_submissions``): its highest-numbered selection logged before the
    close (every stored one was checked when posted: signed, its own submissions, at most
    ``finals``), else its last submission logged before the close whose round 1 was valid."""
    rows = session.scalars(
        select(UploadedBundle)
        .where(UploadedBundle.challenge_id == challenge.id)
        .where(UploadedBundle.kind == "predictions")
        .where(UploadedBundle.logged_ms < split.closes_ms)
        .order_by(UploadedBundle.logged_ms, UploadedBundle.submitted_at)
    ).all()
    by_identity: dict[str, list[UploadedBundle]] = {}
    for row in rows:
        by_identity.setdefault(row.signer or "", []).append(row)
    finals: list[str] = []
    for identity, own in by_identity.items():
        selection = session.scalars(
            select(FinalSelection)
            .where(FinalSelection.challenge_id == challenge.id)
            .where(FinalSelection.identity == identity)
            .where(FinalSelection.logged_ms < split.closes_ms)
            .order_by(FinalSelection.sequence.desc())
            .limit(1)
        ).one_or_none()
        if selection is not None:
            finals += list(selection.submissions)
            continue
        valid = [row.digest for row in own if _valid_round1(session, row)]
        finals += valid[-1:]
    return finals


@bp.post("/<challenge_id>/close")
@doc(
    summary="Close a split challenge: log the close, ask for the private part of the finals",
    tags=["split"],
    responses={201: CloseSchema, 200: CloseSchema},
    problems=[403, 404, 409],
)
@require_roles(Role.ORGANIZER, Role.ADMIN)
def close(challenge_id: str) -> tuple[dict[str, Any], int]:
    session, store = get_session(), get_blob_store()
    challenge = get_challenge(challenge_id)
    token = current_token()
    if token.role != Role.ADMIN and token.id != challenge.created_by:
        raise Problem(403, f"Only the organizer of {challenge.id!r} closes it.")
    split = _split_of(challenge)
    with challenge_lock(session, challenge.id):
        session.refresh(challenge)
        if challenge.closed_ms is not None:
            index = _close_index(session, store, challenge.id)
            finals = _asked(session, challenge.id)
            out = {
                "challenge": challenge.id,
                "closed_ms": challenge.closed_ms,
                "index": index,
                "finals": finals,
            }
            return dump(CloseSchema(), out), 200
        now_ms = log_time_ms(session, challenge.id)
        if now_ms < split.closes_ms:
            raise Problem(
                409,
                f"Challenge {challenge.id!r} closes at {challenge.closes_at.isoformat()}: "
                "its private parts stay sealed until then.",
                title="challenge still open",
                type="urn:cryptoscore:problem:not-closed-yet",
            )
        index = append_event(
            session,
            store,
            challenge.id,
            "close",
            lambda t, k: t.record_close(now_ms, key=k),
        )
        challenge.closed_ms = now_ms
        finals = final_submissions(session, challenge, split)
        for digest in finals:
            row = session.get(UploadedBundle, (challenge.id, digest))
            if row is not None and row.private_state is None:
                row.private_state = PRIVATE_PENDING
                schedule(session, "private_start", challenge.id, digest)
        sign_head(session, challenge.id)
        session.commit()
    dispatch(current_app._get_current_object(), enqueue)  # type: ignore[attr-defined]
    out = {"challenge": challenge.id, "closed_ms": now_ms, "index": index, "finals": finals}
    return dump(CloseSchema(), out), 201


def _close_index(session: Session, store: BlobStore, challenge_id: str) -> int:
    """The index of the challenge's ``close`` entry (it is logged)."""
    index = transcript(session, store, challenge_id).store.index_of("close")
    return -1 if index is None else index


def _asked(session: Session, challenge_id: str) -> list[str]:
    return list(
        session.scalars(
            select(UploadedBundle.digest)
            .where(UploadedBundle.challenge_id == challenge_id)
            .where(UploadedBundle.private_state.is_not(None))
            .order_by(UploadedBundle.logged_ms)
        )
    )
