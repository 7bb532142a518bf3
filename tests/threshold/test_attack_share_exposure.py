"""The threshold-key exposure of one pad share plus one partial of the same c1 under another
Lagrange coefficient, run as an attacker would (``threshold/lineage.py``, SECURITY.md "Share
exposure").

Trustee j's pad share is h = −λ_j(S0)·s_j·a + e (|e| ≤ 21, no smudging); a noise-check
partial of the same ciphertext under S1 is p = λ_j(S1)·s_j·a + E + Δ·M_j. With
λ_j(S1)/λ_j(S0) = A/B, B·p + A·h ≡ Δ·M′ + (B·E + A·e − c) (mod Q): rounding gives M′ (so c),
the bracket modulo B is A·e mod B, and with B > 42 that is e, so λ_j(S0)·s_j·a = e − h.

* Against a deliberately unguarded trustee (``exposure.unguarded_partial``: main's smudged
  answer, or today's pad complement, under a set that is not the pad's) the attack recovers
  λ_j·s_j·a exactly: the test can fail.
* Against the library's trustee, for every committee up to 9-of-10 and every pairing of answer
  types (pad, noise check, V, score and their re-randomized forms), the second answer is
  refused before the share is read or the journal written, and the algebra on what the
  attacker did get recovers nothing.
* Shamir answers (a ``robust`` ceremony: no Lagrange coefficient, PRSS noise) give the attack
  nothing to work with even when a trustee answers the second question.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from fractions import Fraction

import numpy as np
import pytest

from cryptoscore import BFV8192, RefusedError, encrypt_labels, encrypt_predictions
from cryptoscore.hazmat.modmath import addmod, mulmod
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.protocol.answer import answer_pad_request, answer_request
from cryptoscore.protocol.recompute import recompute
from cryptoscore.protocol.release import BundleRelease, SubmissionRelease
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.noise import pad_noise_bound
from cryptoscore.scoring.noise_check import noise_check
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.combine import rerandomize
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.lineage import bundle_claim, bundle_lineage
from cryptoscore.threshold.pad_shares import PadErrorSource, PadKey, open_pads
from cryptoscore.threshold.partial import PadComplement, partial_decrypt, times_share
from cryptoscore.threshold.prss import decryption_context, shared_noise
from tests.helpers.committee import Committee
from tests.helpers.exposure import (
    lagrange,
    noise_of,
    pad_share_of,
    recover,
    truth,
    unguarded_partial,
    widest_pair,
)

CHALLENGE = "exposure"
N_ITEMS = 64
POLICY = ReleasePolicy(2, ("correct",))
COMMITTEES = [(t, n) for t in range(2, 10) for n in range(t + 1, 11)]


# -- the flow the attacker drives -----------------------------------------------------------------
class Challenge:
    """A small challenge of a t-of-n committee, whose trustees keep one journal each (pads and
    partials alike, as a real trustee does)."""

    def __init__(self, committee: Committee, journal_dir) -> None:
        self.committee = committee
        self.context = committee.context(CHALLENGE, POLICY, N_ITEMS)
        self.journal_dir = journal_dir

    def journal(self, tid: str) -> PartialJournal:
        return PartialJournal(self.journal_dir / f"{tid}.journal")

    def journal_bytes(self, tid: str) -> bytes:
        path = self.journal_dir / f"{tid}.journal"
        return path.read_bytes() if path.exists() else b""

    def ids(self, active: tuple[int, ...]) -> list[str]:
        return [self.committee.record.entry_by_index(i).trustee_id for i in active]

    def pads(self, kind: str, active: tuple[int, ...]):
        key = PadKey.generate()
        request = self.context.pad_request(kind, key, ActiveSet(active))
        shares = {}
        for tid in self.ids(active):
            with self.journal(tid) as journal:
                shares[tid] = answer_pad_request(
                    request,
                    self.context,
                    self.committee.shares[tid],
                    self.committee.identity(tid),
                    journal,
                )
        pads = open_pads(request, list(shares.values()), self.committee.record, key)
        return request, shares, key, pads

    def answer(self, tid, request, bundles, evidence=None):
        with self.journal(tid) as journal:
            return answer_request(
                request,
                self.context,
                bundles,
                self.committee.shares[tid],
                self.committee.identity(tid),
                journal,
                evidence=evidence,
            )

    def round1(self, bundle) -> BundleRelease:
        release = BundleRelease(self.context, bundle)
        for tid in self.ids(release.active.indices):
            release.add_contribution(
                self.committee.contribute(tid, self.context, bundle.digest, self.journal_dir)
            )
        requests = release.start(f"r1-{bundle.digest[:8]}")
        while requests:
            evidence = {bundle.digest: release.evidence()}
            for request in requests:
                for tid in self.ids(request.active_set.indices):
                    release.add_partial(
                        self.answer(tid, request, {bundle.digest: bundle}, evidence)
                    )
            requests = release.advance()
        assert release.state == "valid"
        return release


def _values(rng, n):
    return rng.integers(0, 2, n), rng.integers(0, 2, n)


# -- the attack works against an unguarded trustee -----------------------------------------------
class Attacked:
    """A 3-of-5 committee, as in the report: trustee j, the pad's set S0 and the attacker's
    S1 with the widest ratio (B > 42); one predictions bundle with pads from S0, and trustee
    j's pad share h of ciphertext 0 as the submitter opened it."""

    def __init__(self, keys, rng, tmp_path) -> None:
        self.committee = Committee(3, 5, keys)
        self.j, self.s0, self.s1, self.ratio = widest_pair(5, 3)
        assert self.ratio.denominator > 42
        self.flow = Challenge(self.committee, tmp_path)
        self.tid = self.flow.ids((self.j,))[0]
        p, _ = _values(rng, N_ITEMS)
        self.request, shares, key, pads = self.flow.pads("predictions", self.s0)
        self.bundle = encrypt_predictions(p, keys.public, classes=2, challenge=CHALLENGE, pads=pads)
        self.h = pad_share_of(self.committee, self.tid, self.request, shares[self.tid], key)
        self.a = self.bundle.ciphertext(0)[1]
        self.expected = truth(self.committee, self.tid, self.a, self.s0)

    def refused(self, rerandomize_seed: bytes = b"") -> None:
        """The library's trustee refuses the noise check under S1, before anything else."""
        aggregate = noise_check(self.bundle, 0)
        if rerandomize_seed:
            aggregate = rerandomize(aggregate, self.committee.keys.public, rerandomize_seed)
        request = DecryptionRequest(
            "evil-noise",
            CHALLENGE,
            "noise/v1",
            (self.bundle.digest,),
            b"",
            rerandomize_seed,
            ActiveSet(self.s1),
            aggregate.ciphertext_digest,
        )
        with pytest.raises(RefusedError, match="pads' own active set"):
            self.flow.answer(self.tid, request, {self.bundle.digest: self.bundle})


