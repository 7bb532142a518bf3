"""The dealerless ceremony's six signed wire records (docs/design.md, "Key ceremony v2").

Every message is one record (``envelope.pack_record``, magic ``CSDKGMSG``, version 3 in a
ceremony that deals PRSS keys — a version 2 plan —, version 2 in one that does not, a
:data:`~cryptoscore.threshold.dkg.plan.LEGACY_PLAN_VERSION` plan; version 1 had no completion
round and is refused) followed
by a 64-byte trailer: the sender's Ed25519 signature over ``DKG_SIGN_DOMAIN`` | SHA-256 of the
record (``threshold/ceremony.py``), so the ceremony record can keep just (digest, signature)
per message and still be checked by anyone. The header always has ``kind``, ``plan`` (the
plan's digest), ``trustee_id``, ``round`` (1 hello, 2 contribution, 3 response, 4
confirmation, 5 completion, 6 reveal) and ``previous`` (the digest of the inputs of the round:
``transcript.py``), then the kind's own fields; the body is the kind's polynomials, each
``[..., prime, coeff]`` as little-endian 64-bit words, every one checked below its prime.

* :class:`Hello` — the trustee's X25519 transport key (``transport.py``).
* :class:`Contribution` — public-key share p_i, RKG round-1 shares (h0_i, h1_i), one Galois-key
  share per element of ``scoring/keys.galois_elements``, and for each other trustee k the
  sealed (f_i(k), m_{0,i}(k), m_{1,i}(k)) (``degree_check.py``); in version 3 followed, inside
  the same sealed payload, by the PRSS key r_A of every set A the sender leads that holds k,
  with the header's ``prss`` listing ``prss.ceremony_commitment`` of each set the sender leads
  (``prss_dealing.py``).
* :class:`Response` — the degree-check polynomials D_{0,i}, D_{1,i} and the RKG round-2
  shares (h0'_i, h1'_i).
* :class:`Confirmation` — "ack" with the key id and evaluation-keys digest the trustee
  assembled (and, from the test set, its partial decryption of the ceremony test), or
  "complaint" naming the dealers whose shares failed, with reasons.
* :class:`Completion` — the key id and evaluation-keys digest the trustee completes on, sent
  only when every public check of rounds 1-4 passes and its own shares all checked; ``previous``
  is the confirmations' digest, so all n completions name the same confirmations. In version 3
  it also names the digest of every set's PRSS-key commitment (``prss``), so the record's list
  of them is signed by every trustee. A trustee
  that completed never reveals, and nobody finishes without all n completions: that is what
  makes a reveal harmless (docs/design.md, "the completion round").
* :class:`Reveal` — the trustee's 32-byte seed, published only on abort, never after its
  completion.

Parsing checks everything and raises :class:`FormatError` (malformed),
:class:`MismatchError` (another ceremony, a trustee off the roster) or
:class:`VerificationError` (signature).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cryptoscore.envelope import Fields, pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError
from cryptoscore.hazmat.keygen import key_primes
from cryptoscore.hazmat.modmath import U64
from cryptoscore.identity import Identity
from cryptoscore.params import ParameterSet
from cryptoscore.randomness import SEED_BYTES
from cryptoscore.scoring.keys import galois_elements
from cryptoscore.threshold.ceremony import DKG_SIGN_DOMAIN
from cryptoscore.threshold.dkg.plan import CeremonyPlan
from cryptoscore.threshold.dkg.prss_dealing import carried_sets, led_sets
from cryptoscore.threshold.dkg.transport import TAG_BYTES, check_transport_key

__all__ = [
    "KINDS",
    "MESSAGE_MAGIC",
    "Accusation",
    "Completion",
    "Confirmation",
    "Contribution",
    "Hello",
    "Payload",
    "Response",
    "Reveal",
    "SignedMessage",
    "message_version",
    "sealed_bytes",
    "sealed_share_bytes",
]

MESSAGE_MAGIC = b"CSDKGMSG"
MESSAGE_VERSION = 3
"""Messages of ceremonies that deal PRSS keys (a version 2 plan)."""
LEGACY_MESSAGE_VERSION = 2
"""Messages of ceremonies that deal none (a version 1 plan), byte for byte as before."""
SIGNATURE_BYTES = 64
KINDS: dict[str, int] = {
    "hello": 1,
    "contribution": 2,
    "response": 3,
    "confirmation": 4,
    "completion": 5,
    "reveal": 6,
}
"""Each kind and its round."""
MAX_REASON = 200


# -- polynomial bodies -------------------------------------------------------------------
def _encode(array: U64) -> bytes:
    return np.ascontiguousarray(array, dtype="<u8").tobytes()


def _decode(
    view: memoryview, offset: int, shape: tuple[int, ...], primes: tuple[int, ...], what: str
) -> tuple[U64, int]:
    """A read-only ``shape`` array from ``view`` at ``offset``; every residue below its prime
    (the second-to-last axis indexes ``primes``)."""
    count = math.prod(shape)
    end = offset + 8 * count
    if end > len(view):
        raise FormatError(f"{what}: body truncated")
    array = np.frombuffer(view, dtype="<u8", count=count, offset=offset).reshape(shape)
    for i, q in enumerate(primes):
        if bool((array[..., i, :] >= np.uint64(q)).any()):
            raise FormatError(f"{what}: a residue is not reduced modulo prime {i} ({q})")
    out: U64 = array.view(np.uint64)
    return out, end


def _no_body(kind: str, body: memoryview) -> None:
    if len(body):
        raise FormatError(f"{kind}: unexpected body")


def sealed_share_bytes(params: type[ParameterSet], keys: int = 0) -> int:
    """Length of one sealed share: f(k), m0(k), m1(k) over the data primes, ``keys`` PRSS
    keys of 32 bytes, and the tag."""
    return (
        3 * len(params.DATA_PRIMES) * params.POLY_MODULUS_DEGREE * 8 + SEED_BYTES * keys + TAG_BYTES
    )


def sealed_bytes(plan: CeremonyPlan, sender: int, recipient: int) -> int:
    """Length of what trustee index ``sender`` seals to ``recipient`` under ``plan``: the
    share, and the PRSS keys of the sets ``sender`` leads that hold ``recipient``."""
    keys = len(carried_sets(plan.n, plan.threshold, sender, recipient)) if plan.prss else 0
    return sealed_share_bytes(plan.params, keys)


def message_version(plan: CeremonyPlan) -> int:
    """The message format version of ``plan``'s ceremony (module docstring)."""
    return MESSAGE_VERSION if plan.prss else LEGACY_MESSAGE_VERSION


