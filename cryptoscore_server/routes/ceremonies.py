"""The relay of dealerless key ceremonies (``cryptoscore/threshold/dkg``; issue 13).

The organizer posts a ceremony plan; the trustees post their signed messages, round by round,
and read each other's. The service relays messages it cannot read: it holds only the public
plan, the signed public messages and the shares sealed to their recipients, and it parses
each message with the library (signature, plan, sender, sizes) only to refuse what no honest
trustee sends. It computes nothing of its own: every trustee rebuilds and checks the
transcript from the messages it downloads (``Transcript``), so the relay can withhold or delay
a message but not forge, change or equivocate on a trustee's behalf (docs/design.md,
"Ceremony relay").

* ``POST /ceremonies`` (organizer, admin): the plan's bytes (``CeremonyPlan.to_bytes()``).
  201 with the ceremony; the same plan again 200; not a plan 422.
* ``GET /ceremonies`` (any token): every ceremony, ``?trustee=<id>`` those whose roster names
  it; each with its state (collecting, complete, aborted) and per-kind counts.
* ``GET /ceremonies/{id}``: the plan's fields, and per kind who posted (digest, size) and who
  has not; ``GET /ceremonies/{id}/plan``: the plan's bytes.
* ``POST /ceremonies/{id}/messages`` (trustee, named after a roster id): one
  ``SignedMessage``. The body limit is the plan's largest message (``dkg/sizes.py``),
  not ``MAX_UPLOAD_BYTES`` (413; the HTTP server in front still caps every body a little
  above ``MAX_UPLOAD_BYTES``, whose 512 MiB default holds any plan's messages: bfv-16384 at
  16 trustees ≈ 125 MB). The body streams to the blob store and is parsed from there.
  Refused, with nothing kept: malformed or badly signed 400, of another plan 409, from
  another trustee than the token's 403, before the previous round is complete 409
  (``missing`` names who), answering other inputs than the stored previous round
  (``previous``) 422, a second, different message of the same kind and trustee 409
  (equivocation). The same message again is 200. A reveal is taken any time after the plan.
* ``GET /ceremonies/{id}/messages``: every message's kind, round, sender, digest, size;
  ``GET /ceremonies/{id}/messages/{kind}/{trustee_id}``: its bytes (ETag: the digest).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO, cast

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from cryptoscore.errors import CryptoScoreError
from cryptoscore.threshold.dkg.messages import KINDS, SignedMessage
from cryptoscore.threshold.dkg.plan import CeremonyPlan
from cryptoscore.threshold.dkg.sizes import largest_message_bytes
from cryptoscore.threshold.dkg.transcript import (
    ROUNDS,
    answered_round,
    expected_previous_of,
    round_digests_of,
)
from cryptoscore_server.auth import current_token, require_roles
from cryptoscore_server.blobs import (
    BlobStore,
    BlobTooLarge,
    StoredBlob,
    get_blob_store,
    record_blob,
    send_blob,
)
from cryptoscore_server.bodies import OCTET_STREAM, octet_body
from cryptoscore_server.db import get_session
from cryptoscore_server.models import Blob, CeremonyMessageRow, CeremonyRow, Role, utcnow
from cryptoscore_server.openapi import binary_body, binary_response, doc
from cryptoscore_server.problems import Problem, library_problem
from cryptoscore_server.schemas import (
    CeremonyDetailSchema,
    CeremonyListSchema,
    CeremonyMessageListSchema,
    CeremonyMessageSchema,
    CeremonySchema,
    dump,
)

__all__ = ["bp", "get_ceremony"]

bp = Blueprint("ceremonies", __name__, url_prefix="/ceremonies")
_ANY_TOKEN = (Role.ADMIN, Role.ORGANIZER, Role.PARTICIPANT, Role.TRUSTEE, Role.AUDITOR)
_URN = "urn:cryptoscore:problem:"
_OCTETS = binary_response(
    "The record's bytes",
    headers={"ETag": {"description": "its digest (hex)", "schema": {"type": "string"}}},
)
_LOCK = threading.RLock()

REVEAL = "reveal"
"""The kind a trustee posts only on abort (its seed): any reveal makes the ceremony aborted."""
COMPLETION = ROUNDS[-1]
"""The last kind of a finished ceremony: every trustee's completion."""


