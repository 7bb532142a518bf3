"""The public record of a challenge: leaderboard, signed tree heads, consistency, audit bundle.

* ``GET /challenges/<id>/leaderboard`` (public, CORS, ETag): released submissions ranked
  exactly as the auditor ranks them (``cryptoscore.transparency.leaderboard.rank`` over the
  rows the log's release entries keep in the bundles table: no re-parse of the log) — each
  participant's best, or every one — a page at a time, with accuracy, its Wilson interval
  (``with_accuracy``) and each submission's upload time; ``release`` says which policy made
  the numbers (exact counts, or dp noise with its parameters, each row then carrying its
  expected absolute error and the interval widened by the noise).
* ``GET /challenges/<id>/log/head`` (public): the latest signed tree head.
* ``GET /challenges/<id>/log/consistency?from=N`` (public): the latest head and a proof that
  it extends the head of size N (a participant holding a receipt checks nothing was dropped).
* ``GET /challenges/<id>/log/submissions/<digest>`` (public): a submission as the log shows
  it — its bundle entry and every contribution, request, partial, round-1 verdict and release
  entry about it under the latest signed head, and the state they add up to. Nothing that
  ``log/entries`` does not already give anyone (the web page's submission view reads it).
* ``GET /challenges/<id>/trustees`` (public): the roster's trustee ids and when each last
  polled for its tasks (``TrusteePresence``), ``online`` if within ``ONLINE_WITHIN`` seconds.
* ``GET /challenges/<id>/audit-bundle`` (auditor, admin): ``Transcript.export`` of the
  persisted log, every blob it names and every signed tree head — what ``verify_bundle``
  checks — written to an anonymous temporary file entry by entry, blob by blob, and streamed
  from there.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request, send_file
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cryptoscore.errors import CryptoScoreError
from cryptoscore.protocol.driver import private_request_id, round1_prefix, round2_request_id
from cryptoscore.protocol.ladder import LadderOpening
from cryptoscore.protocol.release import ReleaseState
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.dp_noise import calibrate
from cryptoscore.transparency.entries import parse_entry
from cryptoscore.transparency.leaderboard import RANKING_RULE, Z_95, with_accuracy
from cryptoscore_server.auth import current_token, require_roles
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.cors import public_read
from cryptoscore_server.db import get_session
from cryptoscore_server.ledger import challenge_lock, latest_head, sign_head, transcript
from cryptoscore_server.models import LogEntry, Role, TrusteePresence, UploadedBundle, utcnow
from cryptoscore_server.openapi import binary_response, doc
from cryptoscore_server.problems import Problem, library_problem
from cryptoscore_server.routes.challenges import get_challenge
from cryptoscore_server.schemas import (
    ConsistencySchema,
    LeaderboardQuerySchema,
    LeaderboardSchema,
    LogEntriesSchema,
    LoggedSubmissionSchema,
    LogHeadSchema,
    TrusteePresenceListSchema,
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
    rules = None if challenge.rules is None else ChallengeRules.from_json(challenge.rules)
    split = None if rules is None else rules.split
    dp = None if rules is None else rules.dp
    noise = (
        None
        if dp is None
        else calibrate(
            policy,
            dp.rho,
            challenge.threshold,
            answers=challenge.answers,
            n=len(challenge.roster),
        )
    )
    # under the Ladder each row says so and its margin (docs/design.md, "Ladder")
    ladder = {} if rules is None or rules.ladder is None else {"ladder_margin": rules.ladder.margin}
    part: str | None = query.get("part")
    if split is None and part is not None:
        raise Problem(422, f"Challenge {challenge_id!r} has no public/private split.")
    if split is not None and part is None:  # what the challenge shows now
        part = "public" if challenge.closed_ms is None else "private"
    ranked = transcript(session, get_blob_store(), challenge_id).leaderboard(
        policy, view=query["view"], part=part
    )
    part_sizes = (
        None
        if split is None
        else {"public": split.public_items, "private": split.private_items(challenge.n_items)}
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
    disputed = session.scalars(
        select(UploadedBundle)
        .where(UploadedBundle.challenge_id == challenge_id)
        .where(
            UploadedBundle.kind == "predictions",
            UploadedBundle.state == ReleaseState.DISPUTED,
        )
        .order_by(UploadedBundle.submitted_at)
    )
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
            {
                **row,
                "submitted_at": times[row["submission"]],
                **(ladder if "release" in row else {}),
            }
            for row in with_accuracy(page, policy, challenge.n_items, part_sizes, noise)
        ],
        "release": (
            {"kind": "exact"}
            if dp is None or noise is None
            else {
                "kind": "dp",
                "rho": dp.rho,
                "budget": dp.budget,
                "releases_per_identity": dp.releases,
                "sigma": noise.sigma,
                "trustees": noise.trustees,
                "answers": noise.answers,
                "summed_draws": noise.summed_draws,
                "sensitivity": noise.sensitivity,
                "interval": "Wilson, with the noise variance V of correct added as V/n^2 "
                "to the variance inside the square root",
                "expected_error": "sqrt(2/pi)*sqrt(V): the Gaussian approximation of "
                "E|released - exact| for the sum of summed_draws discrete Gaussians",
            }
        ),
        "part": part,
        "split": (
            None
            if split is None
            else {
                "public_items": split.public_items,
                "private_items": split.private_items(challenge.n_items),
                "finals": split.finals,
                "closes_at": challenge.closes_at,
                "closed": challenge.closed_ms is not None,
            }
        ),
        "disputed": [
            {
                "participant": row.owner,
                "submission": row.digest,
                "invariant": row.reason.split(":", 1)[0],  # the library's "<invariant>: …"
                "reason": row.reason,
                "submitted_at": row.submitted_at,
            }
            for row in disputed
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


_HEX64 = re.compile(r"[0-9a-f]{64}")
# what each entry type about a submission shows of itself (besides its index and type)
_EVENT_MEMBERS = {
    "bundle": {"time": "time_ms"},
    "contribution": {"trustee": "trustee"},
    "request": {"request_id": "request_id", "round": "round", "circuit": "circuit"},
    "partial": {"request_id": "request_id", "trustee": "trustee"},
    "round1": {"verdict": "verdict", "reason": "reason"},
    "release": {"request_id": "request_id"},
    "part_release": {"request_id": "request_id", "part": "part"},
    "dispute": {"request_id": "request_id", "invariant": "invariant", "reason": "reason"},
    "ladder_release": {"request_id": "request_id", "part": "part", "commitment": "commitment"},
}
_RELEASES = ("release", "part_release", "ladder_release")


def _submission_entries(
    session: Session, challenge_id: str, digest: str, size: int
) -> list[tuple[int, dict[str, Any]]]:
    """The entries about submission ``digest`` below log index ``size``, found by the event
    keys the service logs them under and kept only if they name it themselves. A request
    entry names its inputs, not its id: the id (which the partials name) is its key's."""
    r1, r2 = round1_prefix(challenge_id, digest), round2_request_id(challenge_id, digest)
    rp = private_request_id(challenge_id, digest)  # a split's private part (round 3)
    key = LogEntry.key
    rows = session.execute(
        select(LogEntry.index, LogEntry.key, LogEntry.entry)
        .where(LogEntry.challenge_id == challenge_id, LogEntry.index < size)
        .where(
            or_(
                key.in_(
                    [
                        f"bundle:{digest}",
                        f"round1:{digest}",
                        f"request:{r2}",
                        f"release:{r2}",
                        f"dispute:{r2}",
                        f"request:{rp}",
                        f"release:{rp}",
                        f"dispute:{rp}",
                    ]
                ),
                key.startswith(f"contribution:{digest}:", autoescape=True),
                key.startswith(f"request:{r1}:", autoescape=True),
                key.startswith(f"partial:{r1}:", autoescape=True),
                key.startswith(f"partial:{r2}:", autoescape=True),
                key.startswith(f"partial:{rp}:", autoescape=True),
            )
        )
        .order_by(LogEntry.index)
    )
    found = []
    for index, event_key, raw in rows:
        entry = parse_entry(bytes(raw))
        kind = entry["type"]
        if kind == "request":
            entry = {**entry, "request_id": event_key.removeprefix("request:")}
        if (
            (kind == "bundle" and entry["bundle"] == digest and entry["kind"] == "predictions")
            or (kind in ("contribution", "round1") and entry["bundle"] == digest)
            or (kind == "request" and digest in entry["inputs"])
            or (
                kind == "partial"
                and (_ours(entry["request_id"], r1, r2) or entry["request_id"] == rp)
            )
            or (kind in (*_RELEASES, "dispute") and entry["predictions"] == digest)
        ):
            found.append((index, entry))
    return found


