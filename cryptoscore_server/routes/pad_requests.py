"""Encryption pads: submitters ask the trustees for them, trustees answer, submitters fetch.

Trustee-assisted encryption (``cryptoscore/scoring/pad_request.py``,
``cryptoscore/threshold/pad_shares.py``): every ciphertext a threshold
challenge accepts has a c1 expanded from a public seed, and its submitter needs the trustees'
pads to make c0. The service only relays: it never sees a pad (each trustee's share is
encrypted to the submitter's X25519 key) and cannot make one.

* ``POST /challenges/{id}/pads`` (participant: predictions; organizer: labels): JSON with the
  bundle kind, a fresh 32-byte seed, the submitter's X25519 public key and its signature over
  them (``signed_inputs.sign_pad_request``: by the organizer key for labels, by the caller's
  enrolled identity for predictions; 403 if not enrolled or not the organizer, 400 if the
  signature does not verify), and optionally the trustees to ask (:func:`_active_set`; by
  default, for Shamir answers every roster trustee not named a liar in the challenge's log, for
  additive answers the t that polled most recently; under the rule ``pad_sets: "checked"`` a
  named set of Shamir answers needs ``checked_set_size`` trustees, 422 otherwise, as the
  trustees refuse it too). The service builds and stores the
  :class:`~cryptoscore.scoring.pad_request.PadRequest` (its size is the challenge's bundle
  size), logs it with the signature (``{"type": "pad_request", ...}``) and returns it; the
  trustees find it in their tasks and check the log's copy. A seed is used once, ever (409
  otherwise); at most the rules' ``pad_requests_per_day`` per identity in any 24 hours of log
  time (429), as the trustees count; predictions only while the challenge is open, labels
  until it closes.
* ``GET /challenges/{id}/pads/{request}``: the request, which trustees answered, and whether
  releases of a bundle encrypted with it are ``verifiable`` (its submitter only: 404 for
  everyone else).
* ``GET /challenges/{id}/pads/{request}/shares/{trustee}``: one trustee's encrypted share.
* ``POST /trustee/pads`` (``trustee.py``): a trustee's signed, encrypted share.

An upload must be encrypted with pads its uploader requested for that kind and not used for
another bundle (``bundles.py``); that keeps a seed, and so a pad, to one bundle.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Response, send_file
from sqlalchemy import select

from cryptoscore.errors import CryptoScoreError
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.signed_inputs import verify_pad_request
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.trustee.input_rules import check_pad_set
from cryptoscore_server.auth import a_role_token, current_token, require_roles
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.bodies import OCTET_STREAM, json_body
from cryptoscore_server.db import get_session
from cryptoscore_server.ledger import (
    append_event,
    challenge_context,
    challenge_lock,
    log_time_ms,
    named_liars,
    sign_head,
)
from cryptoscore_server.models import (
    Challenge,
    PadRequestRow,
    PadShareRow,
    Role,
    Token,
    TrusteePresence,
    TrusteeRefusal,
    utcnow,
)
from cryptoscore_server.openapi import binary_response, doc
from cryptoscore_server.problems import Problem, library_problem
from cryptoscore_server.progress import used_in_day
from cryptoscore_server.routes.challenges import get_challenge
from cryptoscore_server.routes.enrolment import challenge_rules, enrolled_identity
from cryptoscore_server.schemas import PadRequestCreateSchema, PadRequestSchema, dump

__all__ = ["bp", "pad_request_body", "require_open_for", "use_pads"]

bp = Blueprint("pads", __name__, url_prefix="/challenges")


def require_open_for(challenge: Challenge, kind: str) -> None:
    """Predictions only while the challenge is open; labels until it closes (409)."""
    state = challenge.state(utcnow())
    if state != "open" and (kind == "predictions" or state == "closed"):
        raise Problem(
            409,
            f"Challenge {challenge.id!r} is {state}: it takes submissions from "
            f"{challenge.opens_at.isoformat()} to {challenge.closes_at.isoformat()}.",
            title="challenge closed",
            type="urn:cryptoscore:problem:challenge-closed",
        )


def _kind_for(token: Token, kind: str) -> None:
    allowed = {"predictions": {Role.PARTICIPANT}, "labels": {Role.ORGANIZER, Role.ADMIN}}
    if token.role not in allowed[kind]:
        raise Problem(403, f"{a_role_token(token.role)} may not ask for pads for {kind}.")


def _robust(challenge: Challenge) -> bool:
    """The challenge's trustees answer Shamir shares (``CeremonyRecord.robust``)."""
    return challenge.answers == "shamir"