# -- the previous round, from stored digests ----------------------------------------------------
# The library's rule over the digests the relay stored (``transcript.expected_previous_of``,
# ``round_digests_of``): the bodies are not needed.
class _Incomplete(Exception):
    def __init__(self, kind: str, missing: list[str]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.missing = missing


def _expected_previous(
    plan_digest: str, roster: list[str], kind: str, stored: Mapping[str, Mapping[str, str]]
) -> str:
    """What a ``kind`` message's ``previous`` must be: the plan for the first round and a
    reveal, else the digest of the (complete) round before, from ``stored`` (kind → trustee →
    digest). :class:`_Incomplete` names who the round before still lacks."""
    complete: dict[str, list[str]] = {}
    for round_kind in ROUNDS:
        posted = stored.get(round_kind, {})
        if any(tid not in posted for tid in roster):
            break
        complete[round_kind] = [posted[tid] for tid in roster]
    before = answered_round(kind)
    if before is not None and before not in complete:
        posted = stored.get(before, {})
        raise _Incomplete(before, [tid for tid in roster if tid not in posted])
    return expected_previous_of(kind, plan_digest, round_digests_of(plan_digest, complete))


# -- reading ------------------------------------------------------------------------------------
def get_ceremony(ceremony_id: str) -> CeremonyRow:
    """The ceremony row, or a 404 problem."""
    row = get_session().get(CeremonyRow, ceremony_id)
    if row is None:
        raise Problem(404, f"There is no ceremony {ceremony_id!r}.")
    return row


def _plan_of(row: CeremonyRow) -> CeremonyPlan:
    return CeremonyPlan.from_bytes(row.plan)


def _messages(session: Session, ceremony_id: str) -> list[CeremonyMessageRow]:
    return list(
        session.scalars(
            select(CeremonyMessageRow).where(CeremonyMessageRow.ceremony_id == ceremony_id)
        )
    )


def _message_row(
    session: Session, ceremony_id: str, kind: str, trustee_id: str
) -> CeremonyMessageRow | None:
    return session.scalars(
        select(CeremonyMessageRow).where(
            CeremonyMessageRow.ceremony_id == ceremony_id,
            CeremonyMessageRow.kind == kind,
            CeremonyMessageRow.trustee_id == trustee_id,
        )
    ).first()


def _state(row: CeremonyRow, counts: Mapping[str, int]) -> str:
    if counts.get(REVEAL):
        return "aborted"
    return "complete" if counts.get(COMPLETION, 0) == row.n else "collecting"


def _ceremony_json(row: CeremonyRow, counts: Mapping[str, int]) -> dict[str, Any]:
    plan = _plan_of(row)
    return {
        "id": row.id,
        "params": row.params_id,
        "threshold": row.threshold,
        "n": row.n,
        "roster": [
            {"trustee_id": e.trustee_id, "index": e.index, "public_key": e.public_key.hex()}
            for e in plan.roster
        ],
        "created_by": row.created_by,
        "created_at": row.created_at,
        "state": _state(row, counts),
        "counts": {kind: counts.get(kind, 0) for kind in KINDS},
    }


def _counts(session: Session, ids: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {i: {} for i in ids}
    if not ids:
        return out
    rows = session.execute(
        select(CeremonyMessageRow.ceremony_id, CeremonyMessageRow.kind, func.count())
        .where(CeremonyMessageRow.ceremony_id.in_(ids))
        .group_by(CeremonyMessageRow.ceremony_id, CeremonyMessageRow.kind)
    )
    for ceremony_id, kind, count in rows:
        out[ceremony_id][kind] = int(count)
    return out


def _order(row: CeremonyRow, message: CeremonyMessageRow) -> tuple[int, int, str]:
    index = row.roster.index(message.trustee_id) if message.trustee_id in row.roster else 0
    return (message.round, index, message.kind)


# -- routes ---------------------------------------------------------------------------------------
@bp.post("")
@doc(
    summary="Start relaying a dealerless key ceremony: post its plan",
    description="The body is `CeremonyPlan.to_bytes()`; the ceremony id is its SHA-256. "
    "The same plan again answers 200 with the same body.",
    tags=["ceremonies"],
    request_body=binary_body("CeremonyPlan.to_bytes()"),
    responses={201: CeremonySchema, 200: CeremonySchema},
    problems=[413, 415, 422],
)
@require_roles(Role.ORGANIZER, Role.ADMIN)
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    raw = octet_body("ceremony plan")
    try:
        plan = CeremonyPlan.from_bytes(raw)
    except CryptoScoreError as exc:
        problem = library_problem(exc)
        raise Problem(
            422, f"Not a ceremony plan: {problem.detail}", title=problem.title, type=problem.type
        ) from None
    session = get_session()
    location = url_for("ceremonies.read", ceremony_id=plan.digest)
    existing = session.get(CeremonyRow, plan.digest)
    if existing is None:
        row = CeremonyRow(
            id=plan.digest,
            plan=plan.to_bytes(),
            params_id=plan.params.ID,
            threshold=plan.threshold,
            n=plan.n,
            roster=[e.trustee_id for e in plan.roster],
            created_by=current_token().name,
            created_at=utcnow(),
        )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # the same plan posted concurrently: answer as a repeat
            session.rollback()
            existing = session.get(CeremonyRow, plan.digest)
            if existing is None:
                raise
        else:
            return dump(CeremonySchema(), _ceremony_json(row, {})), 201, {"Location": location}
    counts = _counts(session, [existing.id])[existing.id]
    return dump(CeremonySchema(), _ceremony_json(existing, counts)), 200, {"Location": location}


@bp.get("")
@doc(
    summary="List the ceremonies (oldest first); ?trustee= those whose roster names it",
    tags=["ceremonies"],
    responses={200: CeremonyListSchema},
    parameters=[
        {
            "name": "trustee",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "a roster trustee id",
        }
    ],
)
@require_roles(*_ANY_TOKEN)
def list_ceremonies() -> dict[str, Any]:
    session = get_session()
    trustee = request.args.get("trustee")
    everything = session.scalars(
        select(CeremonyRow).order_by(CeremonyRow.created_at, CeremonyRow.id)
    )
    rows = [r for r in everything if trustee is None or trustee in r.roster]
    counts = _counts(session, [r.id for r in rows])
    return dump(
        CeremonyListSchema(), {"ceremonies": [_ceremony_json(r, counts[r.id]) for r in rows]}
    )


@bp.get("/<ceremony_id>")
@doc(
    summary="A ceremony: its plan's fields, and per kind who posted (digest, size) and who not",
    tags=["ceremonies"],
    responses={200: CeremonyDetailSchema},
    problems=[404],
)
@require_roles(*_ANY_TOKEN)
def read(ceremony_id: str) -> dict[str, Any]:
    row = get_ceremony(ceremony_id)
    messages = _messages(get_session(), row.id)
    by_kind: dict[str, dict[str, CeremonyMessageRow]] = {kind: {} for kind in KINDS}
    for m in messages:
        by_kind.setdefault(m.kind, {})[m.trustee_id] = m
    counts = {kind: len(posted) for kind, posted in by_kind.items()}
    body = _ceremony_json(row, counts)
    body["kinds"] = [
        {
            "kind": kind,
            "round": KINDS[kind],
            "posted": [
                {"trustee_id": tid, "digest": posted[tid].digest, "size": posted[tid].size}
                for tid in row.roster
                if tid in posted
            ],
            "missing": [tid for tid in row.roster if tid not in posted],
        }
        for kind, posted in by_kind.items()
    ]
    return dump(CeremonyDetailSchema(), body)


@bp.get("/<ceremony_id>/plan")
@doc(
    summary="Download a ceremony's plan (CeremonyPlan.to_bytes())",
    tags=["ceremonies"],
    responses={200: _OCTETS},
    problems=[404],
)
@require_roles(*_ANY_TOKEN)
def plan_bytes(ceremony_id: str) -> Response:
    row = get_ceremony(ceremony_id)
    response = current_app.response_class(row.plan, mimetype=OCTET_STREAM)
    response.headers["Content-Disposition"] = f"attachment; filename={row.id}.plan"
    response.set_etag(row.id)
    response.make_conditional(request)
    return response


@bp.get("/<ceremony_id>/messages")
@doc(
    summary="Every message of a ceremony: kind, round, sender, digest, size",
    tags=["ceremonies"],
    responses={200: CeremonyMessageListSchema},
    problems=[404],
)
@require_roles(*_ANY_TOKEN)
def list_messages(ceremony_id: str) -> dict[str, Any]:
    row = get_ceremony(ceremony_id)
    messages = sorted(_messages(get_session(), row.id), key=lambda m: _order(row, m))
    return dump(
        CeremonyMessageListSchema(),
        {"ceremony": row.id, "messages": [_message_json(m) for m in messages]},
    )


def _message_json(m: CeremonyMessageRow) -> dict[str, Any]:
    return {
        "kind": m.kind,
        "round": m.round,
        "trustee_id": m.trustee_id,
        "digest": m.digest,
        "size": m.size,
    }


@bp.get("/<ceremony_id>/messages/<kind>/<trustee_id>")
@doc(
    summary="Download one message (SignedMessage.to_bytes(); ETag: its digest)",
    tags=["ceremonies"],
    responses={200: _OCTETS},
    problems=[404],
)
@require_roles(*_ANY_TOKEN)
def message_bytes(ceremony_id: str, kind: str, trustee_id: str) -> Response:
    row = get_ceremony(ceremony_id)
    message = _message_row(get_session(), row.id, kind, trustee_id)
    if message is None:
        raise Problem(404, f"There is no {kind} of {trustee_id!r} in ceremony {row.id!r}.")
    return send_blob(
        message.blob,
        f"{kind}-{trustee_id}.msg",
        etag=message.digest,
        what="message of this ceremony",
    )


@bp.post("/<ceremony_id>/messages")
@doc(
    summary="Post this trustee's signed ceremony message (SignedMessage.to_bytes())",
    description="The body may be as large as the plan's largest message (not MAX_UPLOAD_BYTES). "
    "Refused with nothing stored: malformed or badly signed 400, another trustee's 403, "
    "of another plan 409, before the previous round is complete 409 (`missing`), answering "
    "other inputs than the stored round 422, a second different message of the same kind "
    "409 (equivocation). The same message again is 200.",
    tags=["ceremonies"],
    request_body=binary_body("SignedMessage.to_bytes()"),
    responses={201: CeremonyMessageSchema, 200: CeremonyMessageSchema},
    problems=[400, 404, 409, 413, 415, 422],
)
@require_roles(Role.TRUSTEE)
def post_message(ceremony_id: str) -> tuple[dict[str, Any], int]:
    row = get_ceremony(ceremony_id)
    trustee = current_token().name
    if trustee not in row.roster:
        raise Problem(403, f"This trustee token is not for a trustee of ceremony {row.id!r}.")
    plan = _plan_of(row)
    if request.mimetype != OCTET_STREAM:
        octet_body("ceremony message")  # the 415 problem
    stored = _stream_body(largest_message_bytes(plan))
    store, session = get_blob_store(), get_session()
    try:
        status, message = _accept(session, store, row, plan, trustee, stored)
    except BaseException:
        _discard_unreferenced(session, store, stored)
        raise
    if status == 200:  # a repeat: the bytes stored are the first post's
        _discard_unreferenced(session, store, stored)
    return dump(CeremonyMessageSchema(), _message_json(message)), status


def _stream_body(limit: int) -> StoredBlob:
    """The request body, streamed into the blob store (at most ``limit`` bytes: 413)."""
    request.max_content_length = limit  # this route's own limit, not MAX_UPLOAD_BYTES
    too_large = Problem(
        413,
        f"A message of this ceremony's plan has at most {limit} bytes.",
        title="Message too large",
        type=_URN + "too-large",
        limit=limit,
    )
    try:
        return get_blob_store().put(cast(BinaryIO, request.stream), max_bytes=limit)
    except (RequestEntityTooLarge, BlobTooLarge):
        raise too_large from None


def _accept(
    session: Session,
    store: BlobStore,
    row: CeremonyRow,
    plan: CeremonyPlan,
    trustee: str,
    stored: StoredBlob,
) -> tuple[int, CeremonyMessageRow]:
    try:
        message = SignedMessage.from_bytes(store.read(stored.sha256), plan)
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    if message.trustee_id != trustee:
        raise Problem(
            403,
            f"A trustee posts only its own messages: this is a {message.kind} of "
            f"{message.trustee_id!r}, the token is {trustee!r}'s.",
        )
    with _ceremony_lock(session, row.id):
        held = {(m.kind, m.trustee_id): m for m in _messages(session, row.id)}
        previous = held.get((message.kind, trustee))
        if previous is not None:
            return _repeat(previous, message), previous
        stored_digests: dict[str, dict[str, str]] = {}
        for (kind, tid), m in held.items():
            stored_digests.setdefault(kind, {})[tid] = m.digest
        try:
            want = _expected_previous(row.id, row.roster, message.kind, stored_digests)
        except _Incomplete as exc:
            raise Problem(
                409,
                f"The {exc.kind}s are not all in: none yet from {', '.join(exc.missing)}; a "
                f"{message.kind} answers the complete round before it.",
                title="Previous round incomplete",
                type=_URN + "out-of-order",
                kind=exc.kind,
                missing=exc.missing,
            ) from None
        if message.previous != want:
            raise Problem(
                422,
                f"This {message.kind} answers other inputs than the relay's: its previous is "
                f"{message.previous}, the stored round gives {want}.",
                title="Answers other inputs",
                type=_URN + "wrong-previous",
                expected=want,
            )
        record_blob(session, stored)
        created = CeremonyMessageRow(
            ceremony_id=row.id,
            kind=message.kind,
            round=message.round,
            trustee_id=trustee,
            digest=message.digest,
            previous=message.previous,
            blob=stored.sha256,
            size=stored.size,
            created_at=utcnow(),
        )
        session.add(created)
        try:
            session.commit()
        except IntegrityError:  # another process stored this kind of this trustee first
            session.rollback()
            first = _message_row(session, row.id, message.kind, trustee)
            if first is None:
                raise
            return _repeat(first, message), first
    return 201, created


def _repeat(first: CeremonyMessageRow, message: SignedMessage) -> int:
    """200 for the same message again; a different one of the same kind is equivocation."""
    if first.digest == message.digest:
        return 200
    raise Problem(
        409,
        f"{first.trustee_id!r} posted a different {message.kind} already (digest "
        f"{first.digest}); a trustee sends one message of each kind.",
        title="Equivocation refused",
        type=_URN + "equivocation",
    )


@contextmanager
def _ceremony_lock(session: Session, ceremony_id: str) -> Iterator[None]:
    """Serialize writers of one ceremony's messages (the row locked on PostgreSQL; one
    process's threads by a lock; the unique constraint is the last word either way)."""
    with _LOCK:
        try:
            session.scalars(
                select(CeremonyRow).where(CeremonyRow.id == ceremony_id).with_for_update()
            ).one()
            yield
        finally:
            session.rollback()


def _discard_unreferenced(session: Session, store: BlobStore, stored: StoredBlob) -> None:
    """Undo this request's blob write if no row names it (a refusal keeps nothing); if the
    database cannot say, the file stays (an orphan, never a row naming a missing file)."""
    if not stored.created:
        return
    with suppress(Exception):
        session.rollback()
    if session.get(Blob, stored.sha256) is None:
        store.discard(stored.sha256)
