"""Encrypted bundles: the organizer's labels and participants' submissions; status; download.

An upload is the bundle's bytes (``application/octet-stream``, ``EncryptedBundle.to_bytes()``)
with its owner's signature in the ``X-CryptoScore-Signature`` header (hex Ed25519 over the
challenge, kind and the bundle's SHA-256, ``signed_inputs.sign_upload``): the labels by the
challenge's organizer key, a submission by the caller's enrolled identity. It is parsed, every
ciphertext validated and the header checked against the challenge
(``ChallengeContext.check_bundle``) before anything is stored. Then, under the challenge's
log lock, the bundle is written to the blob store, logged (``{"type": "bundle", ...}``), a
new tree head signed, and the uploader's receipt (inclusion proof under that head) issued and
kept, so the same bytes uploaded again get the same answer (200) and nothing new is stored.

Refusals store nothing: not octet-stream 415; too large 413; malformed 400; no signature, or
one that does not verify, 400; not enrolled 403; a challenge without rules 409; for another
challenge, key, kind or size 409 (mismatch); labels a second time 409; a submission outside
the challenge's open window 409 ("challenge closed"); more than ``submission_limit_per_day``
submissions by one identity in 24 hours of log time 429 (as the trustees count them); in a
dp challenge, a submission beyond the identity's privacy budget 429 (its submissions not
refused in round 1, at ``rho`` each, already spend it: ``trustee/log_rules.check_dp_budget``
refuses the release from the log anyway); not
encrypted with trustee pads the uploader requested for this kind, or with pads another bundle
used, 409 (``pads.py``).

``GET /challenges/{id}/labels`` (organizer, admin) says whether the labels are uploaded, their
state, reason and what they wait for, and the organizer key's pad requests of the last 24
hours; a submission's status says what it waits for too (``progress.py``).

Round 1 of a bundle starts when t trustees have contributed (``trustee.py``), round 2 when
the submission and the labels are both valid (``jobs.py``).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cryptoscore.errors import CryptoScoreError
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.release import ReleaseState
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.protocol.signed_inputs import verify_upload
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore_server.auth import current_token, require_roles
from cryptoscore_server.blobs import get_blob_store, send_blob
from cryptoscore_server.bodies import octet_body
from cryptoscore_server.db import get_session
from cryptoscore_server.ledger import (
    append_event,
    challenge_context,
    challenge_lock,
    log_time_ms,
    receipt_for,
    sign_head,
)
from cryptoscore_server.models import Challenge, Role, Token, UploadedBundle, utcnow
from cryptoscore_server.openapi import binary_body, binary_response, doc
from cryptoscore_server.problems import Problem, library_problem
from cryptoscore_server.progress import quota_json, used_in_day, waiting_for
from cryptoscore_server.routes.challenges import get_challenge
from cryptoscore_server.routes.enrolment import challenge_rules, enrolled_identity
from cryptoscore_server.routes.pad_requests import require_open_for, use_pads
from cryptoscore_server.schemas import (
    LabelsStatusSchema,
    LabelsUploadedSchema,
    SubmissionStatusSchema,
    SubmissionUploadedSchema,
    dump,
)

__all__ = ["bp", "require_roster_trustee"]

bp = Blueprint("bundles", __name__, url_prefix="/challenges")
_BUNDLE_BODY = binary_body("EncryptedBundle.to_bytes()")
_OCTETS = binary_response("The bundle's bytes")
SIGNATURE_HEADER = "X-CryptoScore-Signature"
_SIGNATURE = re.compile(r"[0-9a-f]{128}")


def _signature() -> bytes:
    """The upload's signature header (400 if missing or not 128 lower-case hex digits)."""
    value = request.headers.get(SIGNATURE_HEADER, "")
    if not _SIGNATURE.fullmatch(value):
        raise Problem(
            400,
            f"Sign the upload: header {SIGNATURE_HEADER} carries the owner's Ed25519 signature "
            "(128 hex digits) over the challenge, kind and the bundle's SHA-256.",
            title="unsigned upload",
            type="urn:cryptoscore:problem:unsigned",
        )
    return bytes.fromhex(value)


def require_roster_trustee(challenge: Challenge, token: Token) -> str:
    """A trustee token must be named after a roster trustee of ``challenge`` (403 otherwise)."""
    ids = {entry["id"] for entry in challenge.roster}
    if token.name not in ids:
        raise Problem(403, f"This trustee token is not for a trustee of {challenge.id!r}.")
    return token.name


def _upload_body(row: UploadedBundle) -> dict[str, Any]:
    key = "bundle" if row.kind == "labels" else "submission"
    return {key: row.digest, "state": row.state, "receipt": row.receipt}


