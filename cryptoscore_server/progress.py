"""What an uploader may ask before it spends the trustees' time, and what its bundle waits for.

* :func:`used_in_day`: the submissions or pad requests one identity made in the last 24 hours of
  log time, as the upload and pad routes count them against the rules (and the trustees do).
  ``GET /challenges/{id}/enrolment`` and ``GET /challenges/{id}/labels`` show them, so a client
  refuses a file it cannot upload before asking trustees for pads.
* :func:`waiting_for`: one line on what an undecided bundle waits for — trustee contributions,
  partial decryptions (how many of how many), the labels — for a status that would otherwise
  only name the state.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cryptoscore.protocol.release import ReleaseState
from cryptoscore.protocol.rules import DAY_MS, ChallengeRules
from cryptoscore_server.ledger import log_time_ms
from cryptoscore_server.models import (
    Challenge,
    PadRequestRow,
    StoredPartial,
    StoredRequest,
    TrusteeContribution,
    UploadedBundle,
)

__all__ = ["quota_json", "used_in_day", "waiting_for"]

Counted = Literal["submissions", "pad_requests"]


def used_in_day(
    session: Session, challenge_id: str, identity: str, what: Counted, now_ms: int | None = None
) -> int:
    """How many ``what`` ``identity`` (hex key) made in ``challenge_id`` in the 24 hours of log
    time before ``now_ms`` (default: the log's next time)."""
    if now_ms is None:
        now_ms = log_time_ms(session, challenge_id)
    table: Any = UploadedBundle if what == "submissions" else PadRequestRow
    who = UploadedBundle.signer if what == "submissions" else PadRequestRow.requester
    query = (
        select(func.count())
        .select_from(table)
        .where(table.challenge_id == challenge_id)
        .where(who == identity)
        .where(table.logged_ms > now_ms - DAY_MS)
    )
    return int(session.scalar(query) or 0)


def quota_json(
    session: Session, challenge_id: str, identity: str, rules: ChallengeRules, *kinds: Counted
) -> dict[str, dict[str, int]]:
    """``{kind: {"used": n, "per_day": limit}}`` for each of ``kinds``."""
    limits = {
        "submissions": rules.submissions_per_day,
        "pad_requests": rules.pad_requests_per_day,
    }
    now_ms = log_time_ms(session, challenge_id)
    return {
        kind: {
            "used": used_in_day(session, challenge_id, identity, kind, now_ms),
            "per_day": limits[kind],
        }
        for kind in kinds
    }


def _answered(session: Session, digest: str, round_: int) -> str:
    requests = session.scalars(
        select(StoredRequest)
        .where(StoredRequest.bundle == digest)
        .where(StoredRequest.round == round_)
        .where(StoredRequest.open.is_(True))
    ).all()
    if not requests:
        return "the service is preparing the decryption request"
    asked = sum(len(r.trustees) for r in requests)
    answered = session.scalar(
        select(func.count())
        .select_from(StoredPartial)
        .where(StoredPartial.request_id.in_([r.request_id for r in requests]))
    )
    return f"{answered or 0} of {asked} trustee partial decryptions"


def waiting_for(session: Session, challenge: Challenge, row: UploadedBundle) -> str:
    """What ``row`` waits for, in one line ("" once it is decided: released, invalid, or
    valid labels)."""
    state = ReleaseState(row.state)
    if state == ReleaseState.AWAITING_CONTRIBUTIONS:
        done = session.scalar(
            select(func.count())
            .select_from(TrusteeContribution)
            .where(TrusteeContribution.challenge_id == challenge.id)
            .where(TrusteeContribution.bundle == row.digest)
        )
        pad_set = session.scalars(
            select(PadRequestRow.trustees).where(PadRequestRow.bundle == row.digest)
        ).first()
        asked = challenge.threshold if pad_set is None else len(pad_set)
        return f"round 1: {done or 0} of {asked} trustee contributions"
    if state in (ReleaseState.NOISE_CHECK, ReleaseState.VALIDITY):
        return f"round 1 ({state.value}): {_answered(session, row.digest, 1)}"
    if state == ReleaseState.SCORING:
        return f"round 2: {_answered(session, row.digest, 2)}"
    if state == ReleaseState.VALID and row.kind == "predictions":
        labels = session.scalars(
            select(UploadedBundle)
            .where(UploadedBundle.challenge_id == challenge.id)
            .where(UploadedBundle.kind == "labels")
        ).first()
        if labels is None:
            return "round 2: the organizer's labels (not uploaded yet)"
        if labels.state == ReleaseState.INVALID:
            return "round 2 will not start: the labels failed round 1"
        if labels.state != ReleaseState.VALID:
            return f"round 2: the labels to pass round 1 (they are at {labels.state})"
        return "round 2: the service is starting it"
    return ""
