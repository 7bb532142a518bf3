"""The public record of a challenge: leaderboard, signed tree heads, consistency, audit bundle.

* ``GET /challenges/<id>/leaderboard`` (public, CORS, ETag): released submissions ranked
  exactly as the auditor ranks them (``cryptoscore.transparency.leaderboard.rank`` over the
  rows the log's release entries keep in the bundles table: no re-parse of the log) — each
  participant's best, or every one — a page at a time, with accuracy, its Wilson interval
  (``with_accuracy``) and each submission's upload time.
* ``GET /challenges/<id>/log/head`` (public): the latest signed tree head.
* ``GET /challenges/<id>/log/consistency?from=N`` (public): the latest head and a proof that
  it extends the head of size N (a participant holding a receipt checks nothing was dropped).
* ``GET /challenges/<id>/audit-bundle`` (auditor, admin): ``Transcript.export`` of the
  persisted log, every blob it names and every signed tree head — what ``verify_bundle``
  checks — written to an anonymous temporary file entry by entry, blob by blob, and streamed
  from there.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from typing import Any

from flask import Blueprint, Response, request, send_file
from sqlalchemy import select

from cryptoscore.errors import CryptoScoreError
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.transparency.leaderboard import RANKING_RULE, Z_95, with_accuracy
from cryptoscore_server.auth import require_roles
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.cors import public_read
from cryptoscore_server.db import get_session
from cryptoscore_server.ledger import challenge_lock, latest_head, sign_head, transcript
from cryptoscore_server.models import LogEntry, Role, UploadedBundle
from cryptoscore_server.openapi import binary_response, doc
from cryptoscore_server.problems import Problem, library_problem
from cryptoscore_server.routes.challenges import get_challenge
from cryptoscore_server.schemas import (
    ConsistencySchema,
    LeaderboardQuerySchema,
    LeaderboardSchema,
    LogEntriesSchema,
    LogHeadSchema,
    dump,
)

__all__ = ["bp"]

bp = Blueprint("records", __name__, url_prefix="/challenges")


LEADERBOARD_MAX_AGE = 10
"""Seconds a reader (or a shared cache) may reuse a leaderboard page without asking again."""


@bp.get("/<challenge_id>/leaderboard")
@doc(
    summary="The leaderboard (public): ranked released values, accuracy and its 95% interval",
    description=(
        "Released submissions ranked by `ranking_rule`: " + RANKING_RULE + ". Each row has "
        "the released values (exact counts, as logged), `n` (the challenge's n_items), "
        "`correct`, `accuracy` = correct / n and its Wilson score 95% interval "
        "(`accuracy_low`, `accuracy_high`). Pages by `limit` and `offset`; `total` counts "
        "the whole view. The response carries a strong `ETag` (the SHA-256 of the body) and "
        f"`Cache-Control: public, max-age={LEADERBOARD_MAX_AGE}`; a request whose "
        "`If-None-Match` holds the current ETag gets 304 with no body. Cross-origin reads are "
        "allowed from the origins in the `CORS_ORIGINS` setting."
    ),
    tags=["records"],
    parameters=[{"in": "query", "schema": LeaderboardQuerySchema}],
    responses={
        200: {
            "description": "A page of the leaderboard",
            "headers": {
                "ETag": {"schema": {"type": "string"}, "description": "strong validator"},
                "Cache-Control": {"schema": {"type": "string"}},
            },
            "content": {"application/json": {"schema": "Leaderboard"}},
        },
        304: {"description": "Not modified: `If-None-Match` holds the current ETag"},
    },
    problems=[404, 422],
)
@public_read
def leaderboard(challenge_id: str) -> Response:
    query = LeaderboardQuerySchema().load(request.args)
    challenge = get_challenge(challenge_id)
    session = get_session()
    policy = ReleasePolicy.from_json(challenge.policy)
    ranked = transcript(session, get_blob_store(), challenge_id).leaderboard(
        policy, view=query["view"]
    )
    page = ranked[query["offset"] : query["offset"] + query["limit"]]
    times = {
        digest: submitted_at
        for digest, submitted_at in session.execute(
            select(UploadedBundle.digest, UploadedBundle.submitted_at).where(
                UploadedBundle.challenge_id == challenge_id,
                UploadedBundle.digest.in_([row["submission"] for row in page]),
            )
        )
    }
    end = query["offset"] + len(page)
    board = {
        "challenge": challenge_id,
        "view": query["view"],
        "policy": {**policy.to_json(), "aggregates": list(policy.aggregate_names())},
        "n_items": challenge.n_items,
        "ranking_rule": RANKING_RULE,
        "interval": {"method": "wilson", "level": 0.95, "z": Z_95},
        "total": len(ranked),
        "offset": query["offset"],
        "limit": query["limit"],
        "next_offset": end if end < len(ranked) else None,
        "rows": [
            {**row, "submitted_at": times[row["submission"]]}
            for row in with_accuracy(page, policy, challenge.n_items)
        ],
    }
    body = json.dumps(dump(LeaderboardSchema(), board)).encode()
    response = Response(body, mimetype="application/json")
    response.set_etag(hashlib.sha256(body).hexdigest())
    response.cache_control.public = True
    response.cache_control.max_age = LEADERBOARD_MAX_AGE
    response.make_conditional(request)  # 304 without the body if If-None-Match matches
    return response


@bp.get("/<challenge_id>/log/head")
@doc(
    summary="The latest signed tree head of the challenge's log (public)",
    tags=["records"],
    responses={200: LogHeadSchema},
    problems=[404],
)
@public_read
def log_head(challenge_id: str) -> dict[str, Any]:
    get_challenge(challenge_id)
    head = latest_head(get_session(), challenge_id)
    if head is None:
        raise Problem(404, f"The log of {challenge_id!r} has no signed head yet.")
    return head.to_json()


LOG_PAGE = 5000
"""Entries per page of ``GET /challenges/{id}/log/entries``."""


@bp.get("/<challenge_id>/log/entries")
@doc(
    summary="Log entries from index `from` on (a page), with the latest signed head (public)",
    tags=["records"],
    parameters=[
        {"name": "from", "in": "query", "required": True, "schema": {"type": "integer"}},
    ],
    responses={200: LogEntriesSchema},
    problems=[400, 404],
)
@public_read
def log_entries(challenge_id: str) -> dict[str, Any]:
    """What followers (trustees) keep their own copy of the log from: they check every head
    against the entries themselves (``cryptoscore.transparency.replica``)."""
    get_challenge(challenge_id)
    session = get_session()
    head = latest_head(session, challenge_id)
    if head is None:
        raise Problem(404, f"The log of {challenge_id!r} has no signed head yet.")
    try:
        start = int(request.args.get("from", ""))
    except ValueError:
        raise Problem(400, "Give the first entry's index as ?from=N.") from None
    if not 0 <= start <= head.size:
        raise Problem(400, f"from must be 0..{head.size}.")
    rows = session.scalars(
        select(LogEntry.entry)
        .where(LogEntry.challenge_id == challenge_id)
        .where(LogEntry.index >= start, LogEntry.index < min(head.size, start + LOG_PAGE))
        .order_by(LogEntry.index)
    )
    entries = [bytes(raw).decode() for raw in rows]
    return dump(LogEntriesSchema(), {"tree_head": head.to_json(), "entries": entries})


@bp.get("/<challenge_id>/log/consistency")
@doc(
    summary="The latest head and a consistency proof from the head of size `from` (public)",
    tags=["records"],
    parameters=[
        {"name": "from", "in": "query", "required": True, "schema": {"type": "integer"}},
    ],
    responses={200: ConsistencySchema},
    problems=[400, 404],
)
@public_read
def consistency(challenge_id: str) -> dict[str, Any]:
    get_challenge(challenge_id)
    try:
        old_size = int(request.args.get("from", ""))
    except ValueError:
        raise Problem(400, "Give the older tree size as ?from=N.") from None
    record = transcript(get_session(), get_blob_store(), challenge_id)
    if not record.tree_heads:
        raise Problem(404, f"The log of {challenge_id!r} has no signed head yet.")
    if not 0 <= old_size <= record.tree_heads[-1].size:
        raise Problem(400, f"from must be 0..{record.tree_heads[-1].size}.")
    try:
        head, proof = record.consistency(old_size)
    except CryptoScoreError as exc:
        raise library_problem(exc) from None
    return dump(ConsistencySchema(), {"tree_head": head.to_json(), "consistency": proof.to_json()})


@bp.get("/<challenge_id>/audit-bundle")
@doc(
    summary="The audit bundle: log, tree heads, every logged object, leaderboard (zip)",
    tags=["records"],
    responses={200: binary_response("cryptoscore-audit-bundle v1 (zip)", "application/zip")},
    problems=[404],
)
@require_roles(Role.AUDITOR, Role.ADMIN)
def audit_bundle(challenge_id: str) -> Response:
    challenge = get_challenge(challenge_id)
    session, store = get_session(), get_blob_store()
    with challenge_lock(session, challenge_id):
        sign_head(session, challenge_id)  # the bundle's last head must cover every entry
        session.commit()
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response once sent
    try:
        transcript(session, store, challenge_id).export(
            out, ReleasePolicy.from_json(challenge.policy)
        )
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return send_file(
        out,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"{challenge_id}.audit.zip",
    )