@pytest.mark.parametrize("answer", ["smudged (main 1a8c2c5)", "pad complement"])
def test_unguarded_trustee_gives_away_its_share(keys, rng, tmp_path, answer):
    """A pad share and a noise-check answer on the same c1 under two active sets give
    λ_j·s_j·a exactly — whether the answer is smudged (the size of E does not matter) or
    today's exact complement given under a set that is not the pad's."""
    x = Attacked(keys, rng, tmp_path)
    complement = x.request if answer == "pad complement" else None
    partial = unguarded_partial(x.committee, x.tid, x.a, x.s1, complement_of=complement)
    assert recover(x.h, partial, x.ratio, masked=True) == x.expected  # the share is out
    x.refused()


def test_rerandomized_variant_recovers_nothing_and_is_refused(keys, rng, tmp_path):
    """The re-randomized variant: c1 + pk1·u + e2 with u public. Against an unguarded
    trustee this algebra leaves the unknown λ_j·s_j·pk1·u in the sum and recovers nothing;
    the trustee does not rely on that and refuses it like the original."""
    x = Attacked(keys, rng, tmp_path)
    seed = os.urandom(32)
    fresh = rerandomize(noise_check(x.bundle, 0), keys.public, seed)
    partial = unguarded_partial(x.committee, x.tid, fresh.data()[1], x.s1)
    assert recover(x.h, partial, x.ratio, masked=True) != x.expected
    x.refused(seed)


