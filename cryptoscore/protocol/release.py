"""The two-round release as pure state machines, driven by the service, answered by trustees.

:class:`BundleRelease` is round 1 of one bundle (contributions, noise checks, then the
validity aggregate V); :class:`SubmissionRelease` is round 2 (the score with the challenge's
policy) of a valid submission against valid labels (docs/design.md, "Two-round release").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cryptoscore.errors import MismatchError, RefusedError, StepError
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution, derive_seed, round1_seed
from cryptoscore.protocol.recompute import noise_check_passed, pad_set, validity_passed
from cryptoscore.protocol.requests import Circuit, DecryptionRequest, Round1Evidence
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.circuits import score
from cryptoscore.scoring.noise_check import noise_check
from cryptoscore.scoring.validity import validity
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.combine import combine
from cryptoscore.threshold.partial import PartialDecryption

SubmissionState = Literal["round1", "invalid", "scoring", "released"]


# -- the state machines the service drives -------------------------------------------------------
BundleState = Literal["awaiting-contributions", "sanitizing", "validating", "valid", "invalid"]
"""``sanitizing``: noise checks asked; ``validating``: they passed, V asked."""


@dataclass
class BundleRelease:
    """Round 1 for one bundle. The service persists it and feeds it trustees' messages.

    The active set is the bundle's pad set (:func:`pad_set`): only those trustees contribute
    and answer, so every polynomial of the bundle's lineage is touched under one Lagrange
    coefficient per trustee (``threshold/lineage.py``). ``active_set``, if given, must be that set.
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
            raise RefusedError(
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
            raise StepError("round 1 has not started: no active set yet")
        return self.active_set

    def needs_contributions(self) -> bool:
        threshold = self.context.record.threshold
        return self.state == "awaiting-contributions" and len(self.contributions) < threshold

    def add_contribution(self, contribution: Contribution) -> None:
        if self.state != "awaiting-contributions":
            raise StepError(f"round 1 is {self.state}: contributions are closed")
        if contribution.trustee_id not in self._trustee_ids():
            raise MismatchError(f"{contribution.trustee_id!r} may not contribute to this round")
        if contribution.trustee_id in self.contributions:
            raise StepError(f"{contribution.trustee_id!r} already contributed")
        if not self.needs_contributions():
            raise StepError("round 1 already has t contributions")
        self.contributions[contribution.trustee_id] = contribution

    def start(self, request_prefix: str) -> list[DecryptionRequest]:
        """Service: once every active trustee contributed, ask for the noise checks of every
        input ciphertext (V comes after they pass: :meth:`finish_noise`)."""
        if self.state != "awaiting-contributions":
            raise StepError(f"round 1 is already {self.state}")
        if self.active_set is None:
            if self.needs_contributions():
                raise StepError("waiting for t trustee contributions")
            self.active_set = ActiveSet.of(self.context.record, list(self.contributions))
        missing = set(self._trustee_ids()) - set(self.contributions)
        if missing:
            raise StepError(f"waiting for contributions from {sorted(missing)}")
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
            raise StepError("no open round-1 request for this partial")
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
            raise StepError("the noise checks still wait for partial decryptions")
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
            raise StepError("round 1 decides the noise checks first (finish_noise)")
        if self.state != "validating" or not self.ready():
            raise StepError("round 1 still waits for partial decryptions")
        (request_id,) = [r for r, q in self.requests.items() if q.circuit == "validity/v1"]
        parts = list(self.partials[request_id].values())
        valid = validity_passed(
            self.ciphertexts[request_id], parts, self.context.record, request_id, self.active
        )
        self.reason = "" if valid else "not a 0/1 (one-hot) encoding"
        self.state = "valid" if valid else "invalid"
        return valid


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
            raise RefusedError(
                f"the submission is {self.predictions.state}: nothing of it is decrypted"
            )
        if self.labels.state != "valid":
            raise StepError("the labels have not passed round 1")
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
            raise StepError("no open round-2 request")
        if partial.request_id != self.request.request_id:
            raise MismatchError("the partial answers another request")
        self.partials[partial.trustee_id] = partial

    def finish(self) -> dict[str, int]:
        if self.request is None or self.aggregate is None:
            raise StepError("round 2 has not started")
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
