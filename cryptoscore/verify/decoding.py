"""The ``decoding`` check: every decision of a Shamir-answer record rests on answers that lie on
one polynomial (docs/design.md, "Robust threshold decryption (core)", "Verifier").

Shamir answers (a ceremony record with ``answers: "shamir"``) are points of one polynomial of
degree t − 1 in the trustee index, so m > t answers to one request check each other. For each
decided request — a round-1 request of a bundle with a verdict (noise checks and V), a score
(or a split's private score) with a release or a dispute — the auditor re-decodes its logged
partials with ``combine.decrypt_answers`` and requires that no answer is off the decoded
polynomial (a corrected liar is still a lie) and that the decisions equal what the log says:
each release's values, each bundle's verdict. A decision is *verified* when m ≥ 2t − 1
answers back it (``robust.verifiable_max_liars``: then no t − 1 coordinated liars can move
it); with fewer the decoding checked only what the extra answers can see, and m = t answers
check nothing: the detail counts those as "not checked".

Additive records (dealer records of version 1, dealerless records of version 3) have one
partial per trustee of a named set, summed: nothing to decode, and the check says it does not
apply. The partials a public Ladder bundle withholds (its round-2 requests) cannot be
re-decoded; the detail names how many decisions that leaves out.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptoscore.errors import UndecidableAnswersError
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.recompute import residual_within_bound, validity_values_passed
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.policy import SCORE_CIRCUITS
from cryptoscore.threshold.combine import CombinedDecryption, decrypt_answers
from cryptoscore.verify.audit_bundle import AuditBundle
from cryptoscore.verify.outcomes import round1_verdict
from cryptoscore.verify.report import CheckFailed

_OUTCOMES = ("release", "part_release", "ladder_release", "dispute")


def check_decoding(
    bundle: AuditBundle,
    context: ChallengeContext,
    recomputed: Mapping[str, AggregateCiphertext],
) -> str:
    """Re-decode every decided request of a Shamir-answer record (module docstring)."""
    record = context.record
    if not record.robust:
        return (
            "does not apply: the ceremony record's answers are additive (t partials of a named "
            "set, summed), so there is no redundancy to decode and a lying partial cannot be "
            "told from an honest one"
        )
    t = record.threshold
    decided = set(bundle.decided())
    released = bundle.released()
    decoded: dict[str, CombinedDecryption] = {}
    for req, rnd in bundle.requests.values():
        if (rnd == 1 and req.inputs[0] in decided) or (rnd != 1 and req.request_id in released):
            decoded[req.request_id] = _decode(bundle, context, recomputed, req)
    for e in bundle.releases:
        if decoded[e["request_id"]].values != e["values"]:
            raise CheckFailed(
                "decoding",
                f"{e['request_id']}: the answers decode to other values than the released ones",
            )

    def passed(req: DecryptionRequest) -> bool:
        out, agg = decoded[req.request_id], recomputed[req.request_id]
        if req.circuit == "validity/v1":
            return validity_values_passed(out.values, agg)
        return residual_within_bound(out, agg, record, req.active_set)

    for digest, logged in bundle.decided().items():
        verdict, _ = round1_verdict(bundle, digest, passed)
        if verdict != logged:
            raise CheckFailed(
                "decoding",
                f"bundle {digest[:16]}…: logged {logged}, its decoded answers give {verdict}",
            )
    verified = sum(out.verified for out in decoded.values())
    detail = (
        f"{len(decoded)} decisions decode with no answer off the polynomial and equal the "
        f"log; {verified} verified (answered by at least 2t − 1 = {2 * t - 1} trustees); "
        f"not checked: {len(decoded) - verified} decisions answered by fewer than 2t − 1 "
        "trustees"
    )
    withheld = {e["request_id"] for e in bundle.entries if e.get("type") in _OUTCOMES}
    withheld &= bundle.withheld
    if withheld:
        detail += (
            f"; not decoded: {len(withheld)} score decisions whose partials this public "
            "Ladder bundle withholds (the restricted bundle holds them)"
        )
    return detail


def _decode(
    bundle: AuditBundle,
    context: ChallengeContext,
    recomputed: Mapping[str, AggregateCiphertext],
    req: DecryptionRequest,
) -> CombinedDecryption:
    """``req``'s logged partials decoded as the combiner does, with no answer off the
    polynomial; a liar, corrected or not, fails the check naming it and the request."""
    rid = req.request_id
    record = context.record
    parts = bundle.partials.get(rid, [])
    try:
        out = decrypt_answers(
            recomputed[rid],
            parts,
            record,
            rid,
            req.active_set,
            measure_noise=req.circuit == "noise/v1",
            centered=context.dp is not None and req.circuit in SCORE_CIRCUITS,
        )
    except UndecidableAnswersError as error:
        suspects = ", ".join(record.entry_by_index(i).trustee_id for i in error.suspects)
        raise CheckFailed(
            "decoding",
            f"{rid}: the {len(parts)} answers lie on no one polynomial within the radius; "
            f"suspects: {suspects}",
        ) from None
    if out.liars:
        raise CheckFailed(
            "decoding",
            f"{rid}: the answer of {', '.join(out.liars)} is off the polynomial the other "
            f"{len(parts) - len(out.liars)} answers decode to (a lie, corrected)",
        )
    return out
