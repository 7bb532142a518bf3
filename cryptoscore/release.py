"""The two-round release, as a pure state machine, and the trustee's recompute-before-decrypt.

Every uploaded bundle (a submission, or the organizer's labels) goes through **round 1**
before anything computed from it is released; a valid submission then goes through **round 2**
(DESIGN.md, "Noise" and "Threshold decryption"):

round 1 — sanitize (:class:`BundleRelease`, roles: service drives, trustees answer)
    1. The bundle is fixed (its digest is logged). The t trustees of its pads' active set
       (the bundle carries its pad request) each contribute 32 random bytes
       (:func:`contribute`); they, and only they, answer its round 1 (``lineage.py``).
    2. The round-1 seed is SHA-256 over the bundle digest and all contributions, so nobody —
       the submitter least of all — knows it before the bundle is fixed.
    3. First, for every input ciphertext, the noise check (``sanitize.py``; masked
       partials). A bundle with any residual noise above ``noise_check_threshold`` is invalid
       and nothing else of it is ever decrypted.
    4. Only then the validity aggregate V (``validity.py``; weights from the seed). V
       multiplies the inputs, so its noise carries products of a submitter's (known) noise
       with the trustees' pad errors; decrypting it before the inputs' noise is bounded would
       let a large crafted noise expose those errors, and with them the key (SECURITY.md).
    5. The bundle is valid iff every V_j is 0. The combiner learns nothing else: V's values
       are 0 for valid bundles and the noise checks' plaintexts are uniformly masked.

round 2 — release (:class:`SubmissionRelease`)
    The score circuit on (valid submission, valid labels) with the challenge's published
    policy; the combiner learns the policy's aggregates only.

A trustee (:func:`answer_request`) answers a :class:`DecryptionRequest` only after
recomputing the named ciphertext itself from the named inputs with a circuit the challenge
publishes (validity and noise checks for round 1, the score with the challenge's policy for
round 2),
optionally re-randomized with a published seed; anything else — a raw submission, a label
ciphertext, another policy, a ciphertext that does not match — is refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Mapping, MutableSet, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .aggregate import AggregateCiphertext
from .bundle import EncryptedBundle
from .ceremony import CeremonyRecord, KeyShare
from .circuits import score
from .encoding import Layout
from .errors import FormatError, MismatchError, PolicyError
from .identity import TrusteeIdentity
from .keys import EvaluationKeys, PublicContext
from .lineage import LineageClaim, bundle_claim, score_claim
from .pads import SEED_BYTES, PadErrors, PadKey, PadRequest, PadShare
from .pads import answer_pad_request as _answer_pad_request
from .policy import ReleasePolicy
from .records import Fields, pack_record, unpack_record
from .sanitize import noise_check, noise_check_threshold
from .threshold import (
    ActiveSet,
    PadComplement,
    PartialDecryption,
    PartialJournal,
    combine,
    partial_decrypt,
    rerandomize,
)
from .validity import is_valid, validity

__all__ = [
    "BundleRelease",
    "ChallengeContext",
    "Contribution",
    "DecryptionRequest",
    "Round1Evidence",
    "SubmissionRelease",
    "answer_pad_request",
    "answer_request",
    "check_round1",
    "contribute",
    "evidence_needed",
    "lineage_claim",
    "noise_check_passed",
    "pad_set",
    "validity_passed",
]

REQUEST_MAGIC = b"CSDECREQ"
FORMAT_VERSION = 1
Circuit = Literal["validity/v1", "noise/v1", "score/v1"]
_CIRCUITS = ("validity/v1", "noise/v1", "score/v1")


@dataclass(frozen=True, slots=True)
class ChallengeContext:
    """What a challenge publishes and every party uses to recompute circuits."""

    challenge_id: str
    record: CeremonyRecord
    public: PublicContext
    evaluation: EvaluationKeys
    policy: ReleasePolicy
    n: int

    def __post_init__(self) -> None:
        self.record.check_keys(self.public, self.evaluation)
        self.public.params.check_count(self.n, "number of items")

    @property
    def layout(self) -> Layout:
        return Layout.for_params(self.public.params, self.n, self.policy.classes)

    def check_bundle(self, bundle: EncryptedBundle, kind: str) -> None:
        """Refuse a bundle of the wrong kind, key, challenge, size — or one whose submitter
        chose c1 (public-key encryption): threshold challenges take seeded bundles only."""
        bundle.expect(
            kind=kind,  # type: ignore[arg-type]
            params=self.public.params,
            key_id=self.public.key_id,
            challenge=self.challenge_id,
            classes=self.policy.classes,
            n=self.n,
        )
        if not bundle.header.seeded:
            raise MismatchError(
                "threshold challenges accept only bundles encrypted with trustee pads (c1 from "
                "a public seed); a bundle whose submitter chose c1 could make the secret key "
                "part of its noise (SECURITY.md)"
            )

    def pad_request(
        self, kind: str, key: PadKey, active_set: ActiveSet, seed: bytes | None = None
    ) -> PadRequest:
        """Submitter: the pad request for a ``kind`` bundle of this challenge (fresh seed)."""
        request = PadRequest(
            challenge_id=self.challenge_id,
            kind=kind,
            params=self.public.params,
            key_id=self.public.key_id,
            seed=seed if seed is not None else os.urandom(SEED_BYTES),
            count=self.layout.ciphertexts,
            active_set=active_set.indices,
            recipient=key.public_bytes,
        )
        self.check_pad_request(request)
        return request

    def check_pad_request(self, request: PadRequest) -> None:
        """Service and trustee: the request is for this challenge's key and bundle size."""
        if request.challenge_id != self.challenge_id:
            raise MismatchError(f"pad request is for challenge {request.challenge_id!r}")
        if request.params is not self.public.params or request.key_id != self.public.key_id:
            raise MismatchError("pad request is for another key or parameter set")
        if request.count != self.layout.ciphertexts:
            raise MismatchError(
                f"pad request asks for {request.count} pads, a bundle of this challenge has "
                f"{self.layout.ciphertexts} ciphertexts"
            )
        ActiveSet(request.active_set).check(self.record)


