"""The two-round release as pure state machines, driven by the service, answered by trustees.

:class:`BundleRelease` is round 1 of one bundle (contributions, noise checks, then the
validity aggregate V); :class:`SubmissionRelease` is round 2 (the score with the challenge's
policy) of a valid submission against valid labels (docs/design.md, "Two-round release").

Whoever persists them (the service's database) takes a :meth:`BundleRelease.snapshot` /
:meth:`SubmissionRelease.snapshot` and gives it back to ``restore``, which checks every record
against the state it claims and re-derives every decided verdict from the partials that
decided it: nobody sets a field from outside, and no state is taken on trust.

Every decision decodes the answers of every trustee asked (``threshold/combine.decrypt_answers``):
with Shamir answers of m ≥ 2t − 1 trustees any lie of up to t − 1 of them is caught. Answers
too far off one polynomial (:class:`~cryptoscore.errors.UndecidableAnswersError`) leave the
bundle or submission ``disputed`` — nothing released, no verdict — with a reason naming the
finding and the suspects, no value; answers corrected within the decoding radius give the value
and each corrected trustee's :class:`~cryptoscore.threshold.liars.LiarReport`
(:class:`Decoding`, for whoever persists it to log). Each decision says whether it was
``verified`` (docs/design.md, "Two-round release", "Robust threshold decryption (core)").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from cryptoscore.errors import (
    FormatError,
    InconsistentReleaseError,
    MismatchError,
    RefusedError,
    StepError,
    UndecidableAnswersError,
)
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution, derive_seed, round1_seed
from cryptoscore.protocol.invariants import (
    ANSWERS_DECODING,
    LabelHistogram,
    check_release,
    withheld_reason,
)
from cryptoscore.protocol.recompute import noise_check_decision, pad_set, validity_decision
from cryptoscore.protocol.requests import Circuit, DecryptionRequest, Round1Evidence
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.circuits import score
from cryptoscore.scoring.noise_check import noise_check
from cryptoscore.scoring.policy import Part
from cryptoscore.scoring.validity import validity
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.combine import CombinedDecryption, decrypt_answers
from cryptoscore.threshold.liars import LiarReport, check_resent, off_polynomial_reports
from cryptoscore.threshold.partial import PartialDecryption

__all__ = [
    "ROUND1_STATES",
    "BundleRelease",
    "Decoding",
    "NamedLiar",
    "ReleaseState",
    "Round1Snapshot",
    "Round2Snapshot",
    "SubmissionRelease",
]


class ReleaseState(StrEnum):
    """Where a bundle is in the release: one spelling for the library, the service's database
    (its CHECK constraint is built from these values) and the API.

    A bundle moves awaiting-contributions → noise-check → validity → valid | invalid (a noise
    check above the bound goes from noise-check to invalid at once); a valid submission then
    moves valid → scoring → released. Valid labels stay valid. A decision whose combined values
    break a release invariant (``protocol/invariants.py``) ends in disputed instead, from
    noise-check or validity (round 1) or from scoring (round 2)."""

    AWAITING_CONTRIBUTIONS = "awaiting-contributions"
    """Round 1 waits for a contribution from every trustee of the bundle's pad set."""
    NOISE_CHECK = "noise-check"
    """Round 1 asked for the noise check of every input ciphertext."""
    VALIDITY = "validity"
    """The noise checks passed; round 1 asked for the validity aggregate V."""
    VALID = "valid"
    """Round 1 passed: labels are usable, a submission waits for round 2."""
    INVALID = "invalid"
    """Round 1 failed (noise above the bound, or V not 0): nothing of it is ever decrypted."""
    SCORING = "scoring"
    """Round 2 asked for the score's decryption."""
    RELEASED = "released"
    """The policy's aggregates are released."""
    DISPUTED = "disputed"
    """The combined values broke a release invariant, or the answers were too far off one
    polynomial to decode (``answers-decoding``): some partial decryption was wrong, nothing of
    it is released, and the violated invariant is kept as the reason."""


ROUND1_STATES = (
    ReleaseState.AWAITING_CONTRIBUTIONS,
    ReleaseState.NOISE_CHECK,
    ReleaseState.VALIDITY,
)
"""The states in which round 1 of a bundle is still open."""

