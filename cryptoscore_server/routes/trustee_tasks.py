"""Trustees: what awaits them, pad shares, round-1 contributions and partial decryptions.

A trustee token's ``name`` is its roster id; it acts only for challenges whose roster names
it (403 otherwise).

* ``GET /trustee/tasks``: pad requests whose active set holds it and that it has not answered,
  bundles whose pad set holds it and that it has not contributed to, and open
  decryption requests whose active set holds it and that it has not answered (records
  base64-encoded: the trustee checks and recomputes before answering); pad requests only while
  unused and younger than a day. Each poll records the trustee as present, so new pad
  requests go to trustees that are online.
* ``GET /trustee/evidence/{challenge}/{bundle}``: the bundle's round-1 contributions,
  requests and partials, which a trustee checks (``release.check_round1``) before it answers
  a validity or score request: the order of the rounds does not rest on the service.
* ``POST /trustee/pads``: a ``PadShare`` record, encrypted to the submitter. Checked before
  it is stored: it answers a pad request whose active set holds this trustee, with the
  roster index and a valid signature under the roster key.
* ``POST /trustee/contributions``: 32 random bytes for a bundle's round 1, from a trustee
  of the bundle's pad set only (the bundle carries its pad request; ``lineage.py``: round 1
  is answered by the pad's own active set, never re-routed); the last one of the pad set
  queues ``round1_start`` (a silent trustee of the pad set stalls the bundle: availability, not
  integrity).
* ``POST /trustee/partials``: a ``PartialDecryption`` record. Checked before it is stored:
  it answers an open request, comes from this trustee, in the request's active set, for the
  request's ciphertext and key, with a valid signature under the roster key (the full set is
  verified again when combined). The last partial of a round (every trustee asked answered)
  queues its ``*_finish`` job. A second, different partial from a trustee for one request is
  a lie (409 ``liar``, logged: ``threshold/liars.py``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Blueprint, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from cryptoscore.errors import CryptoScoreError, VerificationError
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.release import ReleaseState
from cryptoscore.protocol.requests import DecryptionRequest, Round1Evidence
from cryptoscore.threshold.liars import two_answers_report
from cryptoscore.threshold.pad_shares import PadShare
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore_server.auth import current_token, require_roles
from cryptoscore_server.blobs import get_blob_store, record_blob
from cryptoscore_server.bodies import octet_body
from cryptoscore_server.db import get_session
from cryptoscore_server.job_outbox import dispatch, schedule
from cryptoscore_server.jobs import JobName, enqueue
from cryptoscore_server.ledger import append_event, challenge_context, challenge_lock
from cryptoscore_server.models import (
    Challenge,
    PadRequestRow,
    PadShareRow,
    Role,
    StoredPartial,
    StoredRequest,
    TrusteeContribution,
    TrusteePresence,
    UploadedBundle,
    utcnow,
)
from cryptoscore_server.openapi import binary_body, doc
from cryptoscore_server.problems import Problem, library_problem
from cryptoscore_server.release_ledger import rebuild_round1
from cryptoscore_server.routes.bundles import require_roster_trustee
from cryptoscore_server.routes.challenges import get_challenge
from cryptoscore_server.schemas import (
    AcceptedSchema,
    Round1EvidenceSchema,
    TrusteeTasksSchema,
    dump,
)

__all__ = ["bp"]

bp = Blueprint("trustee", __name__, url_prefix="/trustee")
PAD_REQUEST_TTL = timedelta(days=1)
"""Pad requests older than this are no longer offered (their submitter has given up)."""
_Record = TypeVar("_Record")


def _my_challenges(name: str) -> list[Challenge]:
    rows = get_session().scalars(select(Challenge).order_by(Challenge.created_at, Challenge.id))
    return [c for c in rows if any(e["id"] == name for e in c.roster)]


@bp.get("/tasks")
@doc(
    summary="What awaits the calling trustee: contributions to make, requests to answer",
    tags=["trustee"],
    responses={200: TrusteeTasksSchema},
)
@require_roles(Role.TRUSTEE)
def tasks() -> dict[str, Any]:
    session, store = get_session(), get_blob_store()
    name = current_token().name
    contributions: list[dict[str, str]] = []
    requests: list[dict[str, str]] = []
    pads: list[dict[str, str]] = []
    mine = _my_challenges(name)
    if mine:
        _mark_present(name)
    for challenge in mine:
        for pad in session.scalars(
            select(PadRequestRow)
            .where(PadRequestRow.challenge_id == challenge.id)
            .where(PadRequestRow.bundle.is_(None))
            .where(PadRequestRow.requester.is_not(None))  # signed and logged (revision 0007)
            .where(PadRequestRow.created_at > utcnow() - PAD_REQUEST_TTL)
            .order_by(PadRequestRow.created_at, PadRequestRow.digest)
        ):
            if name in pad.trustees and session.get(PadShareRow, (pad.digest, name)) is None:
                pads.append(
                    {
                        "challenge": challenge.id,
                        "request": pad.digest,
                        "record": base64.b64encode(pad.record).decode(),
                    }
                )
        pending = session.scalars(
            select(UploadedBundle)
            .where(UploadedBundle.challenge_id == challenge.id)
            .where(UploadedBundle.state == ReleaseState.AWAITING_CONTRIBUTIONS)
            .order_by(UploadedBundle.submitted_at)
        )
        for row in pending:
            given = set(
                session.scalars(
                    select(TrusteeContribution.trustee)
                    .where(TrusteeContribution.challenge_id == challenge.id)
                    .where(TrusteeContribution.bundle == row.digest)
                )
            )
            if name in given:
                continue
            pad_set = session.scalars(
                select(PadRequestRow.trustees).where(PadRequestRow.bundle == row.digest)
            ).first()
            # round 1 is the pad set's alone, and waits for every one of its trustees
            if pad_set is not None and name in pad_set and len(given) < len(pad_set):
                contributions.append({"challenge": challenge.id, "bundle": row.digest})
        open_requests = session.scalars(
            select(StoredRequest)
            .where(StoredRequest.challenge_id == challenge.id)
            .where(StoredRequest.open.is_(True))
            .order_by(StoredRequest.created_at, StoredRequest.request_id)
        )
        for req in open_requests:
            if name not in req.trustees:
                continue
            if session.get(StoredPartial, (req.request_id, name)) is not None:
                continue
            requests.append(
                {
                    "challenge": challenge.id,
                    "request_id": req.request_id,
                    "request": base64.b64encode(store.read(req.request_blob)).decode(),
                }
            )
    return dump(
        TrusteeTasksSchema(),
        {"contributions": contributions, "requests": requests, "pads": pads},
    )


def _record_body(what: str, parse: Callable[[bytes], _Record]) -> _Record:
    """An octet-stream body parsed as a wire record (400 problem if it is not one)."""
    raw = octet_body(what)
    try:
        return parse(raw)
    except CryptoScoreError as exc:
        raise library_problem(exc) from None


@bp.get("/evidence/<challenge_id>/<digest>")
@doc(
    summary="A bundle's round-1 messages, checked by trustees before answering V or a score",
    tags=["trustee"],
    responses={200: Round1EvidenceSchema},
    problems=[403, 404],
)
@require_roles(Role.TRUSTEE)
def evidence(challenge_id: str, digest: str) -> dict[str, Any]:
    session, store = get_session(), get_blob_store()
    challenge = get_challenge(challenge_id)
    require_roster_trustee(challenge, current_token())
    if session.get(UploadedBundle, (challenge_id, digest)) is None:
        raise Problem(404, f"There is no bundle {digest!r} in {challenge_id!r}.")
    contributions = session.scalars(
        select(TrusteeContribution)
        .where(TrusteeContribution.challenge_id == challenge_id)
        .where(TrusteeContribution.bundle == digest)
        .order_by(TrusteeContribution.created_at, TrusteeContribution.trustee)
    )
    requests = session.scalars(
        select(StoredRequest)
        .where(StoredRequest.challenge_id == challenge_id)
        .where(StoredRequest.bundle == digest, StoredRequest.round == 1)
        .order_by(StoredRequest.request_id)
    ).all()
    record = Round1Evidence(
        digest,
        tuple(c.contribution() for c in contributions),
        tuple(DecryptionRequest.from_bytes(store.read(r.request_blob)) for r in requests),
        {
            r.request_id: tuple(
                PartialDecryption.from_bytes(store.read(p.blob))
                for p in session.scalars(
                    select(StoredPartial)
                    .where(StoredPartial.request_id == r.request_id)
                    .order_by(StoredPartial.trustee)
                )
            )
            for r in requests
        },
    )
    return dump(Round1EvidenceSchema(), record.to_json())


def _mark_present(name: str) -> None:
    session = get_session()
    row = session.get(TrusteePresence, name)
    if row is None:
        session.add(TrusteePresence(trustee=name, last_seen=utcnow()))
    else:
        row.last_seen = utcnow()
    try:
        session.commit()
    except SQLAlchemyError:  # two polls at once: either timestamp will do
        session.rollback()


@bp.post("/pads")
@doc(
    summary="Answer a pad request with this trustee's share, encrypted to the submitter",
    tags=["trustee"],
    request_body=binary_body("PadShare.to_bytes()"),
    responses={201: AcceptedSchema, 200: AcceptedSchema},
    problems=[400, 403, 404, 409, 413, 415],
)
@require_roles(Role.TRUSTEE)
def pad_share() -> tuple[dict[str, Any], int]:
    share = _record_body("pad share", PadShare.from_bytes)
    session, store = get_session(), get_blob_store()
    request = session.get(PadRequestRow, share.request_digest)
    if request is None:
        raise Problem(404, f"There is no pad request {share.request_digest!r}.")
    challenge = get_challenge(request.challenge_id)
    trustee = require_roster_trustee(challenge, current_token())
    if share.trustee_id != trustee:
        raise Problem(403, "A trustee posts only its own pad shares.")
    if trustee not in request.trustees:
        raise Problem(409, f"{trustee!r} is not in this pad request's active set.")
    context = challenge_context(challenge, store)
    try:
        entry = context.record.entry(trustee)
        if entry.index != share.index:
            raise Problem(409, "The share carries another trustee index.")
        entry.public_key.verify(share.signature, share.signed_message(), f"pad share of {trustee}")
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    accepted = {"challenge": challenge.id, "request_id": request.digest, "trustee": trustee}
    with challenge_lock(session, challenge.id):
        previous = session.get(PadShareRow, (request.digest, trustee))
        if previous is not None:
            if previous.blob == share.digest:
                return dump(AcceptedSchema(), accepted), 200
            raise Problem(409, f"{trustee!r} answered this pad request already.")
        blob_existed = store.exists(share.digest)
        stored = store.put_bytes(share.to_bytes())
        try:
            record_blob(session, stored)
            session.add(PadShareRow(request=request.digest, trustee=trustee, blob=stored.sha256))
            session.commit()
        except BaseException:
            if not blob_existed:
                store.discard(stored.sha256)
            raise
    return dump(AcceptedSchema(), accepted), 201


@bp.post("/contributions")
@doc(
    summary="Contribute a signed round-1 contribution (32 random bytes) to a bundle",
    tags=["trustee"],
    request_body=binary_body("Contribution.to_bytes()"),
    responses={201: AcceptedSchema, 200: AcceptedSchema},
    problems=[400, 403, 404, 409, 413, 415, 422],
)
@require_roles(Role.TRUSTEE)
def contribute() -> tuple[dict[str, Any], int]:
    contribution = _record_body("contribution", Contribution.from_bytes)
    session, store = get_session(), get_blob_store()
    challenge = get_challenge(contribution.challenge_id)
    trustee = require_roster_trustee(challenge, current_token())
    if contribution.trustee_id != trustee:
        raise Problem(403, "A trustee posts only its own contributions.")
    digest = contribution.bundle_digest
    accepted = {"challenge": challenge.id, "bundle": digest, "trustee": trustee}
    with challenge_lock(session, challenge.id):
        row = session.get(UploadedBundle, (challenge.id, digest))
        if row is None:
            raise Problem(404, f"There is no bundle {digest!r} in {challenge.id!r}.")
        previous = session.get(TrusteeContribution, (challenge.id, digest, trustee))
        if previous is not None:
            if previous.contribution() == contribution:
                return dump(AcceptedSchema(), accepted), 200
            raise Problem(409, f"{trustee!r} already contributed to this bundle.")
        release = rebuild_round1(session, store, challenge_context(challenge, store), row)
        try:
            release.add_contribution(contribution)
        except VerificationError as exc:  # not signed by the roster key of ``trustee``
            raise library_problem(exc) from None
        except CryptoScoreError as exc:  # not of the pad set, or round 1 already moved on
            problem = library_problem(exc)
            raise Problem(
                409, problem.detail, title="Contribution not accepted", type=problem.type
            ) from None
        session.add(
            TrusteeContribution(
                challenge_id=challenge.id,
                bundle=digest,
                trustee=trustee,
                randomness=contribution.randomness.hex(),
                signature=contribution.signature.hex(),
            )
        )
        session.flush()
        append_event(
            session,
            store,
            challenge.id,
            f"contribution:{digest}:{trustee}",
            lambda t, k: t.record_contribution(digest, contribution, key=k),
        )
        if not release.needs_contributions():  # the pad set's last: round 1 can start
            schedule(session, "round1_start", challenge.id, digest)
        session.commit()
    dispatch(current_app._get_current_object(), enqueue)  # type: ignore[attr-defined]
    return dump(AcceptedSchema(), accepted), 201


@bp.post("/partials")
@doc(
    summary="Answer a decryption request with a signed partial decryption",
    tags=["trustee"],
    request_body=binary_body("PartialDecryption.to_bytes()"),
    responses={201: AcceptedSchema, 200: AcceptedSchema},
    problems=[400, 404, 409, 413, 415],
)
@require_roles(Role.TRUSTEE)
def partial() -> tuple[dict[str, Any], int]:
    part = _record_body("partial", PartialDecryption.from_bytes)
    session, store = get_session(), get_blob_store()
    token = current_token()
    stored_request = session.get(StoredRequest, part.request_id)
    if stored_request is None:
        raise Problem(404, f"There is no decryption request {part.request_id!r}.")
    challenge = get_challenge(stored_request.challenge_id)
    trustee = require_roster_trustee(challenge, token)
    if part.trustee_id != trustee:
        raise Problem(403, "A trustee posts only its own partial decryptions.")
    context = challenge_context(challenge, store)
    decryption_request = DecryptionRequest.from_bytes(store.read(stored_request.request_blob))
    try:
        entry = context.record.entry(trustee)
        problems = [
            (entry.index != part.index, "the partial carries another trustee index"),
            (part.active_set != decryption_request.active_set, "made for another active set"),
            (part.index not in decryption_request.active_set.indices, "not in the active set"),
            (
                part.ciphertext_digest != decryption_request.ciphertext_digest,
                "the partial is for another ciphertext",
            ),
            (part.key_id != context.record.key_id, "the partial is for another key"),
        ]
        for failed, why in problems:
            if failed:
                raise Problem(409, why.capitalize() + ".", type="urn:cryptoscore:problem:mismatch")
        entry.public_key.verify(part.signature, part.signed_message(), f"partial from {trustee!r}")
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    accepted = {"challenge": challenge.id, "request_id": part.request_id, "trustee": trustee}
    with challenge_lock(session, challenge.id):
        session.refresh(stored_request)
        previous = session.get(StoredPartial, (part.request_id, trustee))
        if previous is not None:
            if previous.blob == part.digest:
                return dump(AcceptedSchema(), accepted), 200
            # both verified against the trustee's roster key: two answers to one request
            report = two_answers_report(
                PartialDecryption.from_bytes(store.read(previous.blob)), part
            )
            append_event(  # logged once (by the report's digest), then refused
                session,
                store,
                challenge.id,
                f"liar:{report.digest}",
                lambda t, k: t.record_liar(report, part, key=k),
            )
            session.commit()
            raise Problem(
                409,
                f"{trustee!r} answered this request already with another partial: two different "
                f"signed answers to one request are a lie (liar report {report.digest}).",
                type="urn:cryptoscore:problem:liar",
                liar_report=report.to_bytes().hex(),
            )
        if not stored_request.open:
            raise Problem(409, f"Request {part.request_id!r} is closed.")
        blob_existed = store.exists(part.digest)
        try:
            append_event(
                session,
                store,
                challenge.id,
                f"partial:{part.request_id}:{trustee}",
                lambda t, k: t.record_partial(part, key=k),
            )
            session.add(
                StoredPartial(request_id=part.request_id, trustee=trustee, blob=part.digest)
            )
            session.flush()
            job = _round_complete(challenge.id, stored_request)
            if job is not None:  # the round's last partial: its finishing job
                schedule(session, job, challenge.id, stored_request.bundle)
            session.commit()
        except BaseException:
            if not blob_existed:
                store.discard(part.digest)
            raise
    dispatch(current_app._get_current_object(), enqueue)  # type: ignore[attr-defined]
    return dump(AcceptedSchema(), accepted), 201


def _round_complete(challenge_id: str, stored: StoredRequest) -> JobName | None:
    """The finishing job, if every request of this round of this bundle is fully answered."""
    session = get_session()
    siblings = session.scalars(
        select(StoredRequest)
        .where(StoredRequest.challenge_id == challenge_id)
        .where(StoredRequest.bundle == stored.bundle, StoredRequest.round == stored.round)
    )
    for sibling in siblings:
        answered = session.scalars(
            select(StoredPartial.trustee).where(StoredPartial.request_id == sibling.request_id)
        ).all()
        if len(answered) < len(sibling.trustees):
            return None
    if stored.round == 1:
        return "round1_finish"
    return "round2_finish" if stored.round == 2 else "private_finish"  # 3: a split's private