@dataclass(frozen=True, slots=True)
class Contribution:
    """A trustee's round-1 input: 32 random bytes for the validity weights."""

    trustee_id: str
    randomness: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.randomness) != 32:
            raise FormatError("a round-1 contribution carries 32 random bytes")


def contribute(context: ChallengeContext, trustee_id: str) -> Contribution:
    """Trustee: fresh randomness from ``os.urandom``."""
    context.record.entry(trustee_id)
    return Contribution(trustee_id, os.urandom(32))


def round1_seed(bundle_digest: str, contributions: Sequence[Contribution]) -> bytes:
    h = hashlib.sha256(b"cryptoscore/round1-seed/v1\x00" + bytes.fromhex(bundle_digest))
    for c in sorted(contributions, key=lambda c: c.trustee_id):
        h.update(c.trustee_id.encode() + b"\x00" + c.randomness)
    return h.digest()


def derive_seed(seed: bytes, purpose: bytes) -> bytes:
    return hashlib.sha256(b"cryptoscore/" + purpose + b"/v1\x00" + seed).digest()


@dataclass(frozen=True, slots=True)
class DecryptionRequest:
    """What the service asks a trustee to decrypt (record magic ``CSDECREQ``)."""

    request_id: str
    challenge_id: str
    circuit: Circuit
    inputs: tuple[str, ...]
    """Bundle digests: predictions and labels (score) or the one bundle (round 1)."""
    seed: bytes
    """Validity weights seed; empty for the other circuits."""
    rerandomize_seed: bytes
    """Empty, or the seed of the encryption of zero added before decryption."""
    active_set: ActiveSet
    ciphertext_digest: str
    """SHA-256 of the canonical ciphertext to decrypt (what trustees must recompute)."""
    index: int = 0
    """Noise check: which ciphertext of the bundle; 0 for the other circuits."""

    def __post_init__(self) -> None:
        if self.circuit not in _CIRCUITS:
            raise PolicyError(f"no published circuit {self.circuit!r}: refusing to decrypt")
        if self.index < 0 or (self.index and self.circuit != "noise/v1"):
            raise FormatError("only a noise-check request names a ciphertext index")

    def to_bytes(self) -> bytes:
        return pack_record(
            REQUEST_MAGIC,
            FORMAT_VERSION,
            {
                "request_id": self.request_id,
                "challenge": self.challenge_id,
                "circuit": self.circuit,
                "inputs": list(self.inputs),
                "seed": self.seed.hex(),
                "rerandomize_seed": self.rerandomize_seed.hex(),
                "active_set": list(self.active_set.indices),
                "ciphertext": self.ciphertext_digest,
                "index": self.index,
            },
        )

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DecryptionRequest:
        header, body = unpack_record(raw, REQUEST_MAGIC, FORMAT_VERSION, "decryption request")
        if len(body):
            raise FormatError("decryption request: unexpected bytes after the header")
        f = Fields(
            header,
            "decryption request",
            {
                "request_id",
                "challenge",
                "circuit",
                "inputs",
                "seed",
                "rerandomize_seed",
                "active_set",
                "ciphertext",
                "index",
            },
        )
        circuit = f.string("circuit")
        if circuit not in _CIRCUITS:
            raise PolicyError(f"no published circuit {circuit!r}: refusing to decrypt")
        seeds = []
        for key in ("seed", "rerandomize_seed"):
            text = f.string(key, 64)
            seeds.append(f.hex(key, 32) if text else b"")
        return cls(
            request_id=f.string("request_id", 128),
            challenge_id=f.string("challenge", 128),
            circuit=circuit,  # type: ignore[arg-type]
            inputs=tuple(f.str_list("inputs", 64)),
            seed=seeds[0],
            rerandomize_seed=seeds[1],
            active_set=ActiveSet(tuple(f.int_list("active_set", 1, 255, 255))),
            ciphertext_digest=f.hex("ciphertext", 32).hex(),
            index=f.integer("index", 0, 1 << 40),
        )


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
        return _input(bundles, digest)

    if request.circuit == "score/v1":
        if len(request.inputs) != 2 or request.seed:
            raise FormatError("a score request names predictions and labels, and no seed")
        preds, labels = bundle(request.inputs[0]), bundle(request.inputs[1])
        context.check_bundle(preds, "predictions")
        context.check_bundle(labels, "labels")
        out = score(preds, labels, context.policy, context.evaluation, progress=progress)
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