_DECIDED = (ReleaseState.VALID, ReleaseState.INVALID, ReleaseState.DISPUTED)
_NOISE: Circuit = "noise/v1"
_VALIDITY: Circuit = "validity/v1"


@dataclass(frozen=True, slots=True)
class NamedLiar:
    """A trustee decoding corrected: the ``off-polynomial`` report anyone re-runs, and the
    trustee's own answer (what a ``liar`` log entry holds beside the report)."""

    report: LiarReport
    partial: PartialDecryption = field(repr=False)


@dataclass(frozen=True, slots=True)
class Decoding:
    """How the answers to one decided request decoded."""

    request_id: str
    verified: bool
    """Shamir answers of at least 2t − 1 trustees, checked against each other
    (``CombinedDecryption.verified``): any lie of up to t − 1 trustees would have been caught.
    False for additive answers and for fewer answers, where the value is not checked."""
    liars: tuple[NamedLiar, ...] = ()
    """The trustees whose answers were off the decoded polynomial, corrected (each with its
    report); empty when every answer agreed."""


def _decoding(
    request_id: str, out: CombinedDecryption, partials: list[PartialDecryption]
) -> Decoding:
    by_trustee = {p.trustee_id: p for p in partials}
    reports = off_polynomial_reports(out.liars, partials) if out.liars else ()
    named = tuple(NamedLiar(r, by_trustee[r.trustee_id]) for r in reports)
    return Decoding(request_id, out.verified, named)


def _undecodable(request_id: str, error: UndecidableAnswersError) -> InconsistentReleaseError:
    """The dispute of answers too far off one polynomial: the finding and the suspects by
    trustee id (``combine.decode_answers`` names them), no value."""
    return InconsistentReleaseError(ANSWERS_DECODING, f"{request_id}: {error}", {})


@dataclass(frozen=True, slots=True)
class Round1Snapshot:
    """Round 1 of one bundle as a persistence layer keeps it (all wire records).

    A decided bundle (``valid`` / ``invalid``) may leave out the requests and partials that did
    not decide it: a valid bundle restores from its validity request, ciphertext and partials
    alone; a bundle invalid by V likewise; one invalid by noise from its noise checks."""

    state: ReleaseState
    contributions: tuple[Contribution, ...] = ()
    requests: tuple[DecryptionRequest, ...] = ()
    ciphertexts: Mapping[str, AggregateCiphertext] = field(default_factory=dict, repr=False)
    """The ciphertext each request asks to decrypt, by request id."""
    partials: tuple[PartialDecryption, ...] = field(default=(), repr=False)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Round2Snapshot:
    """Round 2 of one submission once started (``scoring`` or ``released``)."""

    state: ReleaseState
    request: DecryptionRequest
    aggregate: AggregateCiphertext = field(repr=False)
    partials: tuple[PartialDecryption, ...] = field(default=(), repr=False)
    released: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""
    """Why a disputed release is disputed (re-derived on restore, kept for the reader)."""


