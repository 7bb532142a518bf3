"""The whole dealerless ceremony in one process: the demo, the tests, ``LocalChallenge``.

:func:`run_dealerless_ceremony` plays the organizer (the plan) and every trustee
(``trustee.DkgTrustee``, each with its own seed) through rounds 1-5 over one shared
``transcript.Transcript``, exactly as separate machines would over a relay, and returns what
``threshold/ceremony.run_ceremony`` returns. Each trustee's final share S_k = Σ_i f_i(k) is
computed by that trustee alone from the shares sealed to it; the secret key s = Σ_i s_i is
never formed (``tests/threshold/dkg`` checks it statically).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from cryptoscore.errors import ParameterError
from cryptoscore.identity import Identity
from cryptoscore.params import ParameterSet
from cryptoscore.randomness import Rng
from cryptoscore.threshold.ceremony import (
    CeremonyResult,
    KeyShare,
    RosterEntry,
    write_share_file,
)
from cryptoscore.threshold.dkg.plan import PLAN_VERSION, CeremonyPlan
from cryptoscore.threshold.dkg.transcript import Transcript
from cryptoscore.threshold.dkg.trustee import DkgTrustee, new_seed

__all__ = ["DealerlessResult", "run_dealerless_ceremony"]

DealerlessResult = CeremonyResult


def run_dealerless_ceremony(
    params: type[ParameterSet],
    roster: Sequence[RosterEntry],
    threshold: int,
    passphrases: Mapping[str, bytes] | None,
    *,
    identities: Mapping[str, Identity],
    created_at: str | None = None,
    rng: Rng = os.urandom,
    progress: Callable[[int], None] | None = None,
    plan_version: int = PLAN_VERSION,
) -> CeremonyResult:
    """Run every trustee's rounds in memory; return the record, keys and share files.

    With ``passphrases`` each trustee's share is sealed into a share file exactly as
    ``run_ceremony`` seals them (``open_share_file`` opens it); with None the result's
    ``shares`` hold the :class:`KeyShare` objects instead and ``share_files`` is empty.
    Draws from ``rng``: the plan's nonce, then each trustee's seed in index order, then each
    share file's salt and nonce. ``progress(done)`` counts the steps: every trustee's
    contribution steps (``SeedReplay.contribution_steps``), then one per trustee finished.
    ``plan_version`` :data:`~cryptoscore.threshold.dkg.plan.LEGACY_PLAN_VERSION` runs the
    ceremony without PRSS keys (shares without them, a version 3 record).
    """
    if passphrases is not None:
        for entry in roster:
            pw = passphrases.get(entry.trustee_id)
            if pw is None or len(pw) < 8:
                raise ParameterError(
                    f"trustee {entry.trustee_id!r} needs a share-file passphrase of 8+ bytes"
                )
    plan = CeremonyPlan.create(
        params, roster, threshold, created_at=created_at, rng=rng, version=plan_version
    )
    for entry in plan.roster:
        if entry.trustee_id not in identities:
            raise ParameterError(f"no identity for trustee {entry.trustee_id!r}")
    trustees = [
        DkgTrustee(plan, e.trustee_id, identities[e.trustee_id], new_seed(rng=rng))
        for e in plan.roster
    ]
    transcript = Transcript(plan)
    for trustee in trustees:
        transcript.add(trustee.hello())
    per_trustee = DkgTrustee.contribution_steps(plan)
    for k, trustee in enumerate(trustees):
        offset = k * per_trustee
        tick = None if progress is None else (lambda done, o=offset: progress(o + done))
        transcript.add(trustee.contribute(transcript, progress=tick))
    for trustee in trustees:
        transcript.add(trustee.respond(transcript))
    for trustee in trustees:
        transcript.add(trustee.confirm(transcript))
    for trustee in trustees:
        transcript.add(trustee.complete(transcript))
    record = transcript.check_transcript(created_at=plan.created_at)
    public, evaluation = transcript.assemble_keys()
    shares: dict[str, KeyShare] = {}
    files: dict[str, bytes] = {}
    for k, trustee in enumerate(trustees):
        share = trustee.finish(transcript)
        if passphrases is None:
            shares[trustee.trustee_id] = share
        else:
            files[trustee.trustee_id] = write_share_file(
                share, plan.n, passphrases[trustee.trustee_id], rng=rng
            )
            share.residues(len(params.DATA_PRIMES)).fill(0)
        if progress is not None:
            progress(len(trustees) * per_trustee + k + 1)
    return CeremonyResult(record, public, evaluation, files, shares)