def _active_set(challenge: Challenge, asked: list[str] | None) -> list[str]:
    """The roster trustees to ask, in roster order; never one the challenge's log names as a
    liar (``ledger.named_liars``), unless additive answers leave no other choice.

    Shamir answers (docs/design.md, "Robust threshold decryption (core)"): by default every
    roster trustee not named a liar — a bundle's round 1 and its score are answered by its pad
    set, and decoding checks the answers against each other only with 2t − 1 of them — or at
    least t named ones, none a named liar. Additive answers: exactly t, named, or the t that
    polled most recently. 422 otherwise."""
    roster = sorted(challenge.roster, key=lambda e: int(e["index"]))
    ids = [str(e["id"]) for e in roster]
    liars = named_liars(get_session(), challenge.id)
    t = challenge.threshold
    if asked is not None:
        if len(set(asked)) != len(asked):
            raise Problem(422, "Name each trustee once.")
        if _robust(challenge) and len(asked) < t:
            raise Problem(422, f"Name at least {t} distinct trustees.")
        if not _robust(challenge) and len(asked) != t:
            raise Problem(422, f"Name exactly {t} distinct trustees.")
        unknown = sorted(set(asked) - set(ids))
        if unknown:
            raise Problem(422, f"Not trustees of {challenge.id!r}: {unknown}.")
        if set(asked) & liars:
            raise Problem(
                422, f"Named as liars in {challenge.id!r}'s log: {sorted(set(asked) & liars)}."
            )
        chosen = set(asked)
    elif _robust(challenge):
        chosen = set(ids) - liars
        if len(chosen) < t:
            raise Problem(
                422,
                f"Only {len(chosen)} trustees of {challenge.id!r} are not named as liars in its "
                f"log; pads need {t}.",
            )
    else:
        seen = {
            row.trustee: row.last_seen
            for row in get_session().scalars(
                select(TrusteePresence).where(TrusteePresence.trustee.in_(ids))
            )
        }
        # named liars last; then most recently seen first; never seen last, in roster order
        ranked = sorted(
            ids,
            key=lambda tid: (
                tid in liars,
                tid not in seen,
                -seen[tid].timestamp() if tid in seen else 0,
            ),
        )
        chosen = set(ranked[: challenge.threshold])
    return [tid for tid in ids if tid in chosen]


def _verifiable(row: PadRequestRow) -> bool:
    """Releases of a bundle encrypted with these pads are checked against t − 1 coordinated
    liars: Shamir answers from a pad set of at least 2t − 1 trustees (``ActiveSet.verifiable``).
    Below that (and always for additive answers) a release rests on unchecked answers."""
    challenge = get_challenge(row.challenge_id)
    return _robust(challenge) and len(row.trustees) >= 2 * challenge.threshold - 1


def pad_request_body(row: PadRequestRow) -> dict[str, Any]:
    answered = (
        get_session()
        .scalars(select(PadShareRow.trustee).where(PadShareRow.request == row.digest))
        .all()
    )
    refused = get_session().scalars(
        select(TrusteeRefusal)
        .where(TrusteeRefusal.challenge_id == row.challenge_id)
        .where(TrusteeRefusal.task == "pads")
        .where(TrusteeRefusal.subject == row.digest)
    )
    return {
        "request": row.digest,
        "record": base64.b64encode(row.record).decode(),
        "kind": row.kind,
        "trustees": row.trustees,
        "answered": sorted(answered),
        "ready": set(answered) == set(row.trustees),
        "verifiable": _verifiable(row),
        "bundle": row.bundle,
        "refused": {r.trustee: r.reason for r in refused if r.trustee not in answered},
    }