@dataclass
class BundleRelease:
    """Round 1 for one bundle. The service persists it (:meth:`snapshot`, :meth:`restore`)
    and feeds it trustees' messages.

    The active set is the bundle's pad set (:func:`pad_set`): only those trustees contribute
    and answer, so every polynomial of the bundle's lineage is touched under one Lagrange
    coefficient per trustee (``threshold/lineage.py``) — exactly t of them for additive
    answers, t to n for Shamir answers, every one of which must contribute and answer (a
    silent trustee stalls the bundle: availability, not integrity). ``active_set``, if given,
    must be that set. The other fields are the machine's own: read them, never set them.
    """

    context: ChallengeContext
    bundle: EncryptedBundle
    active_set: ActiveSet | None = None
    _state: ReleaseState = field(default=ReleaseState.AWAITING_CONTRIBUTIONS, init=False)
    contributions: dict[str, Contribution] = field(default_factory=dict, init=False)
    requests: dict[str, DecryptionRequest] = field(default_factory=dict, init=False)
    ciphertexts: dict[str, AggregateCiphertext] = field(
        default_factory=dict, init=False, repr=False
    )
    partials: dict[str, dict[str, PartialDecryption]] = field(
        default_factory=dict, init=False, repr=False
    )
    decodings: dict[str, Decoding] = field(default_factory=dict, init=False, repr=False)
    """How each decided request decoded, by request id (:class:`Decoding`)."""
    _reason: str = field(default="", init=False)

    @property
    def state(self) -> ReleaseState:
        """Where round 1 is; only the machine's own steps move it."""
        return self._state

    @property
    def reason(self) -> str:
        """Why an invalid or disputed bundle is so (empty otherwise)."""
        return self._reason

    @property
    def liars(self) -> tuple[NamedLiar, ...]:
        """Every trustee decoding corrected in this round 1's decisions so far, with its
        report: whoever persists the machine logs each (once per report)."""
        return tuple(named for d in self.decodings.values() for named in d.liars)

    def _dispute(self, error: InconsistentReleaseError) -> None:
        self._reason = str(error)
        self._state = ReleaseState.DISPUTED

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
        return [self.context.record.entry_by_index(i).trustee_id for i in self.active.indices]

    @property
    def active(self) -> ActiveSet:
        if self.active_set is None:  # pragma: no cover - __post_init__ always sets it
            raise StepError("round 1 has not started: no active set yet")
        return self.active_set

    # -- persistence -----------------------------------------------------------------------
    def snapshot(self) -> Round1Snapshot:
        """Everything :meth:`restore` needs to continue exactly here."""
        return Round1Snapshot(
            state=self.state,
            contributions=tuple(self.contributions.values()),
            requests=tuple(self.requests.values()),
            ciphertexts=dict(self.ciphertexts),
            partials=tuple(p for parts in self.partials.values() for p in parts.values()),
            reason=self.reason,
        )

    @classmethod
    def restore(
        cls, context: ChallengeContext, bundle: EncryptedBundle, snapshot: Round1Snapshot
    ) -> BundleRelease:
        """Round 1 of ``bundle`` at ``snapshot``, with every record checked as if it had
        arrived now; a decided verdict is re-derived from its partials and must agree.
        Raises FormatError for a snapshot that contradicts itself or the bundle."""
        state = ReleaseState(snapshot.state)
        if state not in (*ROUND1_STATES, *_DECIDED):
            raise FormatError(f"round 1 has no state {state.value!r}")
        release = cls(context, bundle)
        for contribution in snapshot.contributions:
            release.add_contribution(contribution)
        if state == ReleaseState.AWAITING_CONTRIBUTIONS:
            if snapshot.requests or snapshot.partials:
                raise FormatError("round 1 awaiting contributions has no requests yet")
            return release
        if release.needs_contributions():
            raise FormatError(f"round 1 {state.value} without every pad trustee's contribution")
        for request in snapshot.requests:
            aggregate = snapshot.ciphertexts.get(request.request_id)
            if aggregate is None:
                raise FormatError(f"round 1: no ciphertext for {request.request_id}")
            release._restore_request(request, aggregate)
        release._state = ReleaseState.VALIDITY
        for partial in snapshot.partials:
            release.add_partial(partial)
        circuits = [r.circuit for r in release.requests.values()]
        noise_complete = sorted(
            r.index for r in release.requests.values() if r.circuit == _NOISE
        ) == list(range(bundle.layout.ciphertexts))
        if state in (ReleaseState.NOISE_CHECK, ReleaseState.VALIDITY) and not noise_complete:
            raise FormatError(f"round 1 {state.value} asks the noise check of every ciphertext")
        if state == ReleaseState.NOISE_CHECK:
            if _VALIDITY in circuits:
                raise FormatError("round 1 in its noise checks has not asked for V yet")
            release._state = state
            return release
        if state == ReleaseState.VALIDITY:
            if circuits.count(_VALIDITY) != 1:
                raise FormatError("round 1 asking for V has one validity request")
            return release
        # decided: re-derive the verdict from what decided it
        if _VALIDITY in circuits:
            release._state = ReleaseState.VALIDITY
            if not release.ready():
                raise FormatError("a decided round 1 holds every partial of V")
            release.finish()
        elif noise_complete:
            release._state = ReleaseState.NOISE_CHECK
            if not release.ready():
                raise FormatError("a decided round 1 holds every partial of its noise checks")
            release.finish_noise()
        else:
            raise FormatError("a decided round 1 carries the requests that decided it")
        if release.state != state:
            raise FormatError(
                f"round 1 claims {state.value}, its partials say {release.state.value}"
            )
        return release

    def _restore_request(self, request: DecryptionRequest, aggregate: AggregateCiphertext) -> None:
        if request.request_id in self.requests:
            raise FormatError(f"round 1: request {request.request_id} twice")
        if request.challenge_id != self.context.challenge_id or request.inputs != (
            self.bundle.digest,
        ):
            raise FormatError(f"round 1: {request.request_id} is not this bundle's")
        if request.circuit not in (_NOISE, _VALIDITY) or request.active_set != self.active:
            raise FormatError(f"round 1: {request.request_id} is not a round-1 request")
        if aggregate.ciphertext_digest != request.ciphertext_digest:
            raise FormatError(f"round 1: the ciphertext of {request.request_id} is another")
        if request.circuit == _VALIDITY and request.seed != self.validity_seed():
            raise FormatError("round 1: V's seed is not the one the contributions give")
        self._add(request, aggregate)

    # -- contributions -------------------------------------------------------------------
    def needs_contributions(self) -> bool:
        """Round 1 waits for a contribution from some trustee of the pad set."""
        return self.state == ReleaseState.AWAITING_CONTRIBUTIONS and len(self.contributions) < len(
            self.active.indices
        )

    def add_contribution(self, contribution: Contribution) -> None:
        if self.state != ReleaseState.AWAITING_CONTRIBUTIONS:
            raise StepError(f"round 1 is {self.state.value}: contributions are closed")
        if contribution.trustee_id not in self._trustee_ids():
            raise MismatchError(f"{contribution.trustee_id!r} may not contribute to this round")
        if (contribution.challenge_id, contribution.bundle_digest) != (
            self.context.challenge_id,
            self.bundle.digest,
        ):
            raise MismatchError("the contribution is for another challenge or bundle")
        contribution.verify(self.context.record)  # the service cannot make one up
        if contribution.trustee_id in self.contributions:
            raise StepError(f"{contribution.trustee_id!r} already contributed")
        if not self.needs_contributions():
            raise StepError("round 1 already has every pad-set trustee's contribution")
        self.contributions[contribution.trustee_id] = contribution

    def start(self, request_prefix: str) -> list[DecryptionRequest]:
        """Service: once every active trustee contributed, ask for the noise checks of every
        input ciphertext (V comes after they pass: :meth:`finish_noise`)."""
        if self.state != ReleaseState.AWAITING_CONTRIBUTIONS:
            raise StepError(f"round 1 is already {self.state.value}")
        missing = set(self._trustee_ids()) - set(self.contributions)
        if missing:
            raise StepError(f"waiting for contributions from {sorted(missing)}")
        for index in range(self.bundle.layout.ciphertexts):
            z = noise_check(self.bundle, index)
            rid = f"{request_prefix}:noise:{index}"
            self._add(self._request(rid, _NOISE, z, b"", index), z)
        self._state = ReleaseState.NOISE_CHECK
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

    # -- partials and verdicts -----------------------------------------------------------
    def add_partial(self, partial: PartialDecryption) -> None:
        if (
            self.state not in (ReleaseState.NOISE_CHECK, ReleaseState.VALIDITY)
            or partial.request_id not in self.requests
        ):
            raise StepError("no open round-1 request for this partial")
        if partial.trustee_id not in self._trustee_ids():
            raise MismatchError(f"{partial.trustee_id!r} does not answer this round 1")
        rid = partial.request_id
        check_resent(
            self.partials[rid].get(partial.trustee_id),
            partial,
            self.ciphertexts[rid],
            self.context.record,
            rid,
            self.requests[rid].active_set,
        )
        self.partials[rid][partial.trustee_id] = partial

    def ready(self) -> bool:
        """Every request of the current phase has a partial from every active trustee."""
        if self.state not in (ReleaseState.NOISE_CHECK, ReleaseState.VALIDITY):
            return False
        need = len(self.active.indices)
        return all(len(p) == need for p in self.partials.values())

    def finish_noise(self) -> list[DecryptionRequest]:
        """Combiner: decide the noise checks. Above the bound: the bundle is invalid and
        nothing more is asked (returns []). Otherwise V is computed and asked for."""
        if self.state != ReleaseState.NOISE_CHECK or not self.ready():
            raise StepError("the noise checks still wait for partial decryptions")
        noisy = []
        for request_id, request in self.requests.items():
            parts = list(self.partials[request_id].values())
            try:
                passed, out = noise_check_decision(
                    self.ciphertexts[request_id],
                    parts,
                    self.context.record,
                    request_id,
                    self.active,
                )
            except UndecidableAnswersError as error:
                self._dispute(_undecodable(request_id, error))
                return []
            except InconsistentReleaseError as error:
                self._dispute(error)
                return []
            self.decodings[request_id] = _decoding(request_id, out, parts)
            if not passed:
                noisy.append(request.index)
        if noisy:
            self._reason = (
                f"ciphertext noise above the honest bound (ciphertexts {noisy[:5]}"
                f"{'…' if len(noisy) > 5 else ''})"
            )
            self._state = ReleaseState.INVALID
            return []
        prefix = next(iter(self.requests)).rsplit(":noise:", 1)[0]
        v_seed = self.validity_seed()
        v = validity(self.bundle, v_seed, self.context.evaluation)
        request = self._request(f"{prefix}:validity", _VALIDITY, v, v_seed, 0)
        self._add(request, v)
        self._state = ReleaseState.VALIDITY
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
        if self.state == ReleaseState.NOISE_CHECK:
            return self.finish_noise()
        self.finish()
        return []

    def finish(self) -> bool:
        """Combiner: decide V (after :meth:`finish_noise`); True iff the bundle is valid."""
        if self.state == ReleaseState.NOISE_CHECK:
            raise StepError("round 1 decides the noise checks first (finish_noise)")
        if self.state != ReleaseState.VALIDITY or not self.ready():
            raise StepError("round 1 still waits for partial decryptions")
        (request_id,) = [r for r, q in self.requests.items() if q.circuit == _VALIDITY]
        parts = list(self.partials[request_id].values())
        try:
            valid, out = validity_decision(
                self.ciphertexts[request_id], parts, self.context.record, request_id, self.active
            )
        except UndecidableAnswersError as error:
            self._dispute(_undecodable(request_id, error))
            return False
        except InconsistentReleaseError as error:
            self._dispute(error)
            return False
        self.decodings[request_id] = _decoding(request_id, out, parts)
        self._reason = "" if valid else "not a 0/1 (one-hot) encoding"
        self._state = ReleaseState.VALID if valid else ReleaseState.INVALID
        return valid