def test_noise_check_reveals_only_the_submitters_own_noise(keys, rng, tmp_path):
    """Round 1 through the library: the combined noise-check residual of every coefficient is
    the noise of c0 − pad (the submitter's own error and rounding) less the wraps of the
    masked message, and each trustee's answer plus its pad share is Δ·M — a mask, nothing of
    the share."""
    committee = Committee(3, 5, keys)
    flow = Challenge(committee, tmp_path)
    p, _ = _values(rng, N_ITEMS)
    request, shares, key, pads = flow.pads("predictions", (1, 3, 5))
    pad_values = pads._values.copy()  # the submitter's own pads (test only)
    bundle = encrypt_predictions(p, keys.public, classes=2, challenge=CHALLENGE, pads=pads)
    release = flow.round1(bundle)
    moduli = BFV8192.moduli(BFV8192.fresh_level())
    for index in range(bundle.layout.ciphertexts):
        rid = next(
            r for r, q in release.requests.items() if q.circuit == "noise/v1" and q.index == index
        )
        parts = release.partials[rid]
        c0 = bundle.ciphertext(index)[0]
        combined = [c0[i].copy() for i in range(len(moduli))]
        for part in parts.values():
            for i, q in enumerate(moduli):
                combined[i] = addmod(combined[i], part.data()[i], q)
        own = [c0[i] + np.uint64(moduli[i]) - pad_values[index, i] for i in range(len(moduli))]
        own = [o % np.uint64(q) for o, q in zip(own, moduli, strict=True)]

        # the residual is the noise of c0 − pad, less k ≤ T wraps of m + Σ M_j past t
        wraps = [o - c for o, c in zip(noise_of(own), noise_of(combined), strict=True)]
        assert set(wraps) <= {0, 1, 2, 3} and max(abs(v) for v in noise_of(own)) <= 22
        for tid, part in parts.items():
            h = pad_share_of(committee, tid, request, shares[tid], key, index)
            masked = noise_of([addmod(part.data()[i], h[i], q) for i, q in enumerate(moduli)])
            assert set(masked) == {0}  # answer + pad share = Δ·M exactly


# -- and is refused by the library's trustee, for every committee and pairing -------------------
@pytest.mark.parametrize(("t", "n"), COMMITTEES, ids=[f"{t}-of-{n}" for t, n in COMMITTEES])
def test_every_second_lineage_answer_is_refused(t, n, keys, rng, tmp_path, share_reads):
    committee = Committee(t, n, keys)
    j, s0, s1, ratio = widest_pair(n, t)
    flow = Challenge(committee, tmp_path)
    tid = flow.ids((j,))[0]
    p, y = _values(rng, N_ITEMS)

    # what the attacker obtains honestly: pads under S0, round 1 under S0, a score under S2
    request, shares, key, pads = flow.pads("predictions", s0)
    preds = encrypt_predictions(p, keys.public, classes=2, challenge=CHALLENGE, pads=pads)
    _, _, _, label_pads = flow.pads("labels", s0)
    labels = encrypt_labels(y, keys.public, classes=2, challenge=CHALLENGE, pads=label_pads)
    r1_preds, r1_labels = flow.round1(preds), flow.round1(labels)
    bundles = {preds.digest: preds, labels.digest: labels}
    evidence = {preds.digest: r1_preds.evidence(), labels.digest: r1_labels.evidence()}
    submission = SubmissionRelease(flow.context, r1_preds, r1_labels)
    s2 = s1  # the score may use any set, once: the attacker picks the one it wants next
    score_request = submission.start("r2", ActiveSet(s2))
    for other in flow.ids(s2):
        submission.add_partial(flow.answer(other, score_request, bundles, evidence))
    assert submission.finish() == {"correct": int(np.sum(p == y))}

    noise_request = next(r for r in r1_preds.requests.values() if r.circuit == "noise/v1")
    v_request = next(r for r in r1_preds.requests.values() if r.circuit == "validity/v1")
    others = [s for s in itertools.combinations(range(1, n + 1), t) if j in s and s != s0]
    other_set = s1 if s1 != s0 else others[0]
    other_score_set = next(
        s for s in itertools.combinations(range(1, n + 1), t) if j in s and s != s2
    )

    def moved(req: DecryptionRequest, active, rerandomized: bool) -> DecryptionRequest:
        seed = os.urandom(32) if rerandomized else b""
        changed = dataclasses.replace(
            req,
            request_id=f"{req.request_id}-again-{os.urandom(4).hex()}",
            active_set=ActiveSet(active),
            rerandomize_seed=seed,
        )
        agg = recompute(changed, flow.context, bundles)
        return dataclasses.replace(changed, ciphertext_digest=agg.ciphertext_digest)

    attempts = {
        "pad→noise (S1)": moved(noise_request, other_set, False),
        "pad→noise re-randomized (S1)": moved(noise_request, other_set, True),
        "noise→noise re-randomized (S0)": moved(noise_request, s0, True),
        "pad→V (S1)": moved(v_request, other_set, False),
        "V→V re-randomized (S1)": moved(v_request, other_set, True),
        "V→V re-randomized (S0)": moved(v_request, s0, True),
        "score→score (another set)": moved(score_request, other_score_set, False),
        "score→score re-randomized (another set)": moved(score_request, other_score_set, True),
        "score→score re-randomized (same set)": moved(score_request, s2, True),
    }
    before = flow.journal_bytes(tid)
    share_reads.clear()
    for name, attempt in attempts.items():
        with pytest.raises(RefusedError):
            flow.answer(tid, attempt, bundles, evidence)
        assert share_reads == [], f"{name}: the share was read before the refusal"
        assert flow.journal_bytes(tid) == before, f"{name}: the journal was written"
    with flow.journal(tid) as journal, pytest.raises(RefusedError, match="already answered"):
        answer_pad_request(
            request, flow.context, committee.shares[tid], committee.identity(tid), journal
        )
    assert share_reads == [] and flow.journal_bytes(tid) == before

    # the algebra on what the attacker did get: the pad share and the noise check (one set),
    # and the score (another set, another c1): nothing
    h = pad_share_of(committee, tid, request, shares[tid], key)
    expected = truth(committee, tid, preds.ciphertext(0)[1], s0)
    noise_partial = r1_preds.partials[noise_request.request_id][tid]
    same_set = lagrange(j, s0) / lagrange(j, s0)
    assert recover(h, noise_partial.data(), same_set, masked=True) != expected
    assert recover(h, noise_partial.data(), ratio, masked=True) != expected
    score_partial = submission.partials[tid]
    assert score_partial.level < BFV8192.fresh_level()  # another modulus, another polynomial