# -- payloads -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hello:
    kind = "hello"
    transport_key: bytes
    """X25519 public key (32 bytes)."""

    def parts(self, plan: CeremonyPlan, sender: str) -> tuple[dict[str, Any], bytes]:
        return {"transport_key": self.transport_key.hex()}, b""

    @classmethod
    def parse(
        cls, plan: CeremonyPlan, sender: str, f: Fields, header: Mapping[str, Any], body: memoryview
    ) -> Hello:
        _no_body("hello", body)
        key = f.hex("transport_key", 32)
        check_transport_key(key, f"hello of {sender!r}")
        return cls(key)


@dataclass(frozen=True, slots=True, eq=False)
class Contribution:
    kind = "contribution"
    public_key_share: U64 = field(repr=False)
    """p_i = −a·s_i + e_i, ``[key prime][coeff]``."""
    relin_h0: U64 = field(repr=False)
    """RKG round 1, ``[j][key prime][coeff]``."""
    relin_h1: U64 = field(repr=False)
    galois: U64 = field(repr=False)
    """One key-switching share per Galois element (``galois_elements`` order),
    ``[element][j][key prime][coeff]``."""
    sealed: Mapping[str, bytes] = field(repr=False)
    """Recipient id → sealed (f_i(k), m0(k), m1(k)) and, in a PRSS ceremony, the keys of the
    sets the sender leads that hold k; for every other trustee."""
    prss: tuple[bytes, ...] = ()
    """In a PRSS ceremony: ``prss.ceremony_commitment`` of the key of each set the sender
    leads (``prss_dealing.led_sets``, canonical order); else empty."""

    def parts(self, plan: CeremonyPlan, sender: str) -> tuple[dict[str, Any], bytes]:
        recipients = [e.trustee_id for e in plan.roster if e.trustee_id != sender]
        if sorted(self.sealed) != sorted(recipients):
            raise FormatError("contribution: one sealed share per other trustee")
        led = led_sets(plan.n, plan.threshold, plan.entry(sender).index) if plan.prss else ()
        if len(self.prss) != len(led):
            raise FormatError("contribution: one PRSS-key commitment per set the sender leads")
        header: dict[str, Any] = {"galois": galois_elements(plan.params), "recipients": recipients}
        if plan.prss:
            header["prss"] = [c.hex() for c in self.prss]
        body = b"".join(
            [
                _encode(self.public_key_share),
                _encode(self.relin_h0),
                _encode(self.relin_h1),
                _encode(self.galois),
                *(self.sealed[r] for r in recipients),
            ]
        )
        return header, body

    @classmethod
    def parse(
        cls, plan: CeremonyPlan, sender: str, f: Fields, header: Mapping[str, Any], body: memoryview
    ) -> Contribution:
        params = plan.params
        primes = key_primes(params)
        n = params.POLY_MODULUS_DEGREE
        levels = len(params.DATA_PRIMES)
        elements = galois_elements(params)
        if f.int_list("galois", 1, 2 * n, 64) != elements:
            raise FormatError(f"contribution: Galois elements must be {elements}")
        recipients = [e.trustee_id for e in plan.roster if e.trustee_id != sender]
        if f.str_list("recipients", 255) != recipients:
            raise FormatError("contribution: recipients must be every other trustee, by index")
        index = plan.entry(sender).index
        commitments: tuple[bytes, ...] = ()
        if plan.prss:
            led = led_sets(plan.n, plan.threshold, index)
            listed = f.str_list("prss")
            if len(listed) != len(led):
                raise FormatError(
                    f"contribution: {len(listed)} PRSS-key commitments, expected one per set "
                    f"the sender leads ({len(led)})"
                )
            commitments = tuple(_commitment_hex(c) for c in listed)
        sizes = {r: sealed_bytes(plan, index, plan.entry(r).index) for r in recipients}
        polys = (1 + 2 * levels + len(elements) * levels) * len(primes) * n * 8
        want = polys + sum(sizes.values())
        if len(body) != want:
            raise FormatError(f"contribution: body has {len(body)} bytes, expected {want}")
        what = f"contribution of {sender!r}"
        pk, at = _decode(body, 0, (len(primes), n), primes, what)
        h0, at = _decode(body, at, (levels, len(primes), n), primes, what)
        h1, at = _decode(body, at, (levels, len(primes), n), primes, what)
        galois, at = _decode(body, at, (len(elements), levels, len(primes), n), primes, what)
        sealed = {}
        for r in recipients:
            sealed[r] = bytes(body[at : at + sizes[r]])
            at += sizes[r]
        return cls(pk, h0, h1, galois, sealed, commitments)


