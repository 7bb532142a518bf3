"""Equivocation at the confirmation round, helped by the relay (docs/design.md, "Key
ceremony v2 (dealerless)", the completion round).

2-of-3: A = trustee-1, B = trustee-2 (honest), M = trustee-3 (malicious, colluding with the
relay). M signs two confirmations, an ack and a complaint, and the relay shows A the ack and
B the complaint. A's transcript passes every check, B's shows an abort. If A could finish on
its transcript while B reveals its seed on its own, the key is exposed while A uses its
share: B's seed gives B's X25519 transport key, which opens f_A(B); M knows f_A(M); two
points of f_A give s_A; B's seed gives s_B; M knows s_M; s = s_A + s_B + s_M. The test
reconstructs s (test-side only) and decrypts a ciphertext encrypted under the ceremony's
public key: it works under the rule before the completion round (finish when rounds 1-4 pass).
With the completion round A cannot finish: it needs B's completion over A's confirmations,
which B — having seen the complaint and revealed — never sends; the key B's seed opens is void.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from cryptoscore.errors import MismatchError
from cryptoscore.hazmat.modmath import U64, addmod, crt_lift, mulmod
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.randomness import seeded_stream
from cryptoscore.threshold.ceremony import KeyShare
from cryptoscore.threshold.dkg import (
    Accusation,
    CeremonyAbort,
    CeremonyPlan,
    Confirmation,
    SeedReplay,
    SeedStatus,
    SignedMessage,
    Transcript,
    step,
)
from cryptoscore.threshold.dkg.transport import open_share, transport_key
from cryptoscore.threshold.partial import times_share
from tests.helpers.dkg import DkgRun

A, B, M = "trustee-1", "trustee-2", "trustee-3"
ACTIVE, COMPLETED = SeedStatus.ACTIVE, SeedStatus.COMPLETED


@pytest.fixture(scope="module")
def setup() -> DkgRun:
    return DkgRun(2, 3)


def _diverging_views(setup: DkgRun) -> tuple[Transcript, Transcript]:
    """A's view (M acks) and B's view (M complains about A): rounds 1-4, the same 1-3."""
    honest, _ = setup.run()
    earlier = [m for kind in ("hello", "contribution", "response") for m in honest.messages(kind)]
    complaint = SignedMessage.sign(
        setup.plan,
        M,
        setup.identities[M],
        honest.expected_previous("confirmation"),
        Confirmation("complaint", accused=(Accusation(A, "its share fails the degree check"),)),
    )
    confirmations = honest.messages("confirmation")
    view_a = Transcript.of(setup.plan, [*earlier, *confirmations])
    view_b = Transcript.of(setup.plan, [*earlier, *confirmations[:2], complaint])
    return view_a, view_b


def _share_sealed_to(
    plan: CeremonyPlan, view: Transcript, dealer: str, to: str, seed: bytes
) -> U64:
    """f_dealer(to), [data prime][coeff], opened with ``to``'s seed (its transport key)."""
    params = plan.params
    plain = open_share(
        transport_key(rng=seeded_stream(seed, "transport")),
        view.hello(dealer).transport_key,
        plan=plan.digest,
        sender=dealer,
        recipient=to,
        sealed=view.contribution(dealer).sealed[to],
    )
    levels, n = len(params.DATA_PRIMES), params.POLY_MODULUS_DEGREE
    values = np.frombuffer(plain, dtype="<u8", count=levels * n).astype(np.uint64)
    return values.reshape(levels, n)  # f(to) comes first; masks and PRSS keys follow


def _recover_key(plan: CeremonyPlan, view: Transcript, seed_b: bytes, seed_m: bytes) -> U64:
    """s = s_A + s_B + s_M in NTT form over the data primes, from B's revealed seed and M's."""
    params = plan.params
    levels = len(params.DATA_PRIMES)
    points = {
        2: _share_sealed_to(plan, view, A, B, seed_b),
        3: _share_sealed_to(plan, view, A, M, seed_m),
    }
    key = np.zeros((levels, params.POLY_MODULUS_DEGREE), dtype=np.uint64)
    for i, q in enumerate(params.DATA_PRIMES):
        for x, share in points.items():
            key[i] = addmod(key[i], mulmod(share[i], lagrange_at_zero(x, [2, 3], q), q), q)
    for tid, seed in ((B, seed_b), (M, seed_m)):
        _, s = SeedReplay(plan, tid, seed)._secret()
        for i, q in enumerate(params.DATA_PRIMES):
            key[i] = addmod(key[i], s[i], q)
    return key


