"""The trustee's answers: a decryption request or a pad request, checked, then answered once.

:func:`answer_request` refuses anything but a published circuit recomputed from the named
inputs, claims the request's lineage slot (:func:`lineage_claim`) and returns a partial
decryption; :func:`answer_pad_request` checks the pad request against the challenge first
(docs/design.md, "Recompute-before-decrypt" and "Lineages").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, MutableSet

from cryptoscore.errors import FormatError, MismatchError, RefusedError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import check_own_contribution, derive_seed
from cryptoscore.protocol.recompute import (
    check_round1,
    contributed_seed,
    input_bundle,
    pad_set,
    recompute,
)
from cryptoscore.protocol.requests import (
    ROUND1_NEEDED,
    DecryptionRequest,
    Round1Evidence,
    evidence_needed,
)
from cryptoscore.randomness import Rng
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.scoring.policy import SCORE_CIRCUITS, part_of_circuit
from cryptoscore.threshold.ceremony import CeremonyRecord, KeyShare
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.lineage import LineageClaim, bundle_claim, bundle_lineage, score_claim
from cryptoscore.threshold.pad_shares import PadErrorSource, PadShare
from cryptoscore.threshold.pad_shares import answer_pad_request as _answer_pad_request
from cryptoscore.threshold.partial import (
    LogView,
    PadComplement,
    PartialDecryption,
    partial_decrypt,
)


def lineage_claim(
    request: DecryptionRequest, bundles: Mapping[str, EncryptedBundle]
) -> LineageClaim:
    """Trustee, auditor: the lineage slot ``request`` touches (``threshold/lineage.py``).

    Round 1 (noise checks, V) of a bundle touches the bundle's pad lineage, and must name the
    pad's own active set — checked here, statelessly, so a request routed to any other set
    is refused before anything else; the journal then pins the set and spends the slot."""
    if request.circuit in SCORE_CIRCUITS:
        if len(request.inputs) != 2:
            raise FormatError("a score request names predictions and labels")
        seeds = [input_bundle(bundles, d).header.c1_seed for d in request.inputs]
        if seeds[0] is None or seeds[1] is None:
            raise RefusedError("threshold decryption answers pad-seeded bundles only")
        part = part_of_circuit(request.circuit)
        return score_claim(seeds[0], seeds[1], request.active_set.indices, part)
    if len(request.inputs) != 1:
        raise FormatError(f"a {request.circuit} request names one bundle")
    bundle = input_bundle(bundles, request.inputs[0])
    pads = pad_set(bundle)
    if request.active_set != pads:
        raise RefusedError(
            f"round 1 of a pad-seeded bundle is answered by its pads' own active set "
            f"{list(pads.indices)}, not {list(request.active_set.indices)}: when one of those "
            "trustees is gone, re-submit the bundle with fresh pads (never re-routed)"
        )
    slot = f"noise:{request.index}" if request.circuit == "noise/v1" else "validity"
    c1_seed = bundle.header.c1_seed
    assert c1_seed is not None  # pad_set refused unseeded bundles
    return bundle_claim(c1_seed, bundle.layout.ciphertexts, slot, pads.indices)


def answer_request(
    request: DecryptionRequest,
    context: ChallengeContext,
    bundles: Mapping[str, EncryptedBundle],
    share: KeyShare,
    identity: TrusteeIdentity,
    journal: PartialJournal,
    *,
    evidence: Mapping[str, Round1Evidence] | None = None,
    verified: MutableSet[tuple[str, bool]] | None = None,
    progress: Callable[[int], None] | None = None,
    log_view: LogView | None = None,
    rng: Rng = os.urandom,
) -> PartialDecryption:
    """Trustee: check round 1 where needed, recompute, compare, then (once per ciphertext)
    partially decrypt.

    A validity request needs ``evidence`` (by bundle digest) that the bundle's noise checks
    passed; a score request, that both bundles passed round 1 (:func:`check_round1`).
    ``verified`` remembers (bundle digest, validity too) pairs already checked, so a trustee
    checks the labels' round 1 once, not for every submission.
    ``progress`` is called with the number of chunks recomputed so far (for a progress bar).
    ``log_view`` is the log head the trustee followed, signed into the partial.
    ``rng`` draws the smudging noise and noise-check masks (``os.urandom`` by default).

    The lineage rules (``threshold/lineage.py``) are checked first, against the journal, read-only:
    a request on a lineage this trustee answered under another active set, or for a slot it already
    answered, is refused before any work; ``partial_decrypt`` checks again atomically and spends the
    slot before the share is read."""
    claim = lineage_claim(request, bundles)
    journal.check(claim)
    for digest in evidence_needed(request):
        key = (digest, ROUND1_NEEDED[request.circuit])
        if verified is not None and key in verified:
            continue
        found = (evidence or {}).get(digest)
        if found is None:
            raise RefusedError(
                f"{request.circuit} multiplies the ciphertexts of {digest[:16]}…: answered "
                "only with that bundle's round-1 evidence"
            )
        if digest not in bundles:
            raise MismatchError(f"input {digest[:16]}… is not available")
        check_round1(context, bundles[digest], found, validity_too=key[1])
        if verified is not None:
            verified.add(key)
    if request.circuit == "validity/v1":
        digest = request.inputs[0]
        found = (evidence or {}).get(digest)
        if found is None:
            raise RefusedError("V is answered only with the bundle's round-1 contributions")
        seed = contributed_seed(context, input_bundle(bundles, digest), found)
        if request.seed != derive_seed(seed, b"validity"):
            raise RefusedError("the validity seed is not the one the round-1 contributions give")
        check_own_contribution(share.trustee_id, journal.contributed(digest), found.contributions)
    aggregate = recompute(request, context, bundles, progress=progress)
    if aggregate.ciphertext_digest != request.ciphertext_digest:
        raise RefusedError(
            "the ciphertext to decrypt is not what the published circuit computes from the "
            "named inputs: refusing to decrypt"
        )
    return partial_decrypt(
        share,
        aggregate,
        request.active_set,
        request.request_id,
        identity,
        journal,
        context.record,
        lineage=claim,
        mask=request.circuit == "noise/v1",
        pad=_noise_pad(request, bundles, share, context.record),
        log_view=log_view,
        rng=rng,
        dp_rho=context.dp.rho if context.dp and request.circuit in SCORE_CIRCUITS else None,
    )


def _noise_pad(
    request: DecryptionRequest,
    bundles: Mapping[str, EncryptedBundle],
    share: KeyShare,
    record: CeremonyRecord,
) -> PadComplement | None:
    """What a noise check is answered against (``threshold/partial.partial_decrypt``)."""
    if request.circuit != "noise/v1":
        return None
    pad = input_bundle(bundles, request.inputs[0]).header.pad_request
    if pad is None:
        raise RefusedError("threshold decryption answers pad-seeded bundles only")
    index = request.index
    return PadComplement(
        pad.active_set,
        bundle_lineage(pad.c1_seed),
        pad.key_id,
        index,
        lambda moduli: PadErrorSource(share, record, pad).residues(index, moduli),
    )


def answer_pad_request(
    request: PadRequest,
    context: ChallengeContext,
    share: KeyShare,
    identity: TrusteeIdentity,
    journal: PartialJournal,
    *,
    progress: Callable[[int], None] | None = None,
    rng: Rng = os.urandom,
) -> PadShare:
    """Trustee: answer a pad request for this challenge (``threshold/pad_shares.py``), once
    per seed; ``rng`` seals the answer."""
    context.check_pad_request(request)
    return _answer_pad_request(
        request, context.record, share, identity, journal, progress=progress, rng=rng
    )