@bp.post("/<challenge_id>/pads")
@doc(
    summary="Ask the trustees for encryption pads for one bundle (trustee-assisted encryption)",
    tags=["pads"],
    request_body={
        "required": True,
        "content": {"application/json": {"schema": "PadRequestCreate"}},
    },
    responses={201: PadRequestSchema, 200: PadRequestSchema},
    problems=[400, 403, 404, 409, 415, 422, 429],
)
@require_roles(Role.PARTICIPANT, Role.ORGANIZER, Role.ADMIN)
def create(challenge_id: str) -> tuple[dict[str, Any], int]:
    body = json_body(PadRequestCreateSchema())
    session, store = get_session(), get_blob_store()
    challenge = get_challenge(challenge_id)
    token = current_token()
    kind = body["kind"]
    _kind_for(token, kind)
    rules = challenge_rules(challenge)
    require_open_for(challenge, kind)
    requester = rules.organizer.hex() if kind == "labels" else enrolled_identity(challenge, token)
    context = challenge_context(challenge, store)
    trustees = _active_set(challenge, body.get("trustees"))
    try:
        request = PadRequest(
            challenge_id=challenge.id,
            kind=kind,
            params=context.public.params,
            key_id=context.public.key_id,
            seed=bytes.fromhex(body["seed"]),
            count=context.layout_of(kind).ciphertexts,  # a split's labels: 2K classes
            active_set=ActiveSet.of(context.record, trustees).indices,
            recipient=bytes.fromhex(body["recipient"]),
        )
        context.check_pad_request(request)
        # the trustees refuse such a set too (``input_rules.check_pad_set``): refuse it first
        check_pad_set(rules, context, request, named_liars(session, challenge.id))
        signature = bytes.fromhex(body["signature"])
        verify_pad_request(request, PublicKey.from_hex(requester), signature)
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    with challenge_lock(session, challenge.id):
        same_seed = session.scalars(
            select(PadRequestRow).where(PadRequestRow.seed == body["seed"])
        ).one_or_none()
        if same_seed is not None:
            if same_seed.token_id == token.id and same_seed.digest == request.digest:
                return dump(PadRequestSchema(), pad_request_body(same_seed)), 200
            raise Problem(409, "This seed was used already: make a fresh one for every bundle.")
        now_ms = log_time_ms(session, challenge.id)
        recent = used_in_day(session, challenge.id, requester, "pad_requests", now_ms)
        limit = rules.pad_requests_per_day
        if recent >= limit:
            raise Problem(
                429,
                f"At most {limit} pad requests per identity in 24 hours.",
                headers={"Retry-After": "3600"},
            )
        append_event(
            session,
            store,
            challenge.id,
            f"pad_request:{request.digest}",
            lambda t, k: t.record_pad_request(
                request, PublicKey.from_hex(requester), signature, now_ms, key=k
            ),
        )
        sign_head(session, challenge.id)
        row = PadRequestRow(
            digest=request.digest,
            challenge_id=challenge.id,
            token_id=token.id,
            kind=kind,
            seed=body["seed"],
            c1_seed=request.c1_seed.hex(),
            record=request.to_bytes(),
            trustees=trustees,
            requester=requester,
            signature=body["signature"],
            logged_ms=now_ms,
        )
        session.add(row)
        session.commit()
    return dump(PadRequestSchema(), pad_request_body(row)), 201


def _own_request(challenge_id: str, digest: str) -> PadRequestRow:
    get_challenge(challenge_id)
    row = get_session().get(PadRequestRow, digest)
    token = current_token()
    if (
        row is None
        or row.challenge_id != challenge_id
        or (token.role != Role.ADMIN and row.token_id != token.id)
    ):
        raise Problem(404, f"There is no pad request {digest!r} of yours in {challenge_id!r}.")
    return row


@bp.get("/<challenge_id>/pads/<digest>")
@doc(
    summary="A pad request of yours and which trustees answered it",
    tags=["pads"],
    responses={200: PadRequestSchema},
    problems=[404],
)
@require_roles(Role.PARTICIPANT, Role.ORGANIZER, Role.ADMIN)
def show(challenge_id: str, digest: str) -> dict[str, Any]:
    return dump(PadRequestSchema(), pad_request_body(_own_request(challenge_id, digest)))


@bp.get("/<challenge_id>/pads/<digest>/shares/<trustee>")
@doc(
    summary="One trustee's share of your pads (encrypted to your key, signed by the trustee)",
    tags=["pads"],
    responses={200: binary_response("PadShare.to_bytes()")},
    problems=[404],
)
@require_roles(Role.PARTICIPANT, Role.ORGANIZER, Role.ADMIN)
def share(challenge_id: str, digest: str, trustee: str) -> Response:
    row = _own_request(challenge_id, digest)
    stored = get_session().get(PadShareRow, (row.digest, trustee))
    if stored is None:
        raise Problem(404, f"{trustee!r} has not answered this pad request (yet).")
    return send_file(
        get_blob_store().path(stored.blob),
        mimetype=OCTET_STREAM,
        as_attachment=True,
        download_name=f"{digest[:16]}-{trustee}.padshare",
        etag=stored.blob,
    )


def use_pads(challenge_id: str, seed: bytes | None, kind: str, token: Token, digest: str) -> None:
    """Upload check (under the challenge lock): the bundle was encrypted with pads its
    uploader requested for this kind, not used by another bundle; mark them used (409)."""
    if seed is None:  # pragma: no cover - check_bundle refuses unseeded bundles first
        raise Problem(409, "The bundle was not encrypted with trustee pads.")
    row = (
        get_session()
        .scalars(select(PadRequestRow).where(PadRequestRow.c1_seed == seed.hex()))
        .one_or_none()
    )
    if row is None or row.challenge_id != challenge_id or row.token_id != token.id:
        raise Problem(
            409,
            "The bundle was not encrypted with pads you requested for this challenge.",
            type="urn:cryptoscore:problem:mismatch",
        )
    if row.kind != kind:
        raise Problem(409, f"These pads were requested for {row.kind}, not {kind}.")
    if row.bundle is not None and row.bundle != digest:
        raise Problem(409, "These pads were used for another bundle already.")
    row.bundle = digest