def _commitment_hex(value: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32 or raw.hex() != value:
        raise FormatError("contribution: a PRSS-key commitment is 32 bytes of lower-case hex")
    return raw


@dataclass(frozen=True, slots=True, eq=False)
class Response:
    kind = "response"
    degree: U64 = field(repr=False)
    """D_{b,i} = m_{b,i} + r_b·f_i: ``[b][coefficient][data prime][coeff]``, b < 2."""
    relin_h0: U64 = field(repr=False)
    """RKG round 2 (h0'_i), ``[j][key prime][coeff]``."""
    relin_h1: U64 = field(repr=False)

    def parts(self, plan: CeremonyPlan, sender: str) -> tuple[dict[str, Any], bytes]:
        header = {"degree_terms": plan.threshold}
        body = _encode(self.degree) + _encode(self.relin_h0) + _encode(self.relin_h1)
        return header, body

    @classmethod
    def parse(
        cls, plan: CeremonyPlan, sender: str, f: Fields, header: Mapping[str, Any], body: memoryview
    ) -> Response:
        params = plan.params
        primes = key_primes(params)
        n = params.POLY_MODULUS_DEGREE
        levels = len(params.DATA_PRIMES)
        if f.integer("degree_terms", 1, 255) != plan.threshold:
            raise FormatError("response: the degree-check polynomials have t coefficients")
        want = (2 * plan.threshold * levels + 2 * levels * len(primes)) * n * 8
        if len(body) != want:
            raise FormatError(f"response: body has {len(body)} bytes, expected {want}")
        what = f"response of {sender!r}"
        degree, at = _decode(body, 0, (2, plan.threshold, levels, n), params.DATA_PRIMES, what)
        h0, at = _decode(body, at, (levels, len(primes), n), primes, what)
        h1, at = _decode(body, at, (levels, len(primes), n), primes, what)
        return cls(degree, h0, h1)


@dataclass(frozen=True, slots=True)
class Accusation:
    trustee_id: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"trustee_id": self.trustee_id, "reason": self.reason}


