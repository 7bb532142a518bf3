"""A trustee's side of the dealerless ceremony, stateless between rounds.

A trustee keeps one secret for the whole ceremony: a 32-byte seed (from the OS CSPRNG,
:func:`new_seed`; the caller stores it, e.g. encrypted in the CLI's state file). Every draw
it makes comes from ``randomness.seeded_stream(seed, label)`` with one label per purpose —
``"transport"``, ``"secret"``, ``"pk-error"``, ``"rkg-u"``, ``"rkg-round1"``,
``"rkg-round2"``, ``"galois-error:<g>"``, ``"shamir"``, ``"mask-0"``, ``"mask-1"``,
``"test-smudging"``, and in a ceremony that deals PRSS keys ``"prss:<A>"`` for each set A it
leads (``prss_dealing.py``) — so each of its messages is a deterministic function of (seed, plan,
earlier public messages). A round method re-derives what it needs from the seed and the
:class:`~cryptoscore.threshold.dkg.transcript.Transcript`, and returns the signed message;
nothing is kept between rounds. That determinism is what makes blame by replay possible
(``blame.py``): after an abort a trustee reveals its seed and anyone recomputes its messages.

Round 5, the completion, is what makes revealing safe: a trustee completes only when every
public check of rounds 1-4 passes (``Transcript.check_confirmations``) and its own shares all
checked; once it has completed it never reveals, and it finishes only with all n completions
over the same confirmations. So when any honest trustee has revealed, no honest trustee can
have finished: its own completion is missing. Without it, a trustee that equivocates at the
confirmation round with the relay's help (an ack to one honest trustee, a complaint to
another) gets one to finish and the other to reveal, and the revealed seed opens shares of
the live key (``tests/threshold/dkg/test_dkg_equivocation.py``). ``session.step`` drives these
rules for a trustee whose state is a seed file (``seed_file.py``).

Per trustee i (Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux, PETS 2021, §4, with t-of-n
Shamir re-sharing of each additive secret): s_i ternary; the public-key share
(``hazmat/keygen.public_key_share``), the RKG two-round shares (``relin_round1_share``,
``relin_round2_share``) and one Galois-key share per element (``kswitch_key_share``); a
Shamir polynomial f_i with f_i(0) = s_i (NTT form over the data primes), its shares sealed
to the other trustees (``transport.py``) with the degree check's masks
(``degree_check.py``). The final share of trustee k is S_k = Σ_i f_i(k): Shamir shares of
s = Σ_i s_i, which nobody ever computes.

PRSS keys (a version 2 plan; docs/design.md, "Key ceremony v2 (dealerless)"): the leader of a
set A (its smallest index) seals r_A to A's other members after their share and publishes its
commitment in its contribution; each member checks it in round 4 (a mismatch is a complaint
naming the leader) and at finish holds the keys of every set it is in
(``prss.PrssKeys``, carried by its :class:`KeyShare`).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from cryptoscore.errors import FormatError, MismatchError, ParameterError, RefusedError
from cryptoscore.hazmat.keygen import (
    galois_target,
    key_primes,
    kswitch_key_share,
    public_key_share,
    relin_round1_share,
    relin_round2_share,
    sample_secret,
    secret_ntt,
)
from cryptoscore.hazmat.modmath import (
    U64,
    addmod,
    mulmod,
    reduce_signed,
    uniform_centered,
    uniform_centered_residues,
)
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.identity import Identity
from cryptoscore.randomness import SEED_BYTES, Rng, seeded_stream
from cryptoscore.scoring.keys import galois_elements
from cryptoscore.scoring.noise import ceremony_test_smudging_bound
from cryptoscore.threshold.ceremony import KeyShare
from cryptoscore.threshold.dkg import degree_check
from cryptoscore.threshold.dkg.messages import (
    Accusation,
    Completion,
    Confirmation,
    Contribution,
    Hello,
    Payload,
    Response,
    Reveal,
    SignedMessage,
)
from cryptoscore.threshold.dkg.plan import CeremonyPlan
from cryptoscore.threshold.dkg.prss_dealing import carried_sets, key_label, led_sets
from cryptoscore.threshold.dkg.transcript import CeremonyAbort, Transcript
from cryptoscore.threshold.dkg.transport import (
    open_share,
    seal_share,
    transport_key,
    transport_public,
)
from cryptoscore.threshold.partial import times_share
from cryptoscore.threshold.prss import PrssKeys, PrssSet, ceremony_commitment, trustee_sets

__all__ = ["DkgTrustee", "SeedReplay", "new_seed"]


def new_seed(*, rng: Rng = os.urandom) -> bytes:
    """A trustee's ceremony seed: 32 bytes from ``rng`` (the OS CSPRNG)."""
    return rng(SEED_BYTES)


