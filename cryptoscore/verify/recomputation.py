"""The recompute checks: ``round1-recomputed`` and ``release-recomputed`` — every ciphertext a
request names is the published circuit's on the logged bundles, with the seed the trustees'
contributions give. Their ciphertexts are what the decryption checks combine the partials of."""

from __future__ import annotations

from cryptoscore.errors import CryptoScoreError
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import derive_seed, round1_seed
from cryptoscore.protocol.recompute import pad_set, recompute
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.verify.audit_bundle import AuditBundle
from cryptoscore.verify.report import CheckFailed


def check_round1_recomputed(
    bundle: AuditBundle, context: ChallengeContext, in_progress: list[str]
) -> tuple[str, dict[str, AggregateCiphertext]]:
    """Per bundle: the seed from the logged contributions, one noise check per ciphertext and
    at most one validity request, each recomputing. Gives the round-1 ciphertexts by request."""
    bundles = bundle.bundles
    recomputed = {}
    for digest, encrypted in bundles.items():
        contribs = bundle.contributions(context.challenge_id, digest)
        if len(contribs) < len(pad_set(encrypted).indices):
            continue  # in progress (contributions-signed said so, or failed)
        seed = round1_seed(digest, contribs)
        r1 = [
            (req, rnd)
            for req, rnd in bundle.requests.values()
            if rnd == 1 and req.inputs[0] == digest
        ]
        checked = sorted(req.index for req, _ in r1 if req.circuit == "noise/v1")
        validity_requests = [req for req, _ in r1 if req.circuit == "validity/v1"]
        every = list(range(encrypted.layout.ciphertexts))
        if (
            digest not in bundle.decided()
            and len(validity_requests) <= 1
            and len(set(checked)) == len(checked)
            and set(checked) < set(every)
            and not validity_requests
        ):
            in_progress.append(
                f"bundle {digest[:16]}…: round 1 has asked {len(checked)} of "
                f"{len(every)} noise checks"
            )
        elif len(validity_requests) > 1 or checked != every:
            raise CheckFailed(
                "round1-recomputed",
                f"bundle {digest[:16]}… lacks a noise check of every ciphertext or has "
                "more than one validity request",
            )
        for req, _ in r1:
            want = derive_seed(seed, b"validity") if req.circuit == "validity/v1" else b""
            if req.seed != want:
                raise CheckFailed(
                    "round1-recomputed",
                    f"{req.request_id}: seed not derived from the contributions",
                )
            agg = recompute(req, context, bundles)
            if agg.ciphertext_digest != req.ciphertext_digest:
                raise CheckFailed(
                    "round1-recomputed", f"{req.request_id}: ciphertext does not recompute"
                )
            recomputed[req.request_id] = agg
    detail = f"{len(recomputed)} round-1 ciphertexts recomputed from the logged bundles"
    return detail, recomputed


def check_release_recomputed(
    bundle: AuditBundle, context: ChallengeContext
) -> tuple[str, dict[str, AggregateCiphertext]]:
    """Each round-2 request is the score circuit with the challenge's policy (a split's public
    part; round 3, a split's private part), and recomputes.
    Gives the released ciphertexts by request."""
    recomputed = {}
    split = context.split is not None
    for req, rnd in bundle.requests.values():
        if rnd == 1:
            continue
        # round 2: the score (a split's public part); round 3: a split's private part
        want = {2: "score-public/v1" if split else "score/v1", 3: "score-private/v1"}
        if (rnd == 3 and not split) or req.circuit != want.get(rnd):
            raise CheckFailed(
                "release-recomputed",
                f"{req.request_id}: round {rnd} must be "
                + (want[rnd] if rnd in want and (split or rnd == 2) else "nothing"),
            )
        try:
            agg = recompute(req, context, bundle.bundles)
        except CryptoScoreError as exc:
            raise CheckFailed("release-recomputed", f"{req.request_id}: {exc}") from None
        if agg.ciphertext_digest != req.ciphertext_digest:
            raise CheckFailed(
                "release-recomputed",
                f"{req.request_id}: the decrypted ciphertext is not the published circuit's",
            )
        recomputed[req.request_id] = agg
    return (
        f"{len(recomputed)} released ciphertexts recomputed with the published policy",
        recomputed,
    )