def noise_check_passed(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> bool:
    """Combiner, trustee, auditor: the partials of a noise check combine to a residual
    within :func:`~cryptoscore.sanitize.noise_check_threshold` (partials verified first)."""
    out = combine(aggregate, list(partials), record, request_id, active_set, measure_noise=True)
    _, threshold = noise_check_threshold(aggregate.params, len(active_set.indices))
    return out.max_noise is not None and out.max_noise <= threshold


def validity_passed(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> bool:
    """Combiner, trustee, auditor: the partials of V combine to all zeros."""
    return is_valid(combine(aggregate, list(partials), record, request_id, active_set).values)


ROUND1_NEEDED: Mapping[str, bool] = {"validity/v1": False, "score/v1": True}
"""Circuits that multiply their inputs' ciphertexts, and whether a trustee must see the
inputs' whole round 1 (True: noise checks and V) or the noise checks only (False)."""


def evidence_needed(request: DecryptionRequest) -> tuple[str, ...]:
    """The bundles whose round-1 evidence a trustee needs to answer ``request``."""
    return request.inputs if request.circuit in ROUND1_NEEDED else ()


@dataclass(frozen=True)
class Round1Evidence:
    """A bundle's round-1 messages, as a trustee checks them before answering a request that
    multiplies the bundle's ciphertexts (V, or a score): the contributions, the round-1
    requests and every partial answering them."""

    bundle_digest: str
    contributions: tuple[Contribution, ...]
    requests: tuple[DecryptionRequest, ...]
    partials: Mapping[str, Sequence[PartialDecryption]] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """``{"bundle", "contributions": [{"trustee", "randomness"}], "requests": [base64],
        "partials": {request id: [base64]}}`` (records as ``to_bytes``)."""
        return {
            "bundle": self.bundle_digest,
            "contributions": [
                {"trustee": c.trustee_id, "randomness": c.randomness.hex()}
                for c in self.contributions
            ],
            "requests": [base64.b64encode(r.to_bytes()).decode() for r in self.requests],
            "partials": {
                rid: [base64.b64encode(p.to_bytes()).decode() for p in parts]
                for rid, parts in self.partials.items()
            },
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Round1Evidence:
        """Parse untrusted evidence; every record is parsed and validated."""

        def record(text: Any) -> bytes:
            return base64.b64decode(str(text), validate=True)

        shapes = (("contributions", list), ("requests", list), ("partials", dict))
        if not isinstance(obj, Mapping) or any(
            not isinstance(obj.get(key), kind) for key, kind in shapes
        ):
            raise FormatError(
                "round-1 evidence: expected contributions, requests (lists) and "
                "partials (an object)"
            )
        try:
            return cls(
                bundle_digest=str(obj["bundle"]),
                contributions=tuple(
                    Contribution(str(c["trustee"]), bytes.fromhex(str(c["randomness"])))
                    for c in obj["contributions"]
                ),
                requests=tuple(DecryptionRequest.from_bytes(record(r)) for r in obj["requests"]),
                partials={
                    str(rid): tuple(PartialDecryption.from_bytes(record(p)) for p in parts)
                    for rid, parts in obj["partials"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FormatError(f"round-1 evidence: malformed ({type(exc).__name__})") from None


def check_round1(
    context: ChallengeContext,
    bundle: EncryptedBundle,
    evidence: Round1Evidence,
    *,
    validity_too: bool,
) -> None:
    """Trustee: verify from signed partials that ``bundle`` passed its noise checks (and, with
    ``validity_too``, its validity aggregate); raise :class:`PolicyError` otherwise.

    Everything is recomputed from the bundle: each noise-check ciphertext, the validity seed
    from the contributions, V itself; every partial is verified against the roster and
    combined as the combiner would. A service cannot make a trustee decrypt V before the
    noise checks passed, nor a score of a bundle that did not pass round 1.
    """
    if evidence.bundle_digest != bundle.digest:
        raise MismatchError("the round-1 evidence is for another bundle")
    record = context.record
    contributors = [c.trustee_id for c in evidence.contributions]
    if len(set(contributors)) != record.threshold:
        raise PolicyError("the round-1 evidence does not carry t distinct contributions")
    active = ActiveSet.of(record, contributors)
    if active != pad_set(bundle):
        raise PolicyError("round-1 evidence: round 1 was not answered by the bundle's pad set")
    seed = round1_seed(bundle.digest, list(evidence.contributions))
    noise: dict[int, DecryptionRequest] = {}
    validity_requests = []
    for req in evidence.requests:
        if req.inputs != (bundle.digest,) or req.active_set != active:
            raise PolicyError(f"round-1 evidence: {req.request_id} is not this bundle's round 1")
        if req.circuit == "noise/v1":
            noise[req.index] = req
        elif req.circuit == "validity/v1":
            validity_requests.append(req)
    if sorted(noise) != list(range(bundle.layout.ciphertexts)):
        raise PolicyError("round-1 evidence lacks a noise check of every ciphertext")
    for index, req in sorted(noise.items()):
        agg = noise_check(bundle, index)
        if agg.ciphertext_digest != req.ciphertext_digest:
            raise PolicyError(f"round-1 evidence: {req.request_id} names another ciphertext")
        parts = evidence.partials.get(req.request_id, ())
        if not noise_check_passed(agg, parts, record, req.request_id, active):
            raise PolicyError(
                f"the bundle's noise check {index} did not pass: nothing that multiplies its "
                "ciphertexts is decrypted"
            )
    if not validity_too:
        return
    if len(validity_requests) != 1:
        raise PolicyError("round-1 evidence lacks the validity aggregate")
    (req,) = validity_requests
    if req.seed != derive_seed(seed, b"validity"):
        raise PolicyError("round-1 evidence: the validity seed is not the contributions' one")
    agg = validity(bundle, req.seed, context.evaluation)
    if agg.ciphertext_digest != req.ciphertext_digest:
        raise PolicyError(f"round-1 evidence: {req.request_id} names another ciphertext")
    parts = evidence.partials.get(req.request_id, ())
    if not validity_passed(agg, parts, record, req.request_id, active):
        raise PolicyError("the bundle failed its validity check: it is never scored")


def _input(bundles: Mapping[str, EncryptedBundle], digest: str) -> EncryptedBundle:
    try:
        found = bundles[digest]
    except KeyError:
        raise MismatchError(f"input {digest[:16]}… is not available") from None
    if found.digest != digest:
        raise MismatchError("an input bundle does not match its digest")
    return found


def pad_set(bundle: EncryptedBundle) -> ActiveSet:
    """The active set of the pads that encrypted ``bundle``: the only set that answers its
    round 1 (``lineage.py``). Threshold challenges accept pad-seeded bundles only."""
    pad = bundle.header.pad_request
    if pad is None:
        raise PolicyError("threshold decryption answers pad-seeded bundles only")
    return ActiveSet(pad.active_set)


def lineage_claim(
    request: DecryptionRequest, bundles: Mapping[str, EncryptedBundle]
) -> LineageClaim:
    """Trustee, auditor: the lineage slot ``request`` touches (``lineage.py``).

    Round 1 (noise checks, V) of a bundle touches the bundle's pad lineage, and must name the
    pad's own active set — checked here, statelessly, so a request routed to any other set
    is refused before anything else; the journal then pins the set and spends the slot."""
    if request.circuit == "score/v1":
        if len(request.inputs) != 2:
            raise FormatError("a score request names predictions and labels")
        seeds = [_input(bundles, d).header.c1_seed for d in request.inputs]
        if seeds[0] is None or seeds[1] is None:
            raise PolicyError("threshold decryption answers pad-seeded bundles only")
        return score_claim(seeds[0], seeds[1], request.active_set.indices)
    if len(request.inputs) != 1:
        raise FormatError(f"a {request.circuit} request names one bundle")
    bundle = _input(bundles, request.inputs[0])
    pads = pad_set(bundle)
    if request.active_set != pads:
        raise PolicyError(
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
) -> PartialDecryption:
    """Trustee: check round 1 where needed, recompute, compare, then (once per ciphertext)
    partially decrypt.

    A validity request needs ``evidence`` (by bundle digest) that the bundle's noise checks
    passed; a score request, that both bundles passed round 1 (:func:`check_round1`).
    ``verified`` remembers (bundle digest, validity too) pairs already checked, so a trustee
    checks the labels' round 1 once, not for every submission.
    ``progress`` is called with the number of chunks recomputed so far (for a progress bar).

    The lineage rules (``lineage.py``) are checked first, against the journal, read-only: a
    request on a lineage this trustee answered under another active set, or for a slot it
    already answered, is refused before any work; ``partial_decrypt`` checks again
    atomically and spends the slot before the share is read.
    """
    claim = lineage_claim(request, bundles)
    journal.check(claim)
    for digest in evidence_needed(request):
        key = (digest, ROUND1_NEEDED[request.circuit])
        if verified is not None and key in verified:
            continue
        found = (evidence or {}).get(digest)
        if found is None:
            raise PolicyError(
                f"{request.circuit} multiplies the ciphertexts of {digest[:16]}…: answered "
                "only with that bundle's round-1 evidence"
            )
        if digest not in bundles:
            raise MismatchError(f"input {digest[:16]}… is not available")
        check_round1(context, bundles[digest], found, validity_too=key[1])
        if verified is not None:
            verified.add(key)
    if request.circuit == "validity/v1":
        found = (evidence or {}).get(request.inputs[0])
        contributions = list(found.contributions) if found is not None else []
        if request.seed != derive_seed(round1_seed(request.inputs[0], contributions), b"validity"):
            raise PolicyError("the validity seed is not the one the round-1 contributions give")
    aggregate = recompute(request, context, bundles, progress=progress)
    if aggregate.ciphertext_digest != request.ciphertext_digest:
        raise PolicyError(
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
        pad=_noise_pad(request, bundles, share),
    )


def _noise_pad(
    request: DecryptionRequest, bundles: Mapping[str, EncryptedBundle], share: KeyShare
) -> PadComplement | None:
    """What a noise check is answered against (``threshold.partial_decrypt``)."""
    if request.circuit != "noise/v1":
        return None
    pad = _input(bundles, request.inputs[0]).header.pad_request
    if pad is None:
        raise PolicyError("threshold decryption answers pad-seeded bundles only")
    index = request.index
    return PadComplement(
        pad.active_set, pad.lineage, pad.key_id, index, lambda: PadErrors(share, pad).of(index)
    )


# -- the state machines the service drives -------------------------------------------------------
BundleState = Literal["awaiting-contributions", "sanitizing", "validating", "valid", "invalid"]
"""``sanitizing``: noise checks asked; ``validating``: they passed, V asked."""


@dataclass
class BundleRelease:
    """Round 1 for one bundle. The service persists it and feeds it trustees' messages.

    The active set is the bundle's pad set (:func:`pad_set`): only those trustees contribute
    and answer, so every polynomial of the bundle's lineage is touched under one Lagrange
    coefficient per trustee (``lineage.py``). ``active_set``, if given, must be that set.
    """

    context: ChallengeContext
    bundle: EncryptedBundle
    active_set: ActiveSet | None = None
    state: BundleState = "awaiting-contributions"
    contributions: dict[str, Contribution] = field(default_factory=dict)
    requests: dict[str, DecryptionRequest] = field(default_factory=dict)
    ciphertexts: dict[str, AggregateCiphertext] = field(default_factory=dict, repr=False)
    partials: dict[str, dict[str, PartialDecryption]] = field(default_factory=dict, repr=False)
    reason: str = ""

    def __post_init__(self) -> None:
        self.context.check_bundle(self.bundle, self.bundle.header.kind)
        pads = pad_set(self.bundle)
        if self.active_set is not None and self.active_set != pads:
            raise PolicyError(
                f"round 1 of this bundle is answered by its pads' active set "
                f"{list(pads.indices)}, not {list(self.active_set.indices)}: re-submit with "
                "fresh pads"
            )
        pads.check(self.context.record)
        self.active_set = pads

    def _trustee_ids(self) -> list[str]:
        if self.active_set is None:
            return [e.trustee_id for e in self.context.record.roster]
        return [self.context.record.entry_by_index(i).trustee_id for i in self.active_set.indices]

    @property
    def active(self) -> ActiveSet:
        if self.active_set is None:
            raise PolicyError("round 1 has not started: no active set yet")
        return self.active_set

    def needs_contributions(self) -> bool:
        threshold = self.context.record.threshold
        return self.state == "awaiting-contributions" and len(self.contributions) < threshold

    def add_contribution(self, contribution: Contribution) -> None:
        if self.state != "awaiting-contributions":
            raise PolicyError(f"round 1 is {self.state}: contributions are closed")
        if contribution.trustee_id not in self._trustee_ids():
            raise MismatchError(f"{contribution.trustee_id!r} may not contribute to this round")
        if contribution.trustee_id in self.contributions:
            raise PolicyError(f"{contribution.trustee_id!r} already contributed")
        if not self.needs_contributions():
            raise PolicyError("round 1 already has t contributions")
        self.contributions[contribution.trustee_id] = contribution

    def start(self, request_prefix: str) -> list[DecryptionRequest]:
        """Service: once every active trustee contributed, ask for the noise checks of every
        input ciphertext (V comes after they pass: :meth:`finish_noise`)."""
        if self.state != "awaiting-contributions":
            raise PolicyError(f"round 1 is already {self.state}")
        if self.active_set is None:
            if self.needs_contributions():
                raise PolicyError("waiting for t trustee contributions")
            self.active_set = ActiveSet.of(self.context.record, list(self.contributions))
        missing = set(self._trustee_ids()) - set(self.contributions)
        if missing:
            raise PolicyError(f"waiting for contributions from {sorted(missing)}")
        for index in range(self.bundle.layout.ciphertexts):
            z = noise_check(self.bundle, index)
            rid = f"{request_prefix}:noise:{index}"
            self._add(self._request(rid, "noise/v1", z, b"", index), z)
        self.state = "sanitizing"
        return list(self.requests.values())

    def _add(self, request: DecryptionRequest, agg: AggregateCiphertext) -> None:
        self.requests[request.request_id] = request
        self.ciphertexts[request.request_id] = agg
        self.partials[request.request_id] = {}

    def validity_seed(self) -> bytes:
        return derive_seed(
            round1_seed(self.bundle.digest, list(self.contributions.values())), b"validity"
        )

    def _request(
        self, request_id: str, circuit: Circuit, agg: AggregateCiphertext, seed: bytes, index: int
    ) -> DecryptionRequest:
        return DecryptionRequest(
            request_id=request_id,
            challenge_id=self.context.challenge_id,
            circuit=circuit,
            inputs=(self.bundle.digest,),
            seed=seed,
            rerandomize_seed=b"",
            active_set=self.active,
            ciphertext_digest=agg.ciphertext_digest,
            index=index,
        )

    def add_partial(self, partial: PartialDecryption) -> None:
        if (
            self.state not in ("sanitizing", "validating")
            or partial.request_id not in self.requests
        ):
            raise PolicyError("no open round-1 request for this partial")
        self.partials[partial.request_id][partial.trustee_id] = partial

    def ready(self) -> bool:
        """Every request of the current phase has a partial from every active trustee."""
        if self.state not in ("sanitizing", "validating"):
            return False
        need = len(self.active.indices)
        return all(len(p) == need for p in self.partials.values())

    def finish_noise(self) -> list[DecryptionRequest]:
        """Combiner: decide the noise checks. Above the bound: the bundle is invalid and
        nothing more is asked (returns []). Otherwise V is computed and asked for."""
        if self.state != "sanitizing" or not self.ready():
            raise PolicyError("the noise checks still wait for partial decryptions")
        noisy = [
            request.index
            for request_id, request in self.requests.items()
            if not noise_check_passed(
                self.ciphertexts[request_id],
                list(self.partials[request_id].values()),
                self.context.record,
                request_id,
                self.active,
            )
        ]
        if noisy:
            self.reason = (
                f"ciphertext noise above the honest bound (ciphertexts {noisy[:5]}"
                f"{'…' if len(noisy) > 5 else ''})"
            )
            self.state = "invalid"
            return []
        prefix = next(iter(self.requests)).rsplit(":noise:", 1)[0]
        v_seed = self.validity_seed()
        v = validity(self.bundle, v_seed, self.context.evaluation)
        request = self._request(f"{prefix}:validity", "validity/v1", v, v_seed, 0)
        self._add(request, v)
        self.state = "validating"
        return [request]

    def evidence(self) -> Round1Evidence:
        """This round 1's messages so far, for trustees (:func:`check_round1`)."""
        return Round1Evidence(
            self.bundle.digest,
            tuple(self.contributions.values()),
            tuple(self.requests.values()),
            {rid: tuple(parts.values()) for rid, parts in self.partials.items()},
        )

    def advance(self) -> list[DecryptionRequest]:
        """Combiner, once the current phase is answered: decide it and return what to ask
        next — V after passing noise checks — or ``[]`` once round 1 is decided."""
        if self.state == "sanitizing":
            return self.finish_noise()
        self.finish()
        return []

    def finish(self) -> bool:
        """Combiner: decide V (after :meth:`finish_noise`); True iff the bundle is valid."""
        if self.state == "sanitizing":
            raise PolicyError("round 1 decides the noise checks first (finish_noise)")
        if self.state != "validating" or not self.ready():
            raise PolicyError("round 1 still waits for partial decryptions")
        (request_id,) = [r for r, q in self.requests.items() if q.circuit == "validity/v1"]
        parts = list(self.partials[request_id].values())
        valid = validity_passed(
            self.ciphertexts[request_id], parts, self.context.record, request_id, self.active
        )
        self.reason = "" if valid else "not a 0/1 (one-hot) encoding"
        self.state = "valid" if valid else "invalid"
        return valid


SubmissionState = Literal["round1", "invalid", "scoring", "released"]


@dataclass
class SubmissionRelease:
    """Round 2 for one submission, allowed only after both bundles passed round 1."""

    context: ChallengeContext
    predictions: BundleRelease
    labels: BundleRelease
    state: SubmissionState = "round1"
    request: DecryptionRequest | None = None
    aggregate: AggregateCiphertext | None = field(default=None, repr=False)
    partials: dict[str, PartialDecryption] = field(default_factory=dict, repr=False)
    released: dict[str, int] = field(default_factory=dict)

    def start(self, request_id: str, active_set: ActiveSet) -> DecryptionRequest:
        """Service: compute the policy's score and request its decryption."""
        if self.predictions.state != "valid":
            self.state = "invalid" if self.predictions.state == "invalid" else "round1"
            raise PolicyError(
                f"the submission is {self.predictions.state}: nothing of it is decrypted"
            )
        if self.labels.state != "valid":
            raise PolicyError("the labels have not passed round 1")
        active_set.check(self.context.record)
        preds, labels = self.predictions.bundle, self.labels.bundle
        agg = score(preds, labels, self.context.policy, self.context.evaluation)
        self.request = DecryptionRequest(
            request_id=request_id,
            challenge_id=self.context.challenge_id,
            circuit="score/v1",
            inputs=(preds.digest, labels.digest),
            seed=b"",
            rerandomize_seed=b"",
            active_set=active_set,
            ciphertext_digest=agg.ciphertext_digest,
        )
        self.aggregate = agg
        self.state = "scoring"
        return self.request

    def add_partial(self, partial: PartialDecryption) -> None:
        if self.state != "scoring" or self.request is None:
            raise PolicyError("no open round-2 request")
        if partial.request_id != self.request.request_id:
            raise MismatchError("the partial answers another request")
        self.partials[partial.trustee_id] = partial

    def finish(self) -> dict[str, int]:
        if self.request is None or self.aggregate is None:
            raise PolicyError("round 2 has not started")
        out = combine(
            self.aggregate,
            list(self.partials.values()),
            self.context.record,
            self.request.request_id,
            self.request.active_set,
        )
        self.released = out.values
        self.state = "released"
        return out.values


def answer_pad_request(
    request: PadRequest,
    context: ChallengeContext,
    share: KeyShare,
    identity: TrusteeIdentity,
    journal: PartialJournal,
    *,
    progress: Callable[[int], None] | None = None,
) -> PadShare:
    """Trustee: answer a pad request for this challenge (``pads.py``), once per seed."""
    context.check_pad_request(request)
    return _answer_pad_request(request, context.record, share, identity, journal, progress=progress)