def _replay_or_conflict(existing: UploadedBundle, kind: str, token: Token) -> dict[str, Any]:
    if existing.kind == kind and (kind == "labels" or existing.token_id == token.id):
        return _upload_body(existing)
    raise Problem(409, "These bytes were uploaded already by someone else.")


def _check_dp_budget(
    session: Session, challenge_id: str, signer: str, rules: ChallengeRules
) -> None:
    """A dp challenge: 429 when the identity's submissions not refused in round 1 already
    spend its privacy budget (each is released once, at ``rho``); the trustees refuse such a
    release from the log anyway (``trustee/log_rules.check_dp_budget``), this answers early
    and stores nothing."""
    dp = rules.dp
    if dp is None:
        return
    spent = session.scalar(
        select(func.count())
        .select_from(UploadedBundle)
        .where(UploadedBundle.challenge_id == challenge_id)
        .where(UploadedBundle.signer == signer)
        .where(UploadedBundle.kind == "predictions")
        .where(UploadedBundle.state != ReleaseState.INVALID)
    )
    if int(spent or 0) >= dp.releases:
        raise Problem(
            429,
            f"This identity's privacy budget is spent: {int(spent or 0)} submissions at rho "
            f"{dp.rho:g} each, budget {dp.budget:g} ({dp.releases} releases). No further "
            "submission of it is scored in this challenge.",
        )


def _upload(challenge_id: str, kind: str) -> tuple[dict[str, Any], int]:
    raw = octet_body("bundle")
    session, store = get_session(), get_blob_store()
    challenge = get_challenge(challenge_id)
    token = current_token()
    now = utcnow()
    rules = challenge_rules(challenge)
    signature = _signature()
    require_open_for(challenge, kind)
    signer = rules.organizer.hex() if kind == "labels" else enrolled_identity(challenge, token)
    try:
        bundle = EncryptedBundle.from_bytes(raw)
        verify_upload(PublicKey.from_hex(signer), signature, challenge.id, kind, bundle.digest)
        bundle.validate()
        challenge_context(challenge, store).check_bundle(bundle, kind)
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    digest = bundle.digest
    blob_existed = store.exists(digest)

    created: UploadedBundle | None = None
    try:
        with challenge_lock(session, challenge_id):
            existing = session.get(UploadedBundle, (challenge_id, digest))
            if existing is not None:
                return _replay_or_conflict(existing, kind, token), 200
            if (
                kind == "labels"
                and session.scalars(
                    select(UploadedBundle.digest)
                    .where(UploadedBundle.challenge_id == challenge_id)
                    .where(UploadedBundle.kind == "labels")
                ).first()
            ):
                raise Problem(409, f"Challenge {challenge_id!r} has its labels already.")
            now_ms = log_time_ms(session, challenge_id)
            if kind == "predictions":
                recent = used_in_day(session, challenge_id, signer, "submissions", now_ms)
                if recent >= rules.submissions_per_day:
                    raise Problem(
                        429,
                        f"At most {rules.submissions_per_day} submissions per identity in 24 "
                        "hours.",
                        headers={"Retry-After": "3600"},
                    )
                _check_dp_budget(session, challenge_id, signer, rules)
            use_pads(challenge_id, bundle.header.c1_seed, kind, token, digest)
            index = append_event(
                session,
                store,
                challenge_id,
                f"bundle:{digest}",
                lambda t, k: t.record_bundle(
                    bundle, token.name, PublicKey.from_hex(signer), signature, now_ms, key=k
                ),
            )
            sign_head(session, challenge_id)
            receipt = receipt_for(session, store, challenge_id, index)
            created = UploadedBundle(
                challenge_id=challenge_id,
                digest=digest,
                kind=kind,
                owner=token.name,
                token_id=token.id,
                state=ReleaseState.AWAITING_CONTRIBUTIONS,
                reason="",
                receipt=receipt.to_json(),
                submitted_at=now,
                signer=signer,
                signature=signature.hex(),
                logged_ms=now_ms,
            )
            session.add(created)
            session.commit()
    except BaseException:
        if not blob_existed and session.get(UploadedBundle, (challenge_id, digest)) is None:
            store.discard(digest)
        raise
    return _upload_body(created), 201


@bp.post("/<challenge_id>/labels")
@doc(
    summary="Upload the encrypted labels (once per challenge); returns the organizer's receipt",
    tags=["bundles"],
    request_body=_BUNDLE_BODY,
    responses={201: LabelsUploadedSchema, 200: LabelsUploadedSchema},
    problems=[400, 404, 409, 413, 415],
)
@require_roles(Role.ORGANIZER, Role.ADMIN)
def upload_labels(challenge_id: str) -> tuple[dict[str, Any], int]:
    body, status = _upload(challenge_id, "labels")
    return dump(LabelsUploadedSchema(), body), status


