"""What a trustee checks in the challenge's log before it answers (docs/design.md, "Following
the log").

The trustee's own copy of the log (``transparency/replica.LogReplica``) is the record it
decides by, not the service's word:

* a contribution only to a bundle the log holds;
* a decryption request only if the log holds that very request (its record's digest, round,
  circuit and inputs) and each input as a bundle of the right kind;
* a score only against the challenge's one labels bundle — a log with a second labels bundle
  gets no score at all — and only if the log holds no other score request of the same circuit
  for the same predictions (so each submission is scored once, whichever trustees the service
  asks);
* in a challenge with a public/private split (docs/design.md, "Public/private split"), a score
  of one part only (never the circuit over every item), and of the private part only after the
  close — by this trustee's own clock, and logged after the log's ``close`` entry — only for one
  of its owner's final submissions (:func:`final_submissions`), once, and for at most
  ``finals`` submissions per identity;
* in a challenge with differential-privacy noise (docs/design.md, "Differential-privacy
  release"), a score only while its owner's privacy budget pays for it
  (:func:`check_dp_budget`): the owner's score requests of that circuit logged up to this one,
  at ρ each, add up to at most the budget.

Each rule raises :class:`~cryptoscore.errors.RefusedError` before any work.
"""

from __future__ import annotations

from cryptoscore.errors import CryptoScoreError, RefusedError
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.protocol.rules import DpRule, SplitRule
from cryptoscore.protocol.signed_inputs import verify_selection
from cryptoscore.scoring.policy import SCORE_CIRCUITS, part_of_circuit
from cryptoscore.transparency.replica import LogReplica

__all__ = [
    "check_contribution_logged",
    "check_dp_budget",
    "check_part_released",
    "check_request_logged",
    "final_submissions",
]

ROUND_OF = {
    "noise/v1": 1,
    "validity/v1": 1,
    "score/v1": 2,
    "score-public/v1": 2,
    "score-private/v1": 3,
}
"""The round a request of each circuit is logged in: a split's private part is round 3, after
the close."""


def check_contribution_logged(log: LogReplica, bundle_digest: str) -> None:
    """A round-1 contribution is made only for a bundle the log holds."""
    if log.bundle_kind(bundle_digest) is None:
        raise RefusedError(
            f"bundle {bundle_digest[:16]}… is not in the challenge's log: no contribution"
        )


def check_request_logged(log: LogReplica, request: DecryptionRequest) -> None:
    """The log holds ``request`` itself and its inputs; a score is the only one of its
    predictions, against the challenge's only labels bundle."""
    digest = request.digest
    if not log.request_logged(digest, ROUND_OF[request.circuit], request.circuit, request.inputs):
        raise RefusedError(
            f"request {request.request_id} is not in the challenge's log: refusing to decrypt"
        )
    expected = ("predictions", "labels") if request.circuit in SCORE_CIRCUITS else (None,)
    for input_digest, kind in zip(request.inputs, expected, strict=False):
        logged = log.bundle_kind(input_digest)
        if logged is None or (kind is not None and logged != kind):
            raise RefusedError(
                f"input {input_digest[:16]}… is not in the challenge's log"
                + (f" as a {kind} bundle" if kind else "")
                + ": refusing to decrypt"
            )
    if request.circuit not in SCORE_CIRCUITS:
        return
    labels = log.bundles_of_kind("labels")
    if labels != [request.inputs[1]]:
        raise RefusedError(
            f"the challenge's log holds {len(labels)} labels bundles: a score is computed only "
            "against the challenge's one labels bundle"
        )
    if part_of_circuit(request.circuit) == "private":
        return  # once per submission among those logged after the close: check_part_released
    scores = log.requests_of(request.inputs[0], request.circuit)
    if scores != {digest}:
        raise RefusedError(
            f"the log holds {len(scores)} {request.circuit} requests for predictions "
            f"{request.inputs[0][:16]}…: each submission is scored once"
        )


def final_submissions(
    log: LogReplica, identity: str, split: SplitRule, challenge_id: str
) -> tuple[str, ...]:
    """``identity``'s final submissions: those its selection with the highest sequence number
    names, among its selections logged before the close that it signed and that name at most
    ``finals`` of its own submissions logged before the close; without one, its last
    submission logged before the close with a valid round 1."""
    own = dict(log.submissions_of(identity))
    best = None
    for selection in log.selections_by(identity):
        if selection.time >= split.closes_ms or len(selection.submissions) > split.finals:
            continue
        if any(own.get(d, split.closes_ms) >= split.closes_ms for d in selection.submissions):
            continue
        try:
            verify_selection(
                PublicKey.from_hex(identity),
                bytes.fromhex(selection.signature),
                challenge_id,
                selection.sequence,
                list(selection.submissions),
            )
        except (CryptoScoreError, ValueError):
            continue  # not the identity's word: as if never logged
        if best is None or selection.sequence > best.sequence:
            best = selection
    if best is not None:
        return best.submissions
    valid = [d for d, t in own.items() if t < split.closes_ms and log.verdict(d) == "valid"]
    return tuple(valid[-1:])


