"""The public transcript of a dealerless ceremony, and everything anyone computes from it.

A :class:`Transcript` collects the signed messages of one plan (``messages.py``), checking
each as it arrives: signature, plan, sender, and that it answers the round's inputs
(``previous``). From a complete round it derives what the next round needs — the same for
every trustee, the service and any auditor:

* ``hellos_digest`` = SHA-256("cryptoscore/dkg/hellos/v1" | plan digest | the hellos' digests
  in index order); likewise ``contributions_digest`` (over ``hellos_digest``),
  ``responses_digest``, ``confirmations_digest`` and ``completions_digest``, each over the one
  before (:func:`round_digest_of`; a relay holding only message digests computes the same
  chain with :func:`round_digests_of` and checks a new message's ``previous`` with
  :func:`expected_previous_of`);
* the common seed (the first 32 bytes of ``hellos_digest``) and the common polynomials
  (``hazmat/keygen.expand_common``: "public-key" 0, "relin-key" 0, "galois-key" g);
* the RKG round-1 sums h0 = Σ h0_i, h1 = Σ h1_i, and the degree-check challenges
  (``degree_check.degree_challenges`` of ``contributions_digest``);
* the collective keys (:meth:`Transcript.assemble_keys`): pk = (Σ p_i, a), the relin key
  (Σ h0'_i + Σ h1'_i, h1) per component, each Galois key (Σ_i b_{i,g}, a_g) — assembled in
  SEAL's layout and loaded by SEAL, exactly as ``scoring/keys.generate_keys`` builds its
  records (Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux, "Multiparty Homomorphic Encryption
  from Ring-Learning-with-Errors", PETS 2021, §4: CKG, RKG, RTG);
* the ceremony test (:meth:`Transcript.ceremony_test`): messages m, m', m_g ∈ Z_t^N from
  ``responses_digest``, encrypted under the collective pk with public randomness, evaluated
  as relin(c·c') + Σ_g σ_g(c_g) and switched to the release level; its expected plaintext
  m·m' + Σ_g σ_g(m_g) (negacyclic, mod t) in numpy. One threshold decryption of it by the test
  set (the t lowest indices, their confirmations' partials) tests the public key, the relin
  key, every Galois key and the shares together; the messages are fixed only after every key
  share is committed, so no contributor can make errors cancel.

* with PRSS keys (a version 2 plan), every set's key commitment from its leader's contribution
  (:meth:`Transcript.prss_commitments`, canonical set order) and their digest, which every
  completion names and the record lists (``prss_dealing.py``).

:meth:`Transcript.check_confirmations` runs every public check of rounds 1-4 (what a trustee
needs before it sends its completion); :meth:`Transcript.check_transcript` adds the completion
round — every trustee's completion, over these confirmations and naming these keys — and
returns the ``CeremonyRecord(mode="dealerless")``, or raises :class:`CeremonyAbort`. Finishing
needs all n completions and a trustee that completed never reveals its seed, so a revealed
seed never exposes a key in use (the equivocation this prevents: docs/design.md, "Key ceremony
v2 (dealerless)", the completion round). Nobody ever computes
the secret key: the keys are sums of public shares, the test is a threshold decryption.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import tenseal.sealapi as seal

from cryptoscore.errors import CryptoScoreError, MismatchError, ParameterError, StepError
from cryptoscore.hazmat.c1 import shake_uniform
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.keygen import (
    combine_shares,
    expand_common,
    galois_automorphism,
    key_primes,
    sum_shares,
)
from cryptoscore.hazmat.modmath import U64, addmod, crt_lift, mulmod, reduce_signed
from cryptoscore.hazmat.ntt import ntt_tables
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.hazmat.seal_format import build_ciphertext, build_kswitch_keys
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext, galois_elements
from cryptoscore.threshold.ceremony import CeremonyRecord, TranscriptEntry
from cryptoscore.threshold.dkg.degree_check import degree_challenges
from cryptoscore.threshold.dkg.messages import (
    KINDS,
    Completion,
    Confirmation,
    Contribution,
    Hello,
    Response,
    Reveal,
    SignedMessage,
)
from cryptoscore.threshold.dkg.plan import CeremonyPlan
from cryptoscore.threshold.dkg.prss_dealing import commitments_digest, led_sets
from cryptoscore.threshold.prss import PrssSet

__all__ = [
    "CONFIRMED_ROUNDS",
    "ROUNDS",
    "CeremonyAbort",
    "CeremonyTest",
    "Transcript",
    "answered_round",
    "expected_previous_of",
    "round_digest_of",
    "round_digests_of",
]

ROUNDS = ("hello", "contribution", "response", "confirmation", "completion")
"""The rounds every trustee sends one message in, in order (a reveal is not one: it is sent
only on abort). Finishing needs every message of every round."""
CONFIRMED_ROUNDS = ROUNDS[:-1]
"""The rounds the confirmations answer for: what a trustee checks before it completes, and
what blame replays."""
_TEST_DOMAIN = b"cryptoscore/dkg/test/v1"


class CeremonyAbort(CryptoScoreError):
    """The ceremony cannot finish. ``culprits`` names who is at fault (trustee id → reason)
    when the public transcript shows it (a missing message) or after blame; when it cannot
    yet (a complaint, disagreeing confirmations, a failed test) ``needs_reveal`` is set:
    every trustee publishes its seed and ``blame`` names the deviators by replay."""

    def __init__(
        self, message: str, culprits: dict[str, str] | None = None, *, needs_reveal: bool = False
    ) -> None:
        super().__init__(message)
        self.culprits: dict[str, str] = dict(culprits or {})
        self.needs_reveal = needs_reveal


@dataclass(frozen=True, slots=True, eq=False)
class CeremonyTest:
    """The ceremony test ciphertext at the release level (``[2][prime][coeff]``, coefficient
    form) and the plaintext it must decrypt to (``[coeff]``, mod t)."""

    ciphertext: U64 = field(repr=False)
    expected: U64 = field(repr=False)


def answered_round(kind: str) -> str | None:
    """The round whose digest a ``kind`` message answers (its ``previous``): the round before
    it, or None for a hello or a reveal, which answer the plan itself."""
    if kind not in KINDS:
        raise ParameterError(f"no ceremony message kind {kind!r} (kinds: {', '.join(KINDS)})")
    if kind == "reveal" or kind == ROUNDS[0]:
        return None
    return ROUNDS[ROUNDS.index(kind) - 1]


def round_digest_of(kind: str, previous: str, digests: Sequence[str]) -> str:
    """``<kind>s_digest``: SHA-256("cryptoscore/dkg/<kind>s/v1" | previous | each message
    digest), ``previous`` the digest the round answers and ``digests`` the round's message
    digests (hex, SHA-256 of each message without its signature) in roster index order —
    what :meth:`Transcript.round_digest` computes from the messages themselves."""
    if kind not in ROUNDS:
        raise ParameterError(f"no ceremony round {kind!r} (rounds: {', '.join(ROUNDS)})")
    h = hashlib.sha256(f"cryptoscore/dkg/{kind}s/v1".encode())
    h.update(bytes.fromhex(previous))
    for digest in digests:
        h.update(bytes.fromhex(digest))
    return h.hexdigest()


def expected_previous_of(kind: str, plan_digest: str, round_digests: Mapping[str, str]) -> str:
    """What a ``kind`` message's ``previous`` must be, from the plan's digest and the digests
    of the complete rounds (round → digest, e.g. from :func:`round_digests_of`): the plan's
    digest for a hello or a reveal, else the digest of the round before, which must be
    complete (:class:`StepError` if it is not). The relay's check of a new message without
    the earlier messages' bodies; :meth:`Transcript.expected_previous` is the same rule."""
    before = answered_round(kind)
    if before is None:
        return plan_digest
    digest = round_digests.get(before)
    if digest is None:
        raise StepError(f"a {kind} answers the {before}s, which are not all in")
    return digest


