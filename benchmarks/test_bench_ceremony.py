"""Dealerless ceremony costs (``make bench``) at bfv-8192, 3 of 5: one trustee's contribution,
response and confirmation, and the key assembly from the transcript (``benchmarks/ceremony.py``
times whole ceremonies). Rounds 1-4 run once; before each measured call the transcript's cache
is emptied, so the call pays for the public derivations a trustee makes on its own."""

from __future__ import annotations

import pytest

from cryptoscore import BFV8192
from cryptoscore.identity import Identity
from cryptoscore.threshold.ceremony import RosterEntry
from cryptoscore.threshold.dkg import CeremonyPlan, DkgTrustee, Transcript, new_seed


@pytest.fixture(scope="module")
def ceremony() -> tuple[Transcript, list[DkgTrustee]]:
    identities = {f"trustee-{i}": Identity.generate() for i in range(1, 6)}
    roster = [
        RosterEntry(tid, i, key.public_key) for i, (tid, key) in enumerate(identities.items(), 1)
    ]
    plan = CeremonyPlan.create(BFV8192, roster, 3)
    trustees = [DkgTrustee(plan, tid, identities[tid], new_seed()) for tid in identities]
    transcript = Transcript(plan)
    for step in (
        lambda t: t.hello(),
        lambda t: t.contribute(transcript),
        lambda t: t.respond(transcript),
        lambda t: t.confirm(transcript),
    ):
        for message in [step(t) for t in trustees]:
            transcript.add(message)
    return transcript, trustees


def _bench(benchmark, transcript: Transcript, fn) -> object:
    def setup() -> tuple[tuple[()], dict[str, object]]:
        transcript._cache.clear()  # as on the trustee's own machine: nothing derived yet
        return (), {}

    return benchmark.pedantic(fn, setup=setup, rounds=3, iterations=1)


def test_trustee_contribution(benchmark, ceremony):
    transcript, trustees = ceremony
    message = _bench(benchmark, transcript, lambda: trustees[0].contribute(transcript))
    assert message.digest == transcript.message("contribution", "trustee-1").digest


def test_trustee_response(benchmark, ceremony):
    transcript, trustees = ceremony
    message = _bench(benchmark, transcript, lambda: trustees[0].respond(transcript))
    assert message.digest == transcript.message("response", "trustee-1").digest


def test_trustee_confirmation(benchmark, ceremony):
    """Its shares opened and checked, the keys assembled, the ceremony test and its partial."""
    transcript, trustees = ceremony
    message = _bench(benchmark, transcript, lambda: trustees[0].confirm(transcript))
    assert message.digest == transcript.message("confirmation", "trustee-1").digest


def test_key_assembly(benchmark, ceremony):
    """The collective public, relinearization and Galois keys from the transcript, in SEAL's
    layout, loaded by SEAL."""
    transcript, _ = ceremony
    public, evaluation = _bench(benchmark, transcript, transcript.assemble_keys)
    ack = transcript.confirmation("trustee-1")
    assert (public.key_id, evaluation.digest) == (ack.key_id, ack.evaluation_keys)