def check_part_released(
    log: LogReplica,
    request: DecryptionRequest,
    split: SplitRule | None,
    challenge_id: str,
    now_ms: int,
) -> None:
    """A score request is of a circuit this challenge releases: every item without a split;
    one part with one — the private part only after the close (``now_ms``, this trustee's
    clock, past it, and the request logged after the log's ``close`` entry, itself at or after
    the close in log time), of a final submission, once per submission and for at most
    ``finals`` submissions of its owner (counting requests logged after the close: one asked
    before is never answered)."""
    if request.circuit not in SCORE_CIRCUITS:
        return
    part = part_of_circuit(request.circuit)
    if split is None or part is None:
        if (split is None) != (part is None):
            raise RefusedError(
                f"{request.circuit} is not released by this challenge "
                + ("(it has a public/private split)" if split else "(it has no split)")
            )
        return
    if part == "public":
        return
    if now_ms < split.closes_ms:
        raise RefusedError(
            f"the private part is released only after the close ({split.closes_ms} ms); this "
            f"trustee's clock reads {now_ms} ms: refusing"
        )
    closed = log.closed_at(split.closes_ms)
    if closed is None:
        raise RefusedError(
            "the challenge's log holds no close entry at or after the close: the private part "
            "is not released before it"
        )
    index = log.request_index(request.digest)
    if index is None or index < closed[0]:
        raise RefusedError(
            f"request {request.request_id} was logged before the close: never answered"
        )

    def after_close(digests: set[str]) -> set[str]:
        return {d for d in digests if (log.request_index(d) or -1) > closed[0]}

    predictions = request.inputs[0]
    logged = log.bundle(predictions)
    owner = logged.signer if logged is not None else ""
    if predictions not in final_submissions(log, owner, split, challenge_id):
        raise RefusedError(
            f"predictions {predictions[:16]}… are not among their owner's final submissions: "
            "their private part is never released"
        )
    asked = after_close(log.requests_of(predictions, request.circuit))
    if asked != {request.digest}:
        raise RefusedError(
            f"the log holds {len(asked)} private-part requests for predictions "
            f"{predictions[:16]}… after the close: each submission is scored once"
        )
    released = {
        digest
        for digest, _ in log.submissions_of(owner)
        if after_close(log.requests_of(digest, request.circuit))
    }
    if len(released | {predictions}) > split.finals:
        raise RefusedError(
            f"identity {owner[:16]}… has the private part of {len(released)} submissions "
            f"released already; the challenge allows {split.finals}: refusing"
        )


def check_dp_budget(log: LogReplica, request: DecryptionRequest, dp: DpRule | None) -> None:
    """A score of a dp challenge only while its owner's budget pays for it: counting in log
    order every score request of this circuit logged for the owner's submissions up to and
    including this one, at ``dp.rho`` each (zCDP composes by adding ρ: Bun & Steinke 2016,
    Lemma 2.3), the sum stays within ``dp.budget``. A logged request counts whether or not it
    was answered (it may be, by some t trustees). A split's two circuits cover disjoint items,
    so each is counted on its own (parallel composition)."""
    if dp is None or request.circuit not in SCORE_CIRCUITS:
        return
    predictions = request.inputs[0]
    logged = log.bundle(predictions)
    owner = logged.signer if logged is not None else ""
    mine = log.request_index(request.digest)
    if mine is None:
        raise RefusedError(f"request {request.request_id} is not in the challenge's log")
    earlier = {
        digest
        for submission, _ in log.submissions_of(owner)
        for digest in log.requests_of(submission, request.circuit)
        if (log.request_index(digest) or mine + 1) <= mine
    }
    spent = len(earlier) * dp.rho
    if len(earlier) > dp.releases:
        raise RefusedError(
            f"identity {owner[:16]}… has {len(earlier) - 1} {request.circuit} releases logged "
            f"before this one, at rho {dp.rho:g} each: this one would spend {spent:g}, beyond "
            f"its privacy budget {dp.budget:g}; refusing"
        )