_SCORE_CIRCUIT: dict[Part | None, Circuit] = {
    None: "score/v1",
    "public": "score-public/v1",
    "private": "score-private/v1",
}
"""The score circuit of a round: every item, or one part of a split."""


@dataclass
class SubmissionRelease:
    """Round 2 for one submission, allowed only after both bundles passed round 1.

    Persisted like round 1 (:meth:`snapshot`, :meth:`restore`); the fields are the machine's
    own."""

    context: ChallengeContext
    predictions: BundleRelease
    labels: BundleRelease
    part: Part | None = None
    """Which part of a split challenge this round releases (docs/design.md, "Public/private
    split"); ``None`` for a challenge without one: every item."""
    _state: ReleaseState = field(default=ReleaseState.VALID, init=False)
    request: DecryptionRequest | None = field(default=None, init=False)
    aggregate: AggregateCiphertext | None = field(default=None, init=False, repr=False)
    partials: dict[str, PartialDecryption] = field(default_factory=dict, init=False, repr=False)
    released: dict[str, int] = field(default_factory=dict, init=False)
    decoding: Decoding | None = field(default=None, init=False, repr=False)
    """How the score's answers decoded, once decided (None while scoring, and for a dispute
    of answers too far off one polynomial)."""
    _dispute: InconsistentReleaseError | None = field(default=None, init=False, repr=False)

    @property
    def state(self) -> ReleaseState:
        """``valid`` (not started), ``scoring``, ``released`` or ``disputed``; only the
        machine moves it."""
        return self._state

    @property
    def reason(self) -> str:
        """Why a disputed release is disputed: the invariant and the values (else empty).
        Under the Ladder the invariant and a sentence without the values: the reason is
        logged, and the values less a colluding trustee's known shift are the exact ones
        (docs/design.md, "Ladder"; the restricted audit bundle's partials recombine to them).
        Answers too far off one polynomial (``answers-decoding``) are disputed with the
        finding and the suspects, which carry no value, under any policy."""
        if self._dispute is None:
            return ""
        if self.context.ladder is not None and self._dispute.invariant != ANSWERS_DECODING:
            return withheld_reason(self._dispute.invariant)
        return str(self._dispute)

    @property
    def verified(self) -> bool:
        """The release was decoded from Shamir answers of at least 2t − 1 trustees
        (:class:`Decoding`); False before it is decided, for additive answers, and for fewer
        answers."""
        return self.decoding is not None and self.decoding.verified

    @property
    def liars(self) -> tuple[NamedLiar, ...]:
        """The trustees decoding corrected in the score's answers, with their reports:
        whoever persists the machine logs each (once per report)."""
        return () if self.decoding is None else self.decoding.liars

    @property
    def invariant(self) -> str:
        """The release invariant a disputed release broke (``protocol/invariants.py``)."""
        return "" if self._dispute is None else self._dispute.invariant

    def snapshot(self) -> Round2Snapshot:
        if self.request is None or self.aggregate is None:
            raise StepError("round 2 has not started: nothing to keep")
        return Round2Snapshot(
            self.state,
            self.request,
            self.aggregate,
            tuple(self.partials.values()),
            dict(self.released),
            self.reason,
        )

    @classmethod
    def restore(
        cls,
        context: ChallengeContext,
        predictions: BundleRelease,
        labels: BundleRelease,
        snapshot: Round2Snapshot,
        part: Part | None = None,
        *,
        fixed_histogram: LabelHistogram | None = None,
    ) -> SubmissionRelease:
        """Round 2 at ``snapshot``: the request must be the score of these two bundles under
        the submission's round-1 active set; a release must recombine to its values and a
        dispute to values that break an invariant (re-derived, with ``fixed_histogram`` the
        label histogram the releases against these labels fixed: :meth:`finish`)."""
        state = ReleaseState(snapshot.state)
        if state not in (ReleaseState.SCORING, ReleaseState.RELEASED, ReleaseState.DISPUTED):
            raise FormatError(f"round 2 has no state {state.value!r}")
        release = cls(context, predictions, labels, part)
        release._check_round1()
        request, aggregate = snapshot.request, snapshot.aggregate
        if (
            request.circuit != _SCORE_CIRCUIT[part]
            or request.challenge_id != context.challenge_id
            or request.inputs != (predictions.bundle.digest, labels.bundle.digest)
        ):
            raise FormatError(f"round 2: {request.request_id} is not this submission's score")
        if aggregate.ciphertext_digest != request.ciphertext_digest:
            raise FormatError(f"round 2: the ciphertext of {request.request_id} is another")
        request.active_set.check(context.record)
        release.request, release.aggregate = request, aggregate
        release._state = ReleaseState.SCORING
        for partial in snapshot.partials:
            release.add_partial(partial)
        if state == ReleaseState.SCORING:
            return release
        if not release.ready():
            raise FormatError(f"a {state.value} round 2 holds every asked trustee's partial")
        released = release.finish(fixed_histogram)
        if release.state != state:
            raise FormatError(
                f"round 2 claims {state.value}, its partials say {release.state.value}"
                + (f" ({release.reason})" if release.reason else "")
            )
        if released != dict(snapshot.released):
            raise FormatError("round 2: the partials combine to other values than released")
        return release

    def _check_round1(self) -> None:
        if self.predictions.state != ReleaseState.VALID:
            raise RefusedError(
                f"the submission is {self.predictions.state.value}: nothing of it is decrypted"
            )
        if self.labels.state != ReleaseState.VALID:
            raise StepError("the labels have not passed round 1")

    def start(self, request_id: str, active_set: ActiveSet) -> DecryptionRequest:
        """Service: compute the policy's score (of this round's part) and request its
        decryption."""
        if self.state != ReleaseState.VALID:
            raise StepError(f"round 2 is already {self.state.value}")
        self._check_round1()
        active_set.check(self.context.record)
        split = self.context.split
        if (split is None) != (self.part is None):
            raise StepError(
                "a challenge with a split releases one part at a time, one without releases all"
            )
        preds, labels = self.predictions.bundle, self.labels.bundle
        agg = score(
            preds,
            labels,
            self.context.policy,
            self.context.evaluation,
            part=self.part,
            part_size=(
                0
                if split is None or self.part is None
                else split.part_size(self.part, preds.header.n)
            ),
        )
        self.request = DecryptionRequest(
            request_id=request_id,
            challenge_id=self.context.challenge_id,
            circuit=_SCORE_CIRCUIT[self.part],
            inputs=(preds.digest, labels.digest),
            seed=b"",
            rerandomize_seed=b"",
            active_set=active_set,
            ciphertext_digest=agg.ciphertext_digest,
        )
        self.aggregate = agg
        self._state = ReleaseState.SCORING
        return self.request

    def add_partial(self, partial: PartialDecryption) -> None:
        if self.state != ReleaseState.SCORING or self.request is None:
            raise StepError("no open round-2 request")
        if partial.request_id != self.request.request_id:
            raise MismatchError("the partial answers another request")
        if partial.index not in self.request.active_set.indices:
            raise MismatchError(f"{partial.trustee_id!r} was not asked this round's score")
        if self.aggregate is not None:
            check_resent(
                self.partials.get(partial.trustee_id),
                partial,
                self.aggregate,
                self.context.record,
                self.request.request_id,
                self.request.active_set,
            )
        self.partials[partial.trustee_id] = partial

    def ready(self) -> bool:
        """Every trustee the score was asked of answered (round 2 is decided on all of them:
        a silent trustee stalls it)."""
        if self.state != ReleaseState.SCORING or self.request is None:
            return False
        record = self.context.record
        asked = {record.entry_by_index(i).trustee_id for i in self.request.active_set.indices}
        return asked <= set(self.partials)

    def items(self) -> int:
        """How many items this round scores: every item, or its part's published size (the
        release invariants' n)."""
        split = self.context.split
        if split is None or self.part is None:
            return self.context.n
        return split.part_size(self.part, self.context.n)

    def finish(self, fixed_histogram: LabelHistogram | None = None) -> dict[str, int]:
        """Combiner: combine the score's partials and check the release invariants
        (``protocol/invariants.check_release``) before anything is released. ``fixed_histogram``
        is the label histogram earlier releases against these labels (of this round's part, in a
        split challenge) fixed (None for the first): whoever keeps the releases passes it in.
        Consistent values are released and returned; values that break an invariant, or
        answers too far off one polynomial to decode (``answers-decoding``, the suspects named),
        leave the submission ``disputed`` with the reason, release nothing and return ``{}``.
        Decoding runs on the answers of every trustee asked (:meth:`ready`); the liars it
        corrected are in :attr:`liars`."""
        if self.state != ReleaseState.SCORING or self.request is None or self.aggregate is None:
            raise StepError("round 2 has not started")
        if not self.ready():
            raise StepError("round 2 still waits for partial decryptions")
        parts = list(self.partials.values())
        try:
            out = decrypt_answers(
                self.aggregate,
                parts,
                self.context.record,
                self.request.request_id,
                self.request.active_set,
                centered=self.context.dp is not None,
            )
        except UndecidableAnswersError as error:
            self._dispute = _undecodable(self.request.request_id, error)
            self._state = ReleaseState.DISPUTED
            return {}
        self.decoding = _decoding(self.request.request_id, out, parts)
        try:
            check_release(
                out.values,
                self.context.policy,
                self.items(),
                fixed_histogram,
                noise=self.context.release_noise,
            )
        except InconsistentReleaseError as error:
            self._dispute = error
            self._state = ReleaseState.DISPUTED
            return {}
        self.released = out.values
        self._state = ReleaseState.RELEASED
        return out.values
