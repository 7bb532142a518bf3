"""Recompute-before-decrypt: a trustee rebuilds every ciphertext it is asked to decrypt.

:func:`recompute` evaluates the named published circuit on the named inputs;
:func:`check_round1` checks that a round-2 request's inputs passed round 1, from the logged
partials (docs/design.md, "Recompute-before-decrypt").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from cryptoscore.errors import FormatError, MismatchError, RefusedError
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import check_contributions, derive_seed, round1_seed
from cryptoscore.protocol.invariants import check_noise_residual, check_validity_values
from cryptoscore.protocol.requests import DecryptionRequest, Round1Evidence
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.circuits import score
from cryptoscore.scoring.noise import pad_error_terms
from cryptoscore.scoring.noise_check import noise_check, noise_check_threshold
from cryptoscore.scoring.policy import SCORE_CIRCUITS, part_of_circuit
from cryptoscore.scoring.validity import is_valid, validity, validity_names
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.threshold.combine import CombinedDecryption, decrypt_answers, rerandomize
from cryptoscore.threshold.partial import PartialDecryption


def pad_set(bundle: EncryptedBundle) -> ActiveSet:
    """The active set of the pads that encrypted ``bundle``: the only set that answers its
    round 1 (``threshold/lineage.py``). Threshold challenges accept pad-seeded bundles only."""
    pad = bundle.header.pad_request
    if pad is None:
        raise RefusedError("threshold decryption answers pad-seeded bundles only")
    return ActiveSet(pad.active_set)


def recompute(
    request: DecryptionRequest,
    context: ChallengeContext,
    bundles: Mapping[str, EncryptedBundle],
    *,
    progress: Callable[[int], None] | None = None,
) -> AggregateCiphertext:
    """Trustee, auditor: the ciphertext ``request`` names, computed from its inputs alone."""
    if request.challenge_id != context.challenge_id:
        raise MismatchError("the request is for another challenge")

    def bundle(digest: str) -> EncryptedBundle:
        return input_bundle(bundles, digest)

    if request.circuit in SCORE_CIRCUITS:
        if len(request.inputs) != 2 or request.seed:
            raise FormatError("a score request names predictions and labels, and no seed")
        part = part_of_circuit(request.circuit)
        split = context.split
        if (part is None) != (split is None):
            raise RefusedError(
                f"{request.circuit} is not a circuit of this challenge: "
                + (
                    "it has a public/private split, so a score covers one part"
                    if split is not None
                    else "it has no public/private split"
                )
            )
        preds, labels = bundle(request.inputs[0]), bundle(request.inputs[1])
        context.check_bundle(preds, "predictions")
        context.check_bundle(labels, "labels")
        out = score(
            preds,
            labels,
            context.policy,
            context.evaluation,
            part=part,
            part_size=0 if split is None or part is None else split.part_size(part, context.n),
            progress=progress,
        )
    elif request.circuit == "validity/v1":
        if len(request.inputs) != 1:
            raise FormatError("a validity request names one bundle")
        b = bundle(request.inputs[0])
        context.check_bundle(b, b.header.kind)
        out = validity(b, request.seed, context.evaluation, progress=progress)
    else:
        if len(request.inputs) != 1 or request.seed:
            raise FormatError("a noise-check request names one bundle, and no seed")
        b = bundle(request.inputs[0])
        context.check_bundle(b, b.header.kind)
        out = noise_check(b, request.index)
    if request.rerandomize_seed:
        out = rerandomize(out, context.public, request.rerandomize_seed)
    return out


def noise_check_decision(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> tuple[bool, CombinedDecryption]:
    """Combiner, trustee, auditor: whether the partials of a noise check combine to a residual
    within :func:`~cryptoscore.scoring.noise_check.noise_check_threshold` (partials verified
    and decoded first: :func:`~cryptoscore.threshold.combine.decrypt_answers`, which raises
    :class:`~cryptoscore.errors.UndecidableAnswersError` for Shamir answers too far off one
    polynomial), and the decoding (its liars corrected, whether it was verified)."""
    out = decrypt_answers(
        aggregate, list(partials), record, request_id, active_set, measure_noise=True
    )
    return residual_within_bound(out, aggregate, record, active_set), out


def residual_within_bound(
    out: CombinedDecryption,
    aggregate: AggregateCiphertext,
    record: CeremonyRecord,
    active_set: ActiveSet,
) -> bool:
    """A noise check's decision from its decryption (``measure_noise``): the residual is in
    its domain (else :class:`InconsistentReleaseError`) and within the threshold."""
    check_noise_residual(out.max_noise, math.prod(aggregate.params.moduli(aggregate.level)))
    # pad-error terms: C(n, t − 1) PRSS sets, or one per trustee of the set
    terms = len(active_set.indices)
    if record.robust:
        terms = pad_error_terms(record.n, record.threshold)
    _, threshold = noise_check_threshold(aggregate.params, terms)
    return out.max_noise is not None and out.max_noise <= threshold


def noise_check_passed(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> bool:
    """:func:`noise_check_decision`'s verdict alone."""
    return noise_check_decision(aggregate, partials, record, request_id, active_set)[0]