def _ours(request_id: str, r1: str, r2: str) -> bool:
    return request_id == r2 or request_id.startswith(f"{r1}:")


def _round2(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries of rounds 1 and 2 (a split challenge's round 2 is its public part; its
    private part, round 3, has its own state: ``private``)."""
    private = {e["request_id"] for e in entries if e["type"] == "request" and e["round"] == 3}
    return [e for e in entries if e.get("request_id") not in private]


def _state(entries: list[dict[str, Any]]) -> ReleaseState:
    """The state the logged entries add up to (the service's own, which moves with them)."""
    kinds = {e["type"]: e for e in entries}
    circuits = {e["circuit"] for e in entries if e["type"] == "request"}
    if kinds.keys() & set(_RELEASES):
        return ReleaseState.RELEASED
    if "dispute" in kinds:
        return ReleaseState.DISPUTED
    if circuits & {"score/v1", "score-public/v1", "score-private/v1"}:
        return ReleaseState.SCORING
    if "round1" in kinds:
        return ReleaseState(kinds["round1"]["verdict"])
    if "validity/v1" in circuits:
        return ReleaseState.VALIDITY
    if "noise/v1" in circuits:
        return ReleaseState.NOISE_CHECK
    return ReleaseState.AWAITING_CONTRIBUTIONS


@bp.get("/<challenge_id>/log/submissions/<digest>")
@doc(
    summary="A submission as the public log shows it (public): its entries and their state",
    description=(
        "The submission's `bundle` entry (owner, time) and every `contribution`, `request`, "
        "`partial`, `round1`, `release` (a split's `part_release`) and `dispute` entry about "
        "it under the latest signed head, each with its log index, and the state they add "
        "up to: `released` with the "
        "release's values, `disputed` with the release invariant its combined values broke "
        "(nothing released), `invalid` with the round-1 reason, else the round-1/round-2 step "
        "reached. A split challenge: state and values are the public part's; `private` the "
        "private part's, once the close asked it. "
        "Only what `log/entries` gives anyone; `bundle_index` is the index a receipt proves."
    ),
    tags=["records"],
    responses={200: LoggedSubmissionSchema},
    problems=[404],
)
@public_read
def logged_submission(challenge_id: str, digest: str) -> dict[str, Any]:
    get_challenge(challenge_id)
    session = get_session()
    head = latest_head(session, challenge_id)
    found = (
        _submission_entries(session, challenge_id, digest, head.size)
        if head is not None and _HEX64.fullmatch(digest)
        else []
    )
    if not found or found[0][1]["type"] != "bundle":
        raise Problem(404, f"The log of {challenge_id!r} holds no submission {digest!r}.")
    assert head is not None  # found is empty without one
    bundle = found[0][1]
    every = [entry for _, entry in found]
    entries = _round2(every)
    release = next((e for e in entries if e["type"] in _RELEASES), None)
    dispute = next((e for e in entries if e["type"] == "dispute"), None)
    verdict = next((e for e in entries if e["type"] == "round1"), None)
    third = [e for e in every if e not in entries]  # a split's private part, after the close
    private_release = next((e for e in third if e["type"] == "part_release"), None)
    private_dispute = next((e for e in third if e["type"] == "dispute"), None)
    events = [
        {
            "index": index,
            "type": entry["type"],
            **{out: entry[member] for member, out in _EVENT_MEMBERS[entry["type"]].items()},
        }
        for index, entry in found
    ]
    time_ms = bundle.get("time")  # logs written before signed inputs have none
    return dump(
        LoggedSubmissionSchema(),
        {
            "challenge": challenge_id,
            "submission": digest,
            "participant": bundle["owner"],
            "logged_at": None if time_ms is None else datetime.fromtimestamp(time_ms / 1000, UTC),
            "state": _state(entries),
            "reason": dispute["reason"] if dispute else verdict["reason"] if verdict else "",
            "values": release["values"] if release else None,
            "invariant": dispute["invariant"] if dispute else None,
            "part": release.get("part") if release else None,
            "private": (
                None
                if not third
                else {
                    "state": _state(third).value,
                    "values": private_release["values"] if private_release else None,
                    "reason": private_dispute["reason"] if private_dispute else "",
                }
            ),
            "bundle_index": found[0][0],
            "tree_head": head.to_json(),
            "events": events,
        },
    )


ONLINE_WITHIN = 120
"""Seconds since a trustee's last poll within which it counts as online (``trustee run``
polls every 2 s, backing off to 60 s while the service does not answer)."""


@bp.get("/<challenge_id>/trustees")
@doc(
    summary="The challenge's trustees and who is online (public)",
    description=(
        "Each roster trustee's id and index, when it last polled the service for its tasks "
        f"(null: never), and `online`: polled within the last {ONLINE_WITHIN} seconds. "
        "New pad requests go to every roster trustee not named a liar in the challenge's log "
        "(Shamir answers), or to the t trustees seen most recently (additive answers)."
    ),
    tags=["records"],
    responses={200: TrusteePresenceListSchema},
    problems=[404],
)
@public_read
def trustees(challenge_id: str) -> dict[str, Any]:
    challenge = get_challenge(challenge_id)
    ids = [str(entry["id"]) for entry in challenge.roster]
    seen: dict[str, datetime] = {
        row.trustee: row.last_seen
        for row in get_session().scalars(
            select(TrusteePresence).where(TrusteePresence.trustee.in_(ids))
        )
    }
    now = utcnow()
    return dump(
        TrusteePresenceListSchema(),
        {
            "challenge": challenge_id,
            "threshold": challenge.threshold,
            "online_within": ONLINE_WITHIN,
            "trustees": [
                {
                    "id": tid,
                    "index": int(entry["index"]),
                    "last_seen": seen.get(tid),
                    "online": tid in seen and (now - seen[tid]).total_seconds() <= ONLINE_WITHIN,
                }
                for entry in sorted(challenge.roster, key=lambda e: int(e["index"]))
                for tid in [str(entry["id"])]
            ],
        },
    )


@bp.get("/<challenge_id>/audit-bundle")
@doc(
    summary="The audit bundle: log, tree heads, every logged object, leaderboard (zip)",
    description=(
        'Auditors and admins. Under the Ladder (docs/design.md, "Ladder") the bundle leaves '
        "out the partials of round-2 requests, which combine to exact values; "
        "`restricted=true` (auditors, admins and the challenge's organizer) adds them and "
        "`ladder.json`, the openings of the ladder releases' commitments."
    ),
    tags=["records"],
    responses={200: binary_response("cryptoscore-audit-bundle v1 (zip)", "application/zip")},
    problems=[403, 404, 422],
    parameters=[
        {
            "name": "restricted",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
        }
    ],
)
@require_roles(Role.AUDITOR, Role.ADMIN, Role.ORGANIZER)
def audit_bundle(challenge_id: str) -> Response:
    challenge = get_challenge(challenge_id)
    restricted = request.args.get("restricted", "false")
    if restricted not in ("true", "false") or set(request.args) - {"restricted"}:
        raise Problem(422, "The audit bundle takes restricted=true or restricted=false only.")
    token = current_token()
    if token.role == Role.ORGANIZER and (restricted != "true" or token.id != challenge.created_by):
        raise Problem(403, f"The organizer of {challenge_id!r} reads its restricted bundle.")
    session, store = get_session(), get_blob_store()
    with challenge_lock(session, challenge_id):
        sign_head(session, challenge_id)  # the bundle's last head must cover every entry
        session.commit()
    ladder = challenge.rules is not None and "ladder" in challenge.rules
    openings = (
        [
            LadderOpening(
                round2_request_id(challenge_id, row.digest),
                dict(row.values or {}),
                bytes.fromhex(row.ladder_nonce or ""),
            )
            for row in session.scalars(
                select(UploadedBundle)
                .where(
                    UploadedBundle.challenge_id == challenge_id,
                    UploadedBundle.ladder_nonce.is_not(None),
                )
                .order_by(UploadedBundle.released_index)
            )
        ]
        if restricted == "true" and ladder
        else None
    )
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response once sent
    try:
        transcript(session, store, challenge_id).export(
            out, ReleasePolicy.from_json(challenge.policy), openings, ladder=ladder
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