def _decrypt(plan: CeremonyPlan, view: Transcript, key: U64) -> bool:
    """Encrypt a random message under the ceremony's public key; decrypt it with ``key``."""
    params = plan.params
    engine = engine_for(params)
    public, _ = view.assemble_keys()
    t = params.PLAIN_MODULUS
    message = np.random.default_rng(5).integers(0, t, params.POLY_MODULUS_DEGREE).astype(np.uint64)
    seed = hashlib.sha256(b"attack").digest()
    ct = engine.bfv_ciphertext(
        engine.encrypt_zero_seeded(public.seal_public_key(), seed, params.fresh_level())
    )
    engine.evaluator.add_plain_inplace(ct, engine.plaintext_from_coefficients(message))
    data = engine.export(ct).data
    moduli = params.moduli(params.fresh_level())
    c1_s = times_share(engine, data[1], key[: len(moduli)])
    x = [addmod(data[0, i], c1_s[i], q) for i, q in enumerate(moduli)]
    big_q = math.prod(moduli)
    lifted = np.array(crt_lift(x, moduli), dtype=object)
    got = ((lifted * t + big_q // 2) // big_q % t).astype(np.uint64)
    return bool(np.array_equal(got, message))


def _finish_without_completions(setup: DkgRun, view: Transcript) -> KeyShare:
    """The rule before the completion round: finish as soon as rounds 1-4 pass."""
    trustee = setup.trustee(A)
    public, _ = view.check_confirmations()
    final_share, accused = trustee._received(view)
    assert not accused
    levels = len(setup.plan.params.DATA_PRIMES)
    return KeyShare(setup.plan.params, public.key_id, A, 1, 2, final_share[:levels])


def test_without_the_completion_round_equivocation_exposes_a_live_key(setup):
    view_a, view_b = _diverging_views(setup)
    # A: every check of rounds 1-4 passes on its view; under the old rule it finishes
    share_a = _finish_without_completions(setup, view_a)
    assert share_a.key_id == view_a.assemble_keys()[0].key_id
    # B: its view shows a complaint: abort, it reveals its seed
    outcome = step(setup.plan, B, setup.identities[B], setup.seeds[B], ACTIVE, view_b)
    assert outcome.due == "reveal" and outcome.status is SeedStatus.REVEALED
    seed_b = SignedMessage.from_bytes(outcome.message.to_bytes(), setup.plan).payload.seed
    # M and the relay: the whole key, while A's share of it is in use
    key = _recover_key(setup.plan, view_a, seed_b, setup.seeds[M])
    assert _decrypt(setup.plan, view_a, key)
    # (the decryption is a real check: one trustee's secret short, it fails)
    _, s_m = SeedReplay(setup.plan, M, setup.seeds[M])._secret()
    for i, q in enumerate(setup.plan.params.DATA_PRIMES):
        key[i] = addmod(key[i], q - s_m[i], q)
    assert not _decrypt(setup.plan, view_a, key)


def test_with_the_completion_round_nobody_finishes_when_somebody_reveals(setup):
    view_a, view_b = _diverging_views(setup)
    # B sees the complaint: it has not completed, so it reveals
    outcome_b = step(setup.plan, B, setup.identities[B], setup.seeds[B], ACTIVE, view_b)
    assert outcome_b.due == "reveal"
    # A sees only acks: it completes (and from now on never reveals); M completes on A's view
    outcome_a = step(setup.plan, A, setup.identities[A], setup.seeds[A], ACTIVE, view_a)
    assert (outcome_a.due, outcome_a.status) == ("completion", SeedStatus.COMPLETED)
    view_a.add(outcome_a.message)
    view_a.add(setup.trustee(M).complete(view_a))
    # B's completion over A's confirmations does not exist: A waits, and cannot finish
    waiting = step(setup.plan, A, setup.identities[A], setup.seeds[A], COMPLETED, view_a)
    assert (waiting.due, waiting.waiting_kind, waiting.waiting_for) == ("wait", "completion", (B,))
    with pytest.raises(CeremonyAbort, match="no completion from trustee-2"):
        setup.trustee(A).finish(view_a)
    # a completion B would send answers B's confirmations, not A's: A's transcript refuses it
    with pytest.raises(MismatchError, match="previous digest differs"):
        view_a.add(setup.forced_completion(B, view_b))
    # the relay hands A B's reveal: the ceremony is void for A, which does not reveal
    view_a.add(outcome_b.message)
    aborted = step(setup.plan, A, setup.identities[A], setup.seeds[A], COMPLETED, view_a)
    assert aborted.due == "aborted" and aborted.message is None and aborted.share is None
    assert aborted.culprits == {B: "sent no completion"}
    # the attacker still opens the void key with B's seed: harmless, as no trustee holds a
    # share of it and no record of it exists, so nothing is ever encrypted under it
    key = _recover_key(setup.plan, view_a, setup.seeds[B], setup.seeds[M])
    assert _decrypt(setup.plan, view_a, key)
    for view in (view_a, view_b):
        with pytest.raises(CeremonyAbort):
            view.check_transcript()