class SeedReplay:
    """What trustee ``trustee_id`` with ``seed`` sends in each round, given the transcript:
    the honest computation, shared by :class:`DkgTrustee` (which signs it) and blame (which
    compares it with what was signed). The ``_``-prefixed steps are where a deviating trustee
    would differ (the adversarial tests override them)."""

    def __init__(self, plan: CeremonyPlan, trustee_id: str, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise ParameterError(f"a ceremony seed has {SEED_BYTES} bytes")
        self.plan = plan
        self.params = plan.params
        self.entry = plan.entry(trustee_id)
        self.trustee_id = trustee_id
        self._seed = seed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(trustee={self.trustee_id}, plan={self.plan.digest[:12]}…)"

    def _stream(self, label: str) -> Rng:
        return seeded_stream(self._seed, label)

    # -- derived secrets ------------------------------------------------------------------
    def _secret(self) -> tuple[np.ndarray, U64]:
        """s_i in coefficient form and in NTT form over the key primes (caller zeroes both)."""
        s_coeff = sample_secret(self.params, rng=self._stream("secret"))
        return s_coeff, secret_ntt(self.params, s_coeff)

    def _ephemeral(self) -> U64:
        """u_i of RKG, NTT form over the key primes."""
        u_coeff = sample_secret(self.params, rng=self._stream("rkg-u"))
        u = secret_ntt(self.params, u_coeff)
        u_coeff.fill(0)
        return u

    def _polynomials(self, s: U64) -> tuple[U64, U64, U64]:
        """f_i (f_i(0) = s_i over the data primes) and the masks m_0, m_1, ``[t][prime][coeff]``."""
        t = self.plan.threshold
        levels = len(self.params.DATA_PRIMES)
        f = degree_check.shamir_polynomial(self.params, s[:levels], t, rng=self._stream("shamir"))
        m0 = degree_check.mask_polynomial(self.params, t, rng=self._stream("mask-0"))
        m1 = degree_check.mask_polynomial(self.params, t, rng=self._stream("mask-1"))
        return f, m0, m1

    def _prss_key(self, members: PrssSet) -> bytes:
        """r_A of a set A this trustee leads, from its ``"prss:<A>"`` stream."""
        return self._stream(key_label(members))(SEED_BYTES)

    def _prss_commitments(self) -> tuple[bytes, ...]:
        """The commitment of each set this trustee leads (none without PRSS keys)."""
        if not self.plan.prss:
            return ()
        sets = led_sets(self.plan.n, self.plan.threshold, self.entry.index)
        return tuple(ceremony_commitment(self._prss_key(a), a, self.plan.digest) for a in sets)

    def transport_key_public(self) -> bytes:
        return transport_public(transport_key(rng=self._stream("transport")))

    # -- round 1 ------------------------------------------------------------------------
    def hello_payload(self) -> Hello:
        return Hello(self.transport_key_public())

    # -- round 2 ------------------------------------------------------------------------
    def _public_key_share(self, s: U64, s_coeff: np.ndarray, a: U64) -> U64:
        return public_key_share(self.params, s, a, rng=self._stream("pk-error"))

    def _galois_share(self, s: U64, s_coeff: np.ndarray, g: int, a: U64) -> U64:
        target = galois_target(self.params, s_coeff, g)
        try:
            return kswitch_key_share(
                self.params, s, target, a, rng=self._stream(f"galois-error:{g}")
            )
        finally:
            target.fill(0)

    def _dealt_share(self, recipient_index: int, f: U64, m0: U64, m1: U64) -> bytearray:
        """(f(k), m0(k), m1(k)) as the sealed plaintext: little-endian 64-bit words; then, with
        PRSS keys, r_A of each set this trustee leads that holds k (canonical order)."""
        out = bytearray()
        for poly in (f, m0, m1):
            value = degree_check.evaluate(self.params, poly, recipient_index)
            out += value.astype("<u8").tobytes()
            value.fill(0)
        if self.plan.prss:
            plan = self.plan
            for a in carried_sets(plan.n, plan.threshold, self.entry.index, recipient_index):
                out += self._prss_key(a)
        return out

    def contribution_payload(
        self, transcript: Transcript, progress: Callable[[int], None] | None = None
    ) -> Contribution:
        params = self.params
        transcript.require("hello")
        elements = galois_elements(params)
        s_coeff, s = self._secret()
        u = self._ephemeral()
        f, m0, m1 = self._polynomials(s)
        done = 0

        def step() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done)

        try:
            pk = self._public_key_share(s, s_coeff, transcript.common("public-key", 0)[0])
            h0, h1 = relin_round1_share(
                params, s, u, transcript.common("relin-key", 0), rng=self._stream("rkg-round1")
            )
            step()
            levels = len(params.DATA_PRIMES)
            n = params.POLY_MODULUS_DEGREE
            galois = np.empty((len(elements), levels, len(key_primes(params)), n), np.uint64)
            for idx, g in enumerate(elements):
                galois[idx] = self._galois_share(s, s_coeff, g, transcript.common("galois-key", g))
                step()
            own = transport_key(rng=self._stream("transport"))
            sealed = {}
            for entry in self.plan.roster:
                if entry.trustee_id == self.trustee_id:
                    continue
                plain = self._dealt_share(entry.index, f, m0, m1)
                sealed[entry.trustee_id] = seal_share(
                    own,
                    transcript.hello(entry.trustee_id).transport_key,
                    plan=self.plan.digest,
                    sender=self.trustee_id,
                    recipient=entry.trustee_id,
                    plaintext=bytes(plain),
                )
                plain[:] = bytes(len(plain))
                step()
            return Contribution(pk, h0, h1, galois, sealed, self._prss_commitments())
        finally:
            for secret in (s_coeff, s, u, f, m0, m1):
                secret.fill(0)

    @staticmethod
    def contribution_steps(plan: CeremonyPlan) -> int:
        """How many steps ``progress`` counts in a contribution."""
        return 1 + len(galois_elements(plan.params)) + plan.n - 1

    # -- round 3 ------------------------------------------------------------------------
    def _relin_round2(self, s: U64, u: U64, h0: U64, h1: U64) -> tuple[U64, U64]:
        return relin_round2_share(self.params, s, u, h0, h1, rng=self._stream("rkg-round2"))

    def _degree_polynomials(self, f: U64, m0: U64, m1: U64, r: list[list[int]]) -> U64:
        return np.stack(
            [
                degree_check.degree_polynomial(self.params, m0, f, r[0]),
                degree_check.degree_polynomial(self.params, m1, f, r[1]),
            ]
        )

    def response_payload(self, transcript: Transcript) -> Response:
        transcript.require("contribution")
        h0, h1 = transcript.relin_round1_sums()
        s_coeff, s = self._secret()
        u = self._ephemeral()
        f, m0, m1 = self._polynomials(s)
        try:
            degree = self._degree_polynomials(f, m0, m1, transcript.challenges())
            h0p, h1p = self._relin_round2(s, u, h0, h1)
            return Response(degree, h0p, h1p)
        finally:
            for secret in (s_coeff, s, u, f, m0, m1):
                secret.fill(0)

    # -- round 4 ------------------------------------------------------------------------
    def _received(self, transcript: Transcript) -> tuple[U64, list[Accusation]]:
        """S_k = Σ_i f_i(k) from the shares sealed to this trustee, checking each dealer's
        (opens, in range, passes both degree checks; each PRSS key matches its leader's
        commitment); the caller zeroes S_k."""
        total, accused, _ = self._opened(transcript)
        return total, accused

    def _opened(self, transcript: Transcript) -> tuple[U64, list[Accusation], dict[PrssSet, bytes]]:
        """:meth:`_received`, and the PRSS keys sealed to this trustee, by set."""
        params = self.params
        levels = len(params.DATA_PRIMES)
        n = params.POLY_MODULUS_DEGREE
        own = transport_key(rng=self._stream("transport"))
        r = transcript.challenges()
        s_coeff, s = self._secret()
        f, m0, m1 = self._polynomials(s)
        total = degree_check.evaluate(params, f, self.entry.index)
        for secret in (s_coeff, s, f, m0, m1):
            secret.fill(0)
        accused: list[Accusation] = []
        keys: dict[PrssSet, bytes] = {}
        share_bytes = 3 * levels * n * 8  # f(k), m0(k), m1(k); then the PRSS keys
        for dealer in self.plan.roster:
            if dealer.trustee_id == self.trustee_id:
                continue
            contribution = transcript.contribution(dealer.trustee_id)
            try:
                plain = open_share(
                    own,
                    transcript.hello(dealer.trustee_id).transport_key,
                    plan=self.plan.digest,
                    sender=dealer.trustee_id,
                    recipient=self.trustee_id,
                    sealed=contribution.sealed[self.trustee_id],
                )
            except FormatError:
                accused.append(Accusation(dealer.trustee_id, "its sealed share does not open"))
                continue
            values = np.frombuffer(plain[:share_bytes], dtype="<u8").astype(np.uint64)
            values = values.reshape(3, levels, n)
            in_range = all(int(values[:, i].max()) < q for i, q in enumerate(params.DATA_PRIMES))
            degree = transcript.response(dealer.trustee_id).degree
            if not in_range:
                accused.append(Accusation(dealer.trustee_id, "its share is not reduced"))
            elif not all(
                degree_check.share_is_consistent(
                    params, degree[b], self.entry.index, values[0], values[1 + b], r[b]
                )
                for b in range(degree_check.MASKS)
            ):
                accused.append(Accusation(dealer.trustee_id, "its share fails the degree check"))
            else:
                wrong = self._open_keys(dealer.index, contribution.prss, plain[share_bytes:], keys)
                if wrong is not None:
                    accused.append(
                        Accusation(
                            dealer.trustee_id,
                            f"its PRSS key for set {list(wrong)} does not match its commitment",
                        )
                    )
                for i, q in enumerate(params.DATA_PRIMES):
                    total[i] = addmod(total[i], values[0, i], q)
            values.fill(0)
        return total, accused, keys

    def _open_keys(
        self, leader: int, commitments: tuple[bytes, ...], raw: bytes, keys: dict[PrssSet, bytes]
    ) -> PrssSet | None:
        """Check the PRSS keys ``leader`` sealed to this trustee against its commitments and
        add them to ``keys``; the first set whose key does not match, or None."""
        plan = self.plan
        if not plan.prss:
            return None
        led = led_sets(plan.n, plan.threshold, leader)
        for k, a in enumerate(carried_sets(plan.n, plan.threshold, leader, self.entry.index)):
            key = bytes(raw[k * SEED_BYTES : (k + 1) * SEED_BYTES])
            if ceremony_commitment(key, a, plan.digest) != commitments[led.index(a)]:
                return a
            keys[a] = key
        return None

    def _prss_keys(self, key_id: str, received: dict[PrssSet, bytes]) -> PrssKeys | None:
        """This trustee's PRSS keys for ``key_id``: its own for the sets it leads, the ones
        its leaders sealed to it for the others (None without PRSS keys)."""
        plan = self.plan
        if not plan.prss:
            return None
        index = self.entry.index
        sets = trustee_sets(plan.n, plan.threshold, index)
        held = tuple((a, self._prss_key(a) if a[0] == index else received[a]) for a in sets)
        return PrssKeys(key_id, plan.n, plan.threshold, index, held)

    def _test_partial(self, transcript: Transcript, final_share: U64) -> U64:
        """λ_k·c1·S_k + e_k at the release level (as ``threshold/partial.partial_decrypt``),
        e_k uniform in [−E, E] from the ``"test-smudging"`` stream."""
        params = self.params
        level = params.RELEASE_LEVEL
        moduli = params.moduli(level)
        n = params.POLY_MODULUS_DEGREE
        test = transcript.ceremony_test()
        test_set = list(self.plan.test_set)
        scaled = np.empty((level, n), dtype=np.uint64)
        for i, q in enumerate(moduli):
            scaled[i] = mulmod(final_share[i], lagrange_at_zero(self.entry.index, test_set, q), q)
        product = times_share(engine_for(params), test.ciphertext[1], scaled)
        scaled.fill(0)
        bound = ceremony_test_smudging_bound(
            params, committee=self.plan.n, threshold=self.plan.threshold
        )
        stream = self._stream("test-smudging")
        if 2 * bound + 1 <= 1 << 63:
            noise = uniform_centered(bound, n, rng=stream)
            residues = [reduce_signed(noise, q) for q in moduli]
            noise.fill(0)
        else:
            residues = uniform_centered_residues(bound, moduli, n, rng=stream)
        out = np.empty((level, n), dtype=np.uint64)
        for i, q in enumerate(moduli):
            out[i] = addmod(product[i], residues[i], q)
            residues[i].fill(0)
        return out

    def _verdict(
        self, transcript: Transcript, final_share: U64, accused: list[Accusation]
    ) -> Confirmation:
        if accused:
            return Confirmation("complaint", accused=tuple(accused))
        public, evaluation = transcript.assemble_keys()
        partial = None
        if self.entry.index in self.plan.test_set:
            partial = self._test_partial(transcript, final_share)
        return Confirmation("ack", public.key_id, evaluation.digest, partial)

    def confirmation_payload(self, transcript: Transcript) -> Confirmation:
        transcript.require("response")
        final_share, accused = self._received(transcript)
        try:
            return self._verdict(transcript, final_share, accused)
        finally:
            final_share.fill(0)

    # -- round 5 ------------------------------------------------------------------------
    def completion_payload(self, transcript: Transcript) -> Completion:
        """The completion, deterministic like every message: only if every public check of
        rounds 1-4 passes and every share this trustee received checks; raises
        :class:`CeremonyAbort` (needing the reveals) otherwise."""
        public, evaluation = transcript.check_confirmations()
        final_share, accused = self._received(transcript)
        final_share.fill(0)
        if accused:
            raise CeremonyAbort(
                f"{self.trustee_id!r} received shares that fail its checks",
                needs_reveal=True,
            )
        return transcript.honest_completion(public, evaluation)

    # -- replay -----------------------------------------------------------------------
    def payload(self, kind: str, transcript: Transcript) -> Payload:
        """The honest ``kind`` payload (rounds 1-5) for this transcript."""
        if kind == "hello":
            return self.hello_payload()
        if kind == "contribution":
            return self.contribution_payload(transcript)
        if kind == "response":
            return self.response_payload(transcript)
        if kind == "confirmation":
            return self.confirmation_payload(transcript)
        if kind == "completion":
            return self.completion_payload(transcript)
        raise ParameterError(f"no replay of a {kind}")

    def unsigned(self, kind: str, transcript: Transcript) -> bytes:
        """The honest ``kind`` record, without signature: what blame compares byte for byte."""
        payload = self.payload(kind, transcript)
        return SignedMessage.unsigned_record(
            self.plan, self.trustee_id, transcript.expected_previous(kind), payload
        )