@dataclass(frozen=True, slots=True, eq=False)
class Confirmation:
    kind = "confirmation"
    verdict: str
    """"ack" or "complaint"."""
    key_id: str = ""
    evaluation_keys: str = ""
    test_partial: U64 | None = field(default=None, repr=False)
    """From the test set only: λ_k·c1·S_k + e_k at the release level, ``[prime][coeff]``."""
    accused: tuple[Accusation, ...] = ()

    def parts(self, plan: CeremonyPlan, sender: str) -> tuple[dict[str, Any], bytes]:
        partial = self.test_partial
        header = {
            "verdict": self.verdict,
            "key_id": self.key_id,
            "evaluation_keys": self.evaluation_keys,
            "test_level": 0 if partial is None else partial.shape[0],
            "accused": [a.to_json() for a in self.accused],
        }
        return header, b"" if partial is None else _encode(partial)

    @classmethod
    def parse(
        cls, plan: CeremonyPlan, sender: str, f: Fields, header: Mapping[str, Any], body: memoryview
    ) -> Confirmation:
        params = plan.params
        verdict = f.string("verdict", 16)
        level = f.integer("test_level", 0, len(params.DATA_PRIMES))
        accused_json = header["accused"]
        if not isinstance(accused_json, list) or len(accused_json) > plan.n:
            raise FormatError("confirmation: accused must be a list")
        accused = []
        for obj in accused_json:
            if not isinstance(obj, dict):
                raise FormatError("confirmation: an accusation is an object")
            af = Fields(obj, "confirmation accusation", {"trustee_id", "reason"})
            who = af.string("trustee_id", 64)
            plan.entry(who)
            if who == sender:
                raise FormatError("confirmation: a trustee does not accuse itself")
            accused.append(Accusation(who, af.string("reason", MAX_REASON)))
        if len({a.trustee_id for a in accused}) != len(accused):
            raise FormatError("confirmation: each trustee is accused at most once")
        in_test_set = plan.entry(sender).index in plan.test_set
        if verdict == "ack":
            if accused:
                raise FormatError("confirmation: an ack accuses nobody")
            key_id = f.hex("key_id", 32).hex()
            evaluation = f.hex("evaluation_keys", 32).hex()
            if level != (params.RELEASE_LEVEL if in_test_set else 0):
                raise FormatError(
                    "confirmation: the test set's acks carry a test partial at the release "
                    "level, the others none"
                )
        elif verdict == "complaint":
            if not accused or f.string("key_id") or f.string("evaluation_keys") or level:
                raise FormatError(
                    "confirmation: a complaint accuses someone and carries no keys or partial"
                )
            key_id = evaluation = ""
        else:
            raise FormatError(f"confirmation: verdict must be ack or complaint, not {verdict!r}")
        partial = None
        if level:
            n = params.POLY_MODULUS_DEGREE
            if len(body) != level * n * 8:
                raise FormatError(f"confirmation: test partial has {len(body)} bytes")
            partial, _ = _decode(body, 0, (level, n), params.moduli(level), "test partial")
        elif len(body):
            raise FormatError("confirmation: unexpected body")
        return cls(verdict, key_id, evaluation, partial, tuple(accused))


@dataclass(frozen=True, slots=True)
class Completion:
    kind = "completion"
    key_id: str
    """The key id (hex) of the public context the transcript assembles."""
    evaluation_keys: str
    """The digest (hex) of the evaluation keys the transcript assembles."""
    prss: str = ""
    """In a PRSS ceremony: ``prss_dealing.commitments_digest`` of every set's PRSS-key
    commitment (hex); else empty."""

    def parts(self, plan: CeremonyPlan, sender: str) -> tuple[dict[str, Any], bytes]:
        header = {"key_id": self.key_id, "evaluation_keys": self.evaluation_keys}
        if plan.prss:
            header["prss"] = self.prss
        elif self.prss:
            raise FormatError("completion: a ceremony without PRSS keys names no commitments")
        return header, b""

    @classmethod
    def parse(
        cls, plan: CeremonyPlan, sender: str, f: Fields, header: Mapping[str, Any], body: memoryview
    ) -> Completion:
        _no_body("completion", body)
        prss = f.hex("prss", 32).hex() if plan.prss else ""
        return cls(f.hex("key_id", 32).hex(), f.hex("evaluation_keys", 32).hex(), prss)


@dataclass(frozen=True, slots=True)
class Reveal:
    kind = "reveal"
    seed: bytes = field(repr=False)

    def parts(self, plan: CeremonyPlan, sender: str) -> tuple[dict[str, Any], bytes]:
        return {"seed": self.seed.hex()}, b""

    @classmethod
    def parse(
        cls, plan: CeremonyPlan, sender: str, f: Fields, header: Mapping[str, Any], body: memoryview
    ) -> Reveal:
        _no_body("reveal", body)
        return cls(f.hex("seed", 32))