def validity_decision(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> tuple[bool, CombinedDecryption]:
    """Combiner, trustee, auditor: whether the partials of V combine to all zeros (values
    checked in their domain first: ``protocol/invariants.py``), and the decoding (as
    :func:`noise_check_decision`)."""
    out = decrypt_answers(aggregate, list(partials), record, request_id, active_set)
    return validity_values_passed(out.values, aggregate), out


def validity_values_passed(values: dict[str, int], aggregate: AggregateCiphertext) -> bool:
    """V's decision from its decrypted values: in their domain (else
    :class:`InconsistentReleaseError`), and all zero."""
    check_validity_values(values, validity_names(aggregate.params), aggregate.params.PLAIN_MODULUS)
    return is_valid(values)


def validity_passed(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> bool:
    """:func:`validity_decision`'s verdict alone."""
    return validity_decision(aggregate, partials, record, request_id, active_set)[0]


def check_round1(
    context: ChallengeContext,
    bundle: EncryptedBundle,
    evidence: Round1Evidence,
    *,
    validity_too: bool,
) -> None:
    """Trustee: verify from signed partials that ``bundle`` passed its noise checks (and, with
    ``validity_too``, its validity aggregate); raise :class:`RefusedError` otherwise.

    Everything is recomputed from the bundle: each noise-check ciphertext, the validity seed
    from the contributions, V itself; every partial is verified against the roster and
    combined as the combiner would. A service cannot make a trustee decrypt V before the
    noise checks passed, nor a score of a bundle that did not pass round 1.
    """
    if evidence.bundle_digest != bundle.digest:
        raise MismatchError("the round-1 evidence is for another bundle")
    record = context.record
    active = pad_set(bundle)
    seed = contributed_seed(context, bundle, evidence)
    noise: dict[int, DecryptionRequest] = {}
    validity_requests = []
    for req in evidence.requests:
        if req.inputs != (bundle.digest,) or req.active_set != active:
            raise RefusedError(f"round-1 evidence: {req.request_id} is not this bundle's round 1")
        if req.circuit == "noise/v1":
            noise[req.index] = req
        elif req.circuit == "validity/v1":
            validity_requests.append(req)
    if sorted(noise) != list(range(bundle.layout.ciphertexts)):
        raise RefusedError("round-1 evidence lacks a noise check of every ciphertext")
    for index, req in sorted(noise.items()):
        agg = noise_check(bundle, index)
        if agg.ciphertext_digest != req.ciphertext_digest:
            raise RefusedError(f"round-1 evidence: {req.request_id} names another ciphertext")
        parts = evidence.partials.get(req.request_id, ())
        if not noise_check_passed(agg, parts, record, req.request_id, active):
            raise RefusedError(
                f"the bundle's noise check {index} did not pass: nothing that multiplies its "
                "ciphertexts is decrypted"
            )
    if not validity_too:
        return
    if len(validity_requests) != 1:
        raise RefusedError("round-1 evidence lacks the validity aggregate")
    (req,) = validity_requests
    if req.seed != derive_seed(seed, b"validity"):
        raise RefusedError("round-1 evidence: the validity seed is not the contributions' one")
    agg = validity(bundle, req.seed, context.evaluation)
    if agg.ciphertext_digest != req.ciphertext_digest:
        raise RefusedError(f"round-1 evidence: {req.request_id} names another ciphertext")
    parts = evidence.partials.get(req.request_id, ())
    if not validity_passed(agg, parts, record, req.request_id, active):
        raise RefusedError("the bundle failed its validity check: it is never scored")


def contributed_seed(
    context: ChallengeContext, bundle: EncryptedBundle, evidence: Round1Evidence
) -> bytes:
    """Trustee, auditor: the round-1 seed of ``bundle``, from evidence whose contributions
    are one signed contribution of each pad-set trustee for this bundle
    (:func:`~cryptoscore.protocol.contributions.check_contributions`)."""
    check_contributions(
        context.record,
        context.challenge_id,
        bundle.digest,
        evidence.contributions,
        pad_set(bundle),
    )
    return round1_seed(bundle.digest, list(evidence.contributions))


def input_bundle(bundles: Mapping[str, EncryptedBundle], digest: str) -> EncryptedBundle:
    try:
        found = bundles[digest]
    except KeyError:
        raise MismatchError(f"input {digest[:16]}… is not available") from None
    if found.digest != digest:
        raise MismatchError("an input bundle does not match its digest")
    return found