class DkgTrustee(SeedReplay):
    """Trustee ``trustee_id``'s side (module docstring): construct it from the plan, its
    roster identity and its seed for each round; each round method takes the transcript of
    the earlier rounds and returns the signed message."""

    def __init__(
        self, plan: CeremonyPlan, trustee_id: str, identity: Identity, seed: bytes
    ) -> None:
        super().__init__(plan, trustee_id, seed)
        if self.entry.public_key != identity.public_key:
            raise MismatchError(f"the identity is not {trustee_id!r}'s roster key")
        self._identity = identity
        self._completed = False
        self._revealed = False

    def _sign(self, payload: Payload, previous: str) -> SignedMessage:
        return SignedMessage.sign(self.plan, self.trustee_id, self._identity, previous, payload)

    def hello(self) -> SignedMessage:
        """Round 1: the X25519 transport key."""
        return self._sign(self.hello_payload(), self.plan.digest)

    def contribute(
        self, transcript: Transcript, *, progress: Callable[[int], None] | None = None
    ) -> SignedMessage:
        """Round 2 (all hellos in): key shares and sealed Shamir shares. ``progress(done)``
        counts steps of :meth:`contribution_steps` (the RKG share, each Galois share, each
        sealed share)."""
        payload = self.contribution_payload(transcript, progress)
        return self._sign(payload, transcript.expected_previous("contribution"))

    def respond(self, transcript: Transcript) -> SignedMessage:
        """Round 3 (all contributions in): degree-check polynomials and RKG round 2."""
        return self._sign(
            self.response_payload(transcript), transcript.expected_previous("response")
        )

    def confirm(self, transcript: Transcript) -> SignedMessage:
        """Round 4 (all responses in): check every share received, then ack with the keys
        (and, in the test set, a test partial) or complain naming the dealers at fault."""
        payload = self.confirmation_payload(transcript)
        return self._sign(payload, transcript.expected_previous("confirmation"))

    def complete(self, transcript: Transcript) -> SignedMessage:
        """Round 5 (all confirmations in): the completion, only when every public check of
        rounds 1-4 passes and this trustee's own shares all checked (else
        :class:`CeremonyAbort`). From then on this trustee never reveals its seed (the caller
        persists that before posting: ``session.step``). Refuses after a reveal."""
        if self._revealed:
            raise RefusedError("this trustee revealed its seed: the ceremony's key is void")
        payload = self.completion_payload(transcript)
        self._completed = True
        return self._sign(payload, transcript.expected_previous("completion"))

    def finish(self, transcript: Transcript) -> KeyShare:
        """After round 5: this trustee's key share, once the transcript holds every trustee's
        completion over the same confirmations (``Transcript.check_transcript``, this
        trustee's own completion included) and its own shares all checked. Refuses after a
        reveal; raises :class:`CeremonyAbort` on anything missing or wrong."""
        if self._revealed:
            raise RefusedError("this trustee revealed its seed: the ceremony's key is void")
        record = transcript.check_transcript()
        final_share, accused, keys = self._opened(transcript)
        if accused:
            final_share.fill(0)
            raise CeremonyAbort(
                f"{self.trustee_id!r} received shares that fail its checks",
                needs_reveal=True,
            )
        levels = len(self.params.DATA_PRIMES)
        self._completed = True
        return KeyShare(
            self.params,
            record.key_id,
            self.trustee_id,
            self.entry.index,
            self.plan.threshold,
            final_share[:levels],
            prss=self._prss_keys(record.key_id, keys),
        )

    def reveal(self) -> SignedMessage:
        """On abort only, and only before completing: publish the seed. Never after its
        completion (another trustee may finish and use the key); a persistent caller keeps
        that rule across processes with the seed file's status (``session.step``)."""
        if self._completed:
            raise RefusedError("this trustee completed the ceremony: it never reveals its seed")
        self._revealed = True
        return self._sign(Reveal(self._seed), self.plan.digest)