def round_digests_of(
    plan_digest: str, complete_rounds: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """The digest of every complete round, in order: ``complete_rounds`` maps a round to its
    message digests in roster index order (only rounds with every trustee's message); the
    chain stops at the first round missing from it."""
    out: dict[str, str] = {}
    for kind in ROUNDS:
        digests = complete_rounds.get(kind)
        if digests is None:
            break
        out[kind] = round_digest_of(kind, expected_previous_of(kind, plan_digest, out), digests)
    return out


class Transcript:
    """The messages of one ceremony by round and trustee (see the module docstring)."""

    def __init__(self, plan: CeremonyPlan) -> None:
        self.plan = plan
        self.params = plan.params
        self._messages: dict[str, dict[str, SignedMessage]] = {k: {} for k in KINDS}
        self._cache: dict[tuple[object, ...], object] = {}

    @classmethod
    def of(cls, plan: CeremonyPlan, messages: Iterable[bytes | SignedMessage]) -> Transcript:
        transcript = cls(plan)
        for m in messages:
            transcript.add(m)
        return transcript

    # -- collecting ---------------------------------------------------------------------
    def add(self, message: bytes | SignedMessage) -> SignedMessage:
        """Check and keep one message; the same message twice is kept once, two different
        messages of one trustee in one round are refused (equivocation)."""
        if isinstance(message, SignedMessage):
            message = SignedMessage.from_bytes(message.to_bytes(), self.plan)
        else:
            message = SignedMessage.from_bytes(message, self.plan)
        want = self.expected_previous(message.kind)
        if message.previous != want:
            raise MismatchError(
                f"{message.kind} of {message.trustee_id!r} answers other inputs than this "
                "transcript's (previous digest differs)"
            )
        slot = self._messages[message.kind]
        held = slot.get(message.trustee_id)
        if held is not None:
            if held.digest != message.digest:
                raise MismatchError(
                    f"{message.trustee_id!r} sent two different {message.kind}s (equivocation)"
                )
            return held
        slot[message.trustee_id] = message
        return message

    def expected_previous(self, kind: str) -> str:
        """What a ``kind`` message's ``previous`` must be (:func:`expected_previous_of`): the
        plan digest for a hello or a reveal, else the digest of the round before (which must
        be complete)."""
        before = answered_round(kind)
        digests = {} if before is None else {before: self.round_digest(before)}
        return expected_previous_of(kind, self.plan.digest, digests)

    def message(self, kind: str, trustee_id: str) -> SignedMessage | None:
        return self._messages[kind].get(trustee_id)

    def messages(self, kind: str) -> list[SignedMessage]:
        """The round's messages in index order (those received)."""
        slot = self._messages[kind]
        return [slot[e.trustee_id] for e in self.plan.roster if e.trustee_id in slot]

    def missing(self, kind: str) -> list[str]:
        return [e.trustee_id for e in self.plan.roster if e.trustee_id not in self._messages[kind]]

    def complete(self, kind: str) -> bool:
        return not self.missing(kind)

    def require(self, kind: str) -> None:
        missing = self.missing(kind)
        if missing:
            raise StepError(f"the {kind}s are not all in: none yet from {', '.join(missing)}")

    def round_digest(self, kind: str) -> str:
        """``<kind>s_digest`` of a complete round (module docstring)."""
        self.require(kind)
        key = ("digest", kind)
        if key not in self._cache:
            previous = self.expected_previous(kind)
            digests = [m.digest for m in self.messages(kind)]
            self._cache[key] = round_digest_of(kind, previous, digests)
        out = self._cache[key]
        assert isinstance(out, str)
        return out

    # -- typed access ---------------------------------------------------------------------
    def hello(self, trustee_id: str) -> Hello:
        m = self._messages["hello"].get(trustee_id)
        if m is None or not isinstance(m.payload, Hello):
            raise StepError(f"no hello from {trustee_id!r}")
        return m.payload

    def contribution(self, trustee_id: str) -> Contribution:
        m = self._messages["contribution"].get(trustee_id)
        if m is None or not isinstance(m.payload, Contribution):
            raise StepError(f"no contribution from {trustee_id!r}")
        return m.payload

    def response(self, trustee_id: str) -> Response:
        m = self._messages["response"].get(trustee_id)
        if m is None or not isinstance(m.payload, Response):
            raise StepError(f"no response from {trustee_id!r}")
        return m.payload

    def confirmation(self, trustee_id: str) -> Confirmation:
        m = self._messages["confirmation"].get(trustee_id)
        if m is None or not isinstance(m.payload, Confirmation):
            raise StepError(f"no confirmation from {trustee_id!r}")
        return m.payload

    def completion(self, trustee_id: str) -> Completion:
        m = self._messages["completion"].get(trustee_id)
        if m is None or not isinstance(m.payload, Completion):
            raise StepError(f"no completion from {trustee_id!r}")
        return m.payload

    def reveals(self) -> dict[str, bytes]:
        """Trustee id → revealed seed."""
        out = {}
        for tid, m in self._messages["reveal"].items():
            assert isinstance(m.payload, Reveal)
            out[tid] = m.payload.seed
        return out

    # -- what the rounds derive -------------------------------------------------------
    @property
    def common_seed(self) -> bytes:
        return bytes.fromhex(self.round_digest("hello"))[:32]

    def common(self, purpose: str, index: int) -> U64:
        """The common polynomials of ``purpose`` (``[j][key prime][coeff]``; one for the public
        key, L for key-switching keys), cached: read-only."""
        key = ("common", purpose, index)
        if key not in self._cache:
            count = 1 if purpose == "public-key" else len(self.params.DATA_PRIMES)
            polys = expand_common(self.params, self.common_seed, purpose, index, count)
            polys.setflags(write=False)
            self._cache[key] = polys
        out = self._cache[key]
        assert isinstance(out, np.ndarray)
        return out

    def relin_round1_sums(self) -> tuple[U64, U64]:
        """h0 = Σ h0_i, h1 = Σ h1_i over every contribution (read-only)."""
        key = ("rkg1",)
        if key not in self._cache:
            self.require("contribution")
            ids = [e.trustee_id for e in self.plan.roster]
            h0 = sum_shares(self.params, [self.contribution(i).relin_h0 for i in ids])
            h1 = sum_shares(self.params, [self.contribution(i).relin_h1 for i in ids])
            h0.setflags(write=False)
            h1.setflags(write=False)
            self._cache[key] = (h0, h1)
        out = self._cache[key]
        assert isinstance(out, tuple)
        return out

    def prss_commitments(self) -> tuple[tuple[PrssSet, bytes], ...]:
        """(A, commitment of r_A) for every PRSS set in canonical order, each from its
        leader's contribution (empty in a ceremony without PRSS keys). Leaders are trustees
        1..t and each leads a lexicographic run of the sets, so index order is canonical."""
        if not self.plan.prss:
            return ()
        out: list[tuple[PrssSet, bytes]] = []
        for entry in self.plan.roster[: self.plan.threshold]:
            sets = led_sets(self.plan.n, self.plan.threshold, entry.index)
            out += zip(sets, self.contribution(entry.trustee_id).prss, strict=True)
        return tuple(out)

    def honest_completion(self, public: PublicContext, evaluation: EvaluationKeys) -> Completion:
        """The completion every trustee sends when the checks of rounds 1-4 pass with these
        keys: their key id and digest and, with PRSS keys, the commitments' digest."""
        prss = commitments_digest(self.prss_commitments()) if self.plan.prss else ""
        return Completion(public.key_id, evaluation.digest, prss)

    def challenges(self) -> list[list[int]]:
        """The degree check's r[b][p] (``degree_check.degree_challenges``)."""
        return degree_challenges(self.params, self.round_digest("contribution"))

    def assemble_keys(self) -> tuple[PublicContext, EvaluationKeys]:
        """The collective public context and evaluation keys, built in SEAL's layout and
        loaded (so validated) by SEAL, stored as SEAL re-serializes them — exactly as
        ``scoring/keys.generate_keys`` does for a single key."""
        key = ("keys",)
        if key not in self._cache:
            self.require("response")
            self._cache[key] = self._assemble()
        out = self._cache[key]
        assert isinstance(out, tuple)
        return out

    def _assemble(self) -> tuple[PublicContext, EvaluationKeys]:
        params = self.params
        engine = engine_for(params)
        ids = [e.trustee_id for e in self.plan.roster]
        primes = key_primes(params)
        contributions = [self.contribution(i) for i in ids]
        a_pk = self.common("public-key", 0)[0]
        pk = combine_shares(params, [c.public_key_share for c in contributions], a_pk)
        public = PublicContext(params, encode_ciphertext(pk, primes))

        def entries(key: U64) -> list[bytes]:
            pid, version = engine.key_parms_id, engine.version
            return [build_ciphertext(pid, comp, version, is_ntt_form=True) for comp in key]

        responses = [self.response(i) for i in ids]
        total = sum_shares(
            params, [r.relin_h0 for r in responses] + [r.relin_h1 for r in responses]
        )
        relin_raw = build_kswitch_keys(
            engine.key_parms_id,
            [entries(combine_shares(params, [total], self.relin_round1_sums()[1]))],
            engine.version,
        )
        galois: list[list[bytes]] = [[] for _ in range(params.POLY_MODULUS_DEGREE)]
        for idx, g in enumerate(galois_elements(params)):
            shares = [c.galois[idx] for c in contributions]
            galois[g >> 1] = entries(combine_shares(params, shares, self.common("galois-key", g)))
        galois_raw = build_kswitch_keys(engine.key_parms_id, galois, engine.version)
        relin = engine.save_bytes(engine.load_relin_keys(relin_raw))
        galois_bytes = engine.save_bytes(engine.load_galois_keys(galois_raw))
        return public, EvaluationKeys(params, public.key_id, relin, galois_bytes)

    def ceremony_test(self) -> CeremonyTest:
        """The test ciphertext and its expected plaintext (module docstring), cached."""
        key = ("test",)
        if key not in self._cache:
            self._cache[key] = self._ceremony_test()
        out = self._cache[key]
        assert isinstance(out, CeremonyTest)
        return out

    def _test_message(self, label: str) -> U64:
        digest = bytes.fromhex(self.round_digest("response"))
        name = b"|".join([_TEST_DOMAIN, self.params.ID.encode(), digest, label.encode()])
        return shake_uniform(name, self.params.PLAIN_MODULUS, self.params.POLY_MODULUS_DEGREE)

    def _ceremony_test(self) -> CeremonyTest:
        params = self.params
        engine = engine_for(params)
        public, evaluation = self.assemble_keys()
        relin_keys, galois_keys = evaluation.load()
        pk = public.seal_public_key()
        digest = bytes.fromhex(self.round_digest("response"))
        ev = engine.evaluator

        def encrypt(label: str, message: U64) -> object:
            # public randomness, as threshold/combine.rerandomize: anyone recomputes it
            seed = hashlib.sha256(b"|".join([_TEST_DOMAIN, digest, label.encode()])).digest()
            ct = engine.bfv_ciphertext(engine.encrypt_zero_seeded(pk, seed, params.fresh_level()))
            ev.add_plain_inplace(ct, engine.plaintext_from_coefficients(message))
            return ct

        t = params.PLAIN_MODULUS
        m, m2 = self._test_message("m"), self._test_message("m'")
        ct = encrypt("m", m)
        ev.multiply_inplace(ct, encrypt("m'", m2))
        ev.relinearize_inplace(ct, relin_keys)
        ntt = ntt_tables(params.POLY_MODULUS_DEGREE, t)
        expected = ntt.inverse(mulmod(ntt.forward(m), ntt.forward(m2), t))
        for g in galois_elements(params):
            mg = self._test_message(f"galois:{g}")
            rotated = seal.Ciphertext()
            ev.apply_galois(encrypt(f"galois:{g}", mg), g, galois_keys, rotated)
            ev.add_inplace(ct, rotated)
            moved = reduce_signed(galois_automorphism(mg.astype(np.int64), g), t)
            expected = addmod(expected, moved, t)
        ev.mod_switch_to_inplace(ct, list(engine.bfv_level_ids[params.RELEASE_LEVEL]))
        return CeremonyTest(engine.export(ct).data, expected)

    def test_decryption(self) -> U64:
        """c0 + Σ of the test set's partials, rounded to Z_t (needs every test-set ack)."""
        params = self.params
        test = self.ceremony_test()
        moduli = params.moduli(params.RELEASE_LEVEL)
        x = [test.ciphertext[0, i].copy() for i in range(len(moduli))]
        for index in self.plan.test_set:
            partial = self.confirmation(self.plan.roster[index - 1].trustee_id).test_partial
            if partial is None:
                raise StepError(f"no test partial from trustee index {index}")
            for i, q in enumerate(moduli):
                x[i] = addmod(x[i], partial[i], q)
        big_q = math.prod(moduli)
        lifted = np.array(crt_lift(x, moduli), dtype=object)
        t = params.PLAIN_MODULUS
        out: U64 = ((lifted * t + big_q // 2) // big_q % t).astype(np.uint64)
        return out

    def _naming_other_keys(
        self, kind: str, public: PublicContext, evaluation: EvaluationKeys
    ) -> list[str]:
        """The senders whose ``kind`` (confirmation or completion) names other keys than
        ``public`` and ``evaluation`` (a completion: other PRSS commitments too)."""
        honest = self.honest_completion(public, evaluation)
        out = []
        for m in self.messages(kind):
            payload = m.payload
            assert isinstance(payload, Confirmation | Completion)
            named = (payload.key_id, payload.evaluation_keys)
            if isinstance(payload, Completion):
                if payload != honest:
                    out.append(m.trustee_id)
            elif named != (honest.key_id, honest.evaluation_keys):
                out.append(m.trustee_id)
        return out

    # -- the public verdict ----------------------------------------------------------------
    def check_confirmations(self) -> tuple[PublicContext, EvaluationKeys]:
        """Anyone's checks of rounds 1-4, what a trustee needs before it completes: every
        message present, no complaint, every ack naming the keys assembled here, and the test
        set's partials decrypting the ceremony test exactly. Returns the keys, or raises
        :class:`CeremonyAbort` (naming the silent senders of a missing message; needing the
        reveals otherwise)."""
        for kind in CONFIRMED_ROUNDS:
            missing = self.missing(kind)
            if missing:
                raise CeremonyAbort(
                    f"the ceremony stopped at round {KINDS[kind]}: no {kind} from "
                    + ", ".join(missing),
                    {tid: f"sent no {kind}" for tid in missing},
                )
        complaints = {
            e.trustee_id: self.confirmation(e.trustee_id)
            for e in self.plan.roster
            if self.confirmation(e.trustee_id).verdict == "complaint"
        }
        if complaints:
            said = "; ".join(
                f"{who} accuses {a.trustee_id} ({a.reason})"
                for who, c in complaints.items()
                for a in c.accused
            )
            raise CeremonyAbort(f"complaints: {said}", needs_reveal=True)
        public, evaluation = self.assemble_keys()
        disagree = self._naming_other_keys("confirmation", public, evaluation)
        if disagree:
            raise CeremonyAbort(
                "confirmations name other keys than the transcript's: " + ", ".join(disagree),
                needs_reveal=True,
            )
        if not np.array_equal(self.test_decryption(), self.ceremony_test().expected):
            raise CeremonyAbort(
                "the ceremony test does not decrypt to its expected plaintext: some key share, "
                "Shamir share or test partial is wrong",
                needs_reveal=True,
            )
        return public, evaluation

    def check_transcript(self, *, created_at: str | None = None) -> CeremonyRecord:
        """Anyone's checks of a finished ceremony: :meth:`check_confirmations`, then every
        trustee's completion (each answers these confirmations: ``previous``, checked when it
        was added) naming the keys assembled here. Returns the dealerless record listing
        every message of rounds 1-5 and carrying the plan and every signed completion in
        full (``CeremonyRecord.check_completions``), or raises :class:`CeremonyAbort`: a
        missing or wrong completion names its sender and needs no reveal (the trustees that
        completed never reveal; the others may, harmlessly: nobody finishes without their
        completion)."""
        public, evaluation = self.check_confirmations()
        missing = self.missing("completion")
        if missing:
            raise CeremonyAbort(
                f"the ceremony stopped at round {KINDS['completion']}: no completion from "
                + ", ".join(missing),
                {tid: "sent no completion" for tid in missing},
            )
        wrong = {
            tid: "its completion names other keys than the transcript's"
            for tid in self._naming_other_keys("completion", public, evaluation)
        }
        if wrong:
            raise CeremonyAbort(
                "completions name other keys than the transcript's: " + ", ".join(wrong), wrong
            )
        entries = tuple(
            TranscriptEntry(m.round, m.trustee_id, m.digest, m.signature)
            for kind in ROUNDS
            for m in self.messages(kind)
        )
        return CeremonyRecord(
            params=self.params,
            key_id=public.key_id,
            evaluation_keys=evaluation.digest,
            threshold=self.plan.threshold,
            roster=self.plan.roster,
            share_commitments={},
            created_at=created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            dealer_statement="",
            mode="dealerless",
            plan=self.plan.digest,
            transcript=entries,
            plan_record=self.plan.to_bytes(),
            completions={m.trustee_id: m.to_bytes() for m in self.messages("completion")},
            answers="shamir" if self.plan.prss else "lagrange",
            prss_commitments=self.prss_commitments(),
        )