Payload = Hello | Contribution | Response | Confirmation | Completion | Reveal
_PAYLOADS: dict[str, type[Payload]] = {
    "hello": Hello,
    "contribution": Contribution,
    "response": Response,
    "confirmation": Confirmation,
    "completion": Completion,
    "reveal": Reveal,
}
_COMMON = {"kind", "plan", "trustee_id", "round", "previous"}
_PRSS_FIELDS = {"contribution": {"prss"}, "completion": {"prss"}}
"""The fields a PRSS ceremony's (version 3) messages add."""
_FIELDS = {
    "hello": {"transport_key"},
    "contribution": {"galois", "recipients"},
    "response": {"degree_terms"},
    "confirmation": {"verdict", "key_id", "evaluation_keys", "test_level", "accused"},
    "completion": {"key_id", "evaluation_keys"},
    "reveal": {"seed"},
}


# -- the signed envelope ------------------------------------------------------------------
@dataclass(frozen=True, slots=True, eq=False)
class SignedMessage:
    """One signed ceremony message. Build with :meth:`sign`, parse with :meth:`from_bytes`."""

    plan: str
    trustee_id: str
    previous: str
    payload: Payload
    unsigned: bytes = field(repr=False)
    """The record without its signature (what the digest names)."""
    signature: bytes = field(repr=False)

    @property
    def kind(self) -> str:
        return self.payload.kind

    @property
    def round(self) -> int:
        return KINDS[self.payload.kind]

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the record without its signature."""
        return hashlib.sha256(self.unsigned).hexdigest()

    def signed_message(self) -> bytes:
        return DKG_SIGN_DOMAIN + hashlib.sha256(self.unsigned).digest()

    def to_bytes(self) -> bytes:
        return self.unsigned + self.signature

    @staticmethod
    def unsigned_record(
        plan: CeremonyPlan, trustee_id: str, previous: str, payload: Payload
    ) -> bytes:
        """The record of ``payload`` from ``trustee_id``, without the signature trailer."""
        extra, body = payload.parts(plan, trustee_id)
        header = extra | {
            "kind": payload.kind,
            "plan": plan.digest,
            "trustee_id": trustee_id,
            "round": KINDS[payload.kind],
            "previous": previous,
        }
        return pack_record(MESSAGE_MAGIC, message_version(plan), header, body)

    @classmethod
    def sign(
        cls,
        plan: CeremonyPlan,
        trustee_id: str,
        identity: Identity,
        previous: str,
        payload: Payload,
    ) -> SignedMessage:
        """The sender's message: ``identity`` must be its roster key."""
        entry = plan.entry(trustee_id)
        if entry.public_key != identity.public_key:
            raise MismatchError(f"the identity is not {trustee_id!r}'s roster key")
        unsigned = cls.unsigned_record(plan, trustee_id, previous, payload)
        signature = identity.sign(DKG_SIGN_DOMAIN + hashlib.sha256(unsigned).digest())
        return cls(plan.digest, trustee_id, previous, payload, unsigned, signature)

    @classmethod
    def from_bytes(cls, raw: bytes, plan: CeremonyPlan) -> SignedMessage:
        """Parse and check a message of ``plan``'s ceremony, its signature included."""
        if len(raw) < 14 + SIGNATURE_BYTES:
            raise FormatError(f"ceremony message: truncated ({len(raw)} bytes)")
        unsigned, signature = bytes(raw[:-SIGNATURE_BYTES]), bytes(raw[-SIGNATURE_BYTES:])
        version = message_version(plan)
        header, body = unpack_record(unsigned, MESSAGE_MAGIC, version, "ceremony message")
        kind = header.get("kind")
        if kind not in _PAYLOADS:
            raise FormatError(f"ceremony message: unknown kind {kind!r}")
        extra = _PRSS_FIELDS.get(kind, set()) if plan.prss else set()
        f = Fields(header, f"ceremony {kind}", _COMMON | _FIELDS[kind] | extra)
        if f.hex("plan", 32).hex() != plan.digest:
            raise MismatchError(f"ceremony {kind}: message of another ceremony plan")
        trustee_id = f.string("trustee_id", 64)
        entry = plan.entry(trustee_id)
        if f.integer("round", 1, len(KINDS)) != KINDS[kind]:
            raise FormatError(f"ceremony {kind}: round must be {KINDS[kind]}")
        previous = f.hex("previous", 32).hex()
        payload = _PAYLOADS[kind].parse(plan, trustee_id, f, header, body)
        message = cls(plan.digest, trustee_id, previous, payload, unsigned, signature)
        entry.public_key.verify(signature, message.signed_message(), f"{kind} of {trustee_id!r}")
        return message
