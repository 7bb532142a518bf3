"""The ``decoding`` check: every decision of a Shamir-answer record rests on answers that lie on
one polynomial (docs/design.md, "Robust threshold decryption (core)", "Verifier").

Shamir answers (a ceremony record with ``answers: "shamir"``) are points of one polynomial of
degree t − 1 in the trustee index, so m > t answers to one request check each other. For each
decided request — a round-1 request of a bundle with a verdict (noise checks and V), a score
(or a split's private score) with a release or a dispute — the auditor re-decodes its logged
partials with ``combine.decrypt_answers`` and requires that the decisions equal what the log
says — each release's values, each bundle's verdict — and that the log owns up to every lie the
answers show: a decision whose answers decode to no polynomial must be logged ``disputed``
(a round-1 verdict, or a score dispute under ``answers-decoding``), never released or decided,
and every answer decoding corrected must be named by an ``off-polynomial`` ``liar`` entry for
that request. A lie the log is silent about fails the check, naming the trustee (or the
suspects) and the request. A decision is *verified* when m ≥ 2t − 1
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
from cryptoscore.protocol.invariants import ANSWERS_DECODING
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
    disputed_round1 = {d for d, verdict in bundle.decided().items() if verdict == "disputed"}
    decoding_disputes = {
        e["request_id"] for e in bundle.of_type("dispute") if e.get("invariant") == ANSWERS_DECODING
    }
    reported = {
        (e["request_id"], e["trustee"])
        for e in bundle.of_type("liar")
        if e.get("finding") == "off-polynomial"
    }
    decoded: dict[str, CombinedDecryption] = {}
    undecodable: dict[str, UndecidableAnswersError] = {}
    for req, rnd in bundle.requests.values():
        rid = req.request_id
        if not ((rnd == 1 and req.inputs[0] in decided) or (rnd != 1 and rid in released)):
            continue
        try:
            out = _decode(bundle, context, recomputed, req)
        except UndecidableAnswersError as error:
            logged_disputed = (
                req.inputs[0] in disputed_round1 if rnd == 1 else rid in decoding_disputes
            )
            if not logged_disputed:
                raise CheckFailed(
                    "decoding",
                    f"{rid}: the {len(bundle.partials.get(rid, []))} answers lie on no one "
                    f"polynomial within the radius, yet the log decided it; suspects: "
                    f"{_names(context, error.suspects)}",
                ) from None
            undecodable[rid] = error
            continue
        unreported = [tid for tid in out.liars if (rid, tid) not in reported]
        if unreported:
            raise CheckFailed(
                "decoding",
                f"{rid}: the answer of {', '.join(unreported)} is off the polynomial the other "
                f"answers decode to (a lie, corrected) and the log names no liar for it",
            )
        decoded[rid] = out
    for rid in decoding_disputes & decoded.keys():
        raise CheckFailed(
            "decoding", f"{rid}: disputed as undecodable, but its answers decode with no error"
        )
    for e in bundle.releases:
        out_of = decoded.get(e["request_id"])
        if out_of is None or out_of.values != e["values"]:
            raise CheckFailed(
                "decoding",
                f"{e['request_id']}: the answers decode to other values than the released ones",
            )

    def passed(req: DecryptionRequest) -> bool:
        error = undecodable.get(req.request_id)
        if error is not None:
            raise error  # round1_verdict: a disputed verdict
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
    corrected = sum(len(out.liars) for out in decoded.values())
    detail = (
        f"{len(decoded)} decisions decode with no answer off the polynomial"
        + (" but those liar entries name" if corrected else "")
        + f" and equal the log; {verified} verified (answered by at least 2t − 1 = {2 * t - 1} "
        f"trustees); not checked: {len(decoded) - verified} decisions answered by fewer than "
        "2t − 1 trustees"
    )
    if corrected:
        detail += f"; {corrected} answers corrected, each named by a liar entry"
    if undecodable:
        suspects = sorted(
            {tid for e in undecodable.values() for tid in _names(context, e.suspects).split(", ")}
        )
        detail += (
            f"; {len(undecodable)} decisions undecodable and logged disputed, nothing released "
            f"(suspects, not named liars: {', '.join(suspects)})"
        )
    withheld = {e["request_id"] for e in bundle.entries if e.get("type") in _OUTCOMES}
    withheld &= bundle.withheld
    if withheld:
        detail += (
            f"; not decoded: {len(withheld)} score decisions whose partials this public "
            "Ladder bundle withholds (the restricted bundle holds them)"
        )
    return detail


def _names(context: ChallengeContext, indices: tuple[int, ...]) -> str:
    return ", ".join(context.record.entry_by_index(i).trustee_id for i in indices)


def _decode(
    bundle: AuditBundle,
    context: ChallengeContext,
    recomputed: Mapping[str, AggregateCiphertext],
    req: DecryptionRequest,
) -> CombinedDecryption:
    """``req``'s logged partials decoded as the combiner does (raises
    :class:`UndecidableAnswersError` when they lie on no one polynomial within the radius)."""
    rid = req.request_id
    return decrypt_answers(
        recomputed[rid],
        bundle.partials.get(rid, []),
        context.record,
        rid,
        req.active_set,
        measure_noise=req.circuit == "noise/v1",
        centered=context.dp is not None and req.circuit in SCORE_CIRCUITS,
    )
