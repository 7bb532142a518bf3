"""What a trustee checks of an input's owner before it answers (docs/design.md, "Signed inputs
and enrolment").

Every rule reads the trustee's own copy of the log (``transparency/replica.LogReplica``) and the
challenge's rules as its logged definition fixes them (``protocol/rules.py``):

* the rules the trustee was given are the ones the log's ``challenge`` entry names;
* a pad request is logged, signed by its requester, and the requester is the organizer (labels)
  or an enrolled identity (predictions) within its pad-request quota;
* a bundle is logged, signed by its owner — labels by the organizer key, predictions by an
  enrolled identity — and a submission is within its owner's daily quota;
* in an open challenge with a cap (``ChallengeRules.max_enrolled``), an identity is enrolled
  only if it is among the first ``max_enrolled`` identities the log enrols: one the service
  logged beyond the cap gets no pads and no computation;
* under ``pad_sets: "checked"`` a pad request of Shamir answers names at least
  ``checked_set_size(record, ℓ)`` trustees, ℓ the proven liars outside its set that the log
  names before it, so every bundle's round 1 and score are checked (docs/design.md, "Checked
  pad sets"): a submitter cannot pick t trustees, one of them lying for it.

Quotas count the log's own entries over the 24 hours of log time before the one checked
(``ChallengeRules.submissions_per_day``, ``pad_requests_per_day``), so every trustee, and
later every auditor, counts the same. Each rule raises
:class:`~cryptoscore.errors.RefusedError` before any work.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptoscore.errors import CryptoScoreError, RefusedError
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.rules import DAY_MS, ChallengeRules
from cryptoscore.protocol.signed_inputs import verify_pad_request, verify_upload
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.threshold.active_set import checked_set_size
from cryptoscore.transparency.replica import LogReplica

__all__ = [
    "check_bundle_signed",
    "check_logged_rules",
    "check_owner",
    "check_pad_request_signed",
    "check_pad_set",
]


def check_logged_rules(log: LogReplica, context: ChallengeContext) -> ChallengeRules:
    """The challenge's rules, provided they are the ones its log's definition fixes."""
    if context.rules is None:
        raise RefusedError(
            f"challenge {context.challenge_id} publishes no participation rules (it was created "
            "before signed inputs): this trustee answers nothing for it"
        )
    if log.definition != context.definition_digest:
        raise RefusedError(
            f"the definition of {context.challenge_id} the service describes is not the one its "
            "log names: refusing"
        )
    return context.rules


def check_owner(log: LogReplica, rules: ChallengeRules, kind: str, signer: str) -> None:
    """Labels come from the organizer key; predictions from an identity enrolled in the log
    (and invited, if the challenge is invite-only; within the cap, if it has one)."""
    if kind == "labels":
        if signer != rules.organizer.hex():
            raise RefusedError(
                "the labels input is not signed by the challenge's organizer key: refusing"
            )
        return
    if not signer or not log.enrolled(signer) or not rules.may_enrol(PublicKey.from_hex(signer)):
        raise RefusedError(
            f"identity {signer[:16]}… is not enrolled in this challenge: refusing its input"
        )
    rank = log.enrolment_rank(signer)
    if rules.max_enrolled is not None and rank is not None and rank > rules.max_enrolled:
        raise RefusedError(
            f"identity {signer[:16]}… is enrolled as number {rank} in the log; the challenge "
            f"caps enrolment at {rules.max_enrolled} identities: refusing its input"
        )


def _verified(check: Callable[[], None], what: str) -> None:
    """Run a signature check, its failure becoming a refusal that names ``what``."""
    try:
        check()
    except CryptoScoreError as exc:
        raise RefusedError(f"{what}: {exc}") from None


def check_pad_request_signed(
    log: LogReplica, context: ChallengeContext, request: PadRequest
) -> None:
    """Answer a pad request only if the log holds it, signed by an identity that may ask for
    pads of its kind, within that identity's pad-request quota."""
    rules = check_logged_rules(log, context)
    logged = log.pad_request(request.digest)
    if logged is None:
        raise RefusedError(
            f"pad request {request.digest[:16]}… is not in the challenge's log: no pads"
        )
    _verified(
        lambda: verify_pad_request(
            request, PublicKey.from_hex(logged.requester), bytes.fromhex(logged.signature)
        ),
        "pad request",
    )
    check_owner(log, rules, request.kind, logged.requester)
    asked = log.pad_requests_by(logged.requester, logged.time - DAY_MS, logged.index)
    if asked > rules.pad_requests_per_day:
        raise RefusedError(
            f"identity {logged.requester[:16]}… asked for pads {asked} times in 24 hours; the "
            f"challenge allows {rules.pad_requests_per_day}: over quota, no pads"
        )
    check_pad_set(rules, context, request, log.liars_before(logged.index))


def check_pad_set(
    rules: ChallengeRules, context: ChallengeContext, request: PadRequest, liars: set[str]
) -> None:
    """Under ``pad_sets: "checked"``, refuse a pad set too small for its answers to be checked:
    fewer than ``checked_set_size(record, ℓ)`` trustees, ℓ the proven ``liars`` outside it (a
    named liar inside the set counts as a possible liar, not as one left out)."""
    record = context.record
    asked = {record.entry_by_index(i).trustee_id for i in request.active_set}
    left_out = len(liars - asked)
    needed = checked_set_size(record, left_out)
    if rules.pad_sets == "checked" and len(asked) < needed:
        raise RefusedError(
            f"pad request {request.digest[:16]}… names {len(asked)} trustees; the challenge's "
            f'rules say pad_sets "checked": with {left_out} proven liars left out, answers are '
            f"checked only from {needed} trustees (2t − 1 − liars, t = {record.threshold}): "
            "no pads for an unchecked set"
        )


def check_bundle_signed(log: LogReplica, context: ChallengeContext, digest: str) -> None:
    """Compute on a bundle only if the log holds it signed by its rightful owner, and, for a
    submission, within its owner's daily quota."""
    rules = check_logged_rules(log, context)
    logged = log.bundle(digest)
    if logged is None:
        raise RefusedError(f"bundle {digest[:16]}… is not in the challenge's log: refusing")
    if not logged.signer:
        raise RefusedError(
            f"bundle {digest[:16]}… was logged unsigned (before signed inputs): refusing"
        )
    _verified(
        lambda: verify_upload(
            PublicKey.from_hex(logged.signer),
            bytes.fromhex(logged.signature),
            context.challenge_id,
            logged.kind,
            digest,
        ),
        "bundle",
    )
    check_owner(log, rules, logged.kind, logged.signer)
    if logged.kind != "predictions":
        return
    made = log.submissions_by(logged.signer, logged.time - DAY_MS, logged.index)
    if made > rules.submissions_per_day:
        raise RefusedError(
            f"identity {logged.signer[:16]}… submitted {made} times in 24 hours; the challenge "
            f"allows {rules.submissions_per_day}: over quota, refusing"
        )