# -- Shamir answers: no coefficient to play with ------------------------------------------------
def test_the_attack_recovers_nothing_from_shamir_answers(keys, rng, tmp_path):
    """With Shamir answers trustee j's pad share is −s_j·a + E_pad(j) and its noise check of a
    is s_j·a − E_pad(j) + Δ·M(j) whichever set asks (no λ): the two sum to Δ·M(j) exactly, and
    the algebra, with the widest ratio of the additive attack or with 1, recovers nothing. A
    smudged Shamir answer on a carries E(j) = Σ_A x_A·f_A(j), a Shamir share of the noise —
    a full-size residue — so even B = 1 leaves no small error to read off. Here the trustee is
    made to answer under another set, in a fresh journal: the journal's rules are not what
    protects it."""
    committee = Committee(3, 5, keys, robust=True)
    j, s0, s1, ratio = widest_pair(5, 3)
    flow = Challenge(committee, tmp_path)
    tid = flow.ids((j,))[0]
    share = committee.shares[tid]
    p, _ = _values(rng, N_ITEMS)
    request, shares, key, pads = flow.pads("predictions", s0)
    bundle = encrypt_predictions(p, keys.public, classes=2, challenge=CHALLENGE, pads=pads)
    h = pad_share_of(committee, tid, request, shares[tid], key)
    a = bundle.ciphertext(0)[1]
    expected = truth(committee, tid, a, None)
    assert expected != truth(committee, tid, a, s0)
    complement = PadComplement(
        request.active_set,
        bundle_lineage(request.c1_seed),
        request.key_id,
        0,
        lambda moduli: PadErrorSource(share, committee.record, request).residues(0, moduli),
    )
    with PartialJournal(tmp_path / "unguarded.journal") as journal:
        answer = partial_decrypt(
            share,
            noise_check(bundle, 0),
            ActiveSet(s1),
            "second-question",
            committee.identity(tid),
            journal,
            committee.record,
            lineage=bundle_claim(request.c1_seed, request.count, "noise:0", s1),
            mask=True,
            pad=complement,
        ).data()
    moduli = BFV8192.moduli(BFV8192.fresh_level())
    keys_j = share.prss_keys()
    masks = shared_noise(
        keys_j,
        decryption_context(keys_j.key_id, _c1_bytes(noise_check(bundle, 0))),
        "mask",
        moduli,
        a.shape[1],
        plain_modulus=BFV8192.PLAIN_MODULUS,
    )
    delta = (math.prod(moduli) - 1) // BFV8192.PLAIN_MODULUS
    for i, q in enumerate(moduli):  # answer + pad share = Δ·M(j): the mask share, nothing else
        assert np.array_equal(addmod(answer[i], h[i], q), mulmod(masks[i], delta % q, q))
    for r in (ratio, Fraction(1)):
        assert recover(h, answer, r, masked=True) != expected
    # a smudged Shamir answer on the same a (PRSS smudging, as partial_decrypt computes it)
    ctx = decryption_context(keys_j.key_id, b"the same a, any context")
    noise = shared_noise(
        keys_j, ctx, "smudging", moduli, a.shape[1], bound=pad_noise_bound(3) << 40
    )
    product = times_share(engine_for(BFV8192), a, share.residues(len(moduli)))
    smudged = np.stack([addmod(product[i], noise[i], q) for i, q in enumerate(moduli)])
    for r in (ratio, Fraction(1)):
        assert recover(h, smudged, r, masked=False) != expected
    assert max(abs(v) for v in noise_of(list(noise))) > 1 << 60  # E(j) is not small


def _c1_bytes(aggregate) -> bytes:
    """The encoded c1, as the trustee binds its PRSS context to it (``partial_decrypt``)."""
    return aggregate.ciphertext[len(aggregate.ciphertext) // 2 :]