@bp.post("/<challenge_id>/submissions")
@doc(
    summary="Submit encrypted predictions; returns the participant's receipt",
    tags=["bundles"],
    request_body=_BUNDLE_BODY,
    responses={201: SubmissionUploadedSchema, 200: SubmissionUploadedSchema},
    problems=[400, 404, 409, 413, 415, 429],
)
@require_roles(Role.PARTICIPANT)
def submit(challenge_id: str) -> tuple[dict[str, Any], int]:
    body, status = _upload(challenge_id, "predictions")
    return dump(SubmissionUploadedSchema(), body), status


@bp.get("/<challenge_id>/submissions/<digest>")
@doc(
    summary="A submission's state and, once released, its values",
    description="Participants see their own submissions only.",
    tags=["bundles"],
    responses={200: SubmissionStatusSchema},
    problems=[404],
)
@require_roles(Role.PARTICIPANT, Role.ORGANIZER, Role.ADMIN, Role.AUDITOR)
def submission_status(challenge_id: str, digest: str) -> dict[str, Any]:
    challenge = get_challenge(challenge_id)
    row = get_session().get(UploadedBundle, (challenge_id, digest))
    token = current_token()
    if (
        row is None
        or row.kind != "predictions"
        or (token.role == Role.PARTICIPANT and row.token_id != token.id)
    ):
        raise Problem(404, f"There is no submission {digest!r} of yours in {challenge_id!r}.")
    return dump(
        SubmissionStatusSchema(),
        {
            "submission": row.digest,
            "participant": row.owner,
            "state": row.state,
            "reason": row.reason,
            "waiting_for": waiting_for(get_session(), challenge, row),
            "submitted_at": row.submitted_at,
            # under the Ladder, the shown values: the exact ones never leave the service
            "values": (row.shown or row.values) if row.state == ReleaseState.RELEASED else None,
            # the library's reason of a dispute is "<invariant>: <values>"
            "invariant": (
                row.reason.split(":", 1)[0] if row.state == ReleaseState.DISPUTED else None
            ),
            # a split challenge: state and values are the public part's; the private part
            # once the close made this submission a final
            "part": "public" if (challenge.rules or {}).get("split") else None,
            "private": (
                None
                if row.private_state is None
                else {
                    "state": row.private_state,
                    "values": (
                        row.private_values
                        if row.private_state == ReleaseState.RELEASED.value
                        else None
                    ),
                    "reason": row.private_reason,
                }
            ),
        },
    )


@bp.get("/<challenge_id>/labels")
@doc(
    summary="The labels: uploaded or not, their round-1 state and what they wait for",
    description="Also the organizer key's pad requests in the last 24 hours, and the limit.",
    tags=["bundles"],
    responses={200: LabelsStatusSchema},
    problems=[404, 409],
)
@require_roles(Role.ORGANIZER, Role.ADMIN)
def labels_status(challenge_id: str) -> dict[str, Any]:
    challenge = get_challenge(challenge_id)
    rules = challenge_rules(challenge)
    session = get_session()
    row = session.scalars(
        select(UploadedBundle)
        .where(UploadedBundle.challenge_id == challenge_id)
        .where(UploadedBundle.kind == "labels")
    ).first()
    quota = quota_json(session, challenge_id, rules.organizer.hex(), rules, "pad_requests")
    return dump(
        LabelsStatusSchema(),
        {
            "uploaded": row is not None,
            "bundle": row.digest if row else None,
            "state": row.state if row else None,
            "reason": row.reason if row else "",
            "waiting_for": waiting_for(session, challenge, row) if row else "the upload",
            "submitted_at": row.submitted_at if row else None,
            "pad_requests": quota["pad_requests"],
        },
    )


@bp.get("/<challenge_id>/bundles/<digest>")
@doc(
    summary="Download an uploaded bundle (trustees recompute from it; auditors check it)",
    tags=["bundles"],
    responses={200: _OCTETS},
    problems=[404],
)
@require_roles(Role.TRUSTEE, Role.AUDITOR, Role.ADMIN)
def download(challenge_id: str, digest: str) -> Response:
    challenge = get_challenge(challenge_id)
    token = current_token()
    if token.role == Role.TRUSTEE:
        require_roster_trustee(challenge, token)
    row = get_session().get(UploadedBundle, (challenge_id, digest))
    if row is None:
        raise Problem(404, f"There is no bundle {digest!r} in {challenge_id!r}.")
    return send_blob(digest, f"{digest}.bundle", what="file of this challenge")
