"""The verifier: an auditor checks a challenge's audit bundle and recomputes every released number.

:func:`verify_bundle` needs no secret. It reads the bundle (the zip format of
:mod:`cryptoscore.transparency.transcript`), runs the named checks in order and returns a
report (ElectionGuard-verifier style): ``manifest``, ``ceremony-record``, ``log-integrity``,
``blobs-present``, ``contributions-signed``, ``enrolment``, ``inputs-signed``, ``scored-once``,
``quotas``, ``round1-recomputed``, ``release-recomputed``,
``partials-valid``, ``single-use``, ``share-exposure``, ``decoding`` (Shamir answers: every
decision re-decoded with no liar), ``round1-verdicts`` (which also checks
that each validity request came after its bundle's noise checks were answered and passed),
``release-values``, ``release-invariants``, ``ladder``, ``released-passed-round1``, ``leaderboard``,
``log-views``, ``liars``. What each check means:
docs/audit.md and docs/design.md, "Verifier".

This module holds the order of the checks and the run; the checks live by concern:
:mod:`~cryptoscore.verify.integrity` (the record), :mod:`~cryptoscore.verify.inputs`,
:mod:`~cryptoscore.verify.recomputation`, :mod:`~cryptoscore.verify.answers` (the partials),
:mod:`~cryptoscore.verify.decoding` (Shamir answers decoded) and
:mod:`~cryptoscore.verify.outcomes` (verdicts, releases, leaderboard), over the bundle read by
:mod:`~cryptoscore.verify.audit_bundle`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptoscore.errors import CryptoScoreError
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.transparency.log import MerkleLog
from cryptoscore.verify import (
    answers,
    decoding,
    inputs,
    integrity,
    ladder,
    outcomes,
    recomputation,
)
from cryptoscore.verify.audit_bundle import AuditBundle, Manifest, established, read_bundle
from cryptoscore.verify.report import AuditReport, CheckFailed, CheckResult

__all__ = ["CHECKS", "AuditReport", "CheckResult", "verify_bundle"]

CHECKS = (
    "manifest",
    "ceremony-record",
    "log-integrity",
    "blobs-present",
    "contributions-signed",
    "enrolment",
    "inputs-signed",
    "scored-once",
    "quotas",
    "round1-recomputed",
    "release-recomputed",
    "partials-valid",
    "single-use",
    "share-exposure",
    "decoding",
    "round1-verdicts",
    "release-values",
    "release-invariants",
    "ladder",
    "released-passed-round1",
    "leaderboard",
    "log-views",
    "liars",
)


def verify_bundle(path: str | Path, progress: Callable[[int], None] | None = None) -> AuditReport:
    """Auditor: run every check on an audit bundle; stops at the first failed check.
    ``progress(done)`` is told how many of :data:`CHECKS` have run."""
    report = AuditReport()
    try:
        bundle = read_bundle(path)
    except CheckFailed as failure:
        report.checks.append(CheckResult(failure.name, False, failure.detail))
        return report
    v = _Verifier(bundle)
    for name in CHECKS:
        try:
            detail: str = getattr(v, "check_" + name.replace("-", "_"))()
        except CheckFailed as failure:
            report.checks.append(CheckResult(failure.name, False, failure.detail))
            return report
        except CryptoScoreError as exc:
            report.checks.append(CheckResult(name, False, str(exc)))
            return report
        report.checks.append(CheckResult(name, True, detail))
        if progress is not None:
            progress(len(report.checks))
    report.in_progress = list(dict.fromkeys(v.in_progress))
    return report


class _Verifier:
    """One method per named check, each returning a one-line detail or raising; what a check
    establishes for later ones is kept in a typed attribute, set by that check alone. The run
    stops at the first failure, so a later check finds what it needs (``established``)."""

    def __init__(self, bundle: AuditBundle) -> None:
        self.bundle = bundle
        self.in_progress: list[str] = []
        self.manifest: Manifest | None = None  # manifest
        self.context: ChallengeContext | None = None  # ceremony-record
        self.log: MerkleLog | None = None  # log-integrity
        self.enrolled: dict[str, int] | None = None  # enrolment
        # round1-recomputed; release-recomputed adds the released ciphertexts
        self.recomputed: dict[str, AggregateCiphertext] | None = None
        self.verdicts: dict[str, str] | None = None  # round1-verdicts

    def _context(self) -> ChallengeContext:
        return established(self.context, "ceremony-record")

    def _recomputed(self) -> dict[str, AggregateCiphertext]:
        return established(self.recomputed, "round1-recomputed")

    def check_manifest(self) -> str:
        detail, self.manifest = integrity.check_manifest(self.bundle)
        return detail

    def check_ceremony_record(self) -> str:
        detail, self.context = integrity.check_ceremony_record(self.bundle)
        return detail

    def check_log_integrity(self) -> str:
        manifest = established(self.manifest, "manifest")
        detail, self.log = integrity.check_log_integrity(self.bundle, manifest)
        return detail

    def check_blobs_present(self) -> str:
        return integrity.check_blobs_present(self.bundle)

    def check_contributions_signed(self) -> str:
        return inputs.check_contributions_signed(self.bundle, self._context(), self.in_progress)

    def check_enrolment(self) -> str:
        detail, self.enrolled = inputs.check_enrolment(self.bundle, self._context())
        return detail

    def check_inputs_signed(self) -> str:
        enrolled = established(self.enrolled, "enrolment")
        return inputs.check_inputs_signed(self.bundle, self._context(), enrolled)

    def check_scored_once(self) -> str:
        return inputs.check_scored_once(self.bundle)

    def check_quotas(self) -> str:
        heads = established(self.manifest, "manifest").heads
        return inputs.check_quotas(self.bundle, self._context(), heads)

    def check_round1_recomputed(self) -> str:
        detail, self.recomputed = recomputation.check_round1_recomputed(
            self.bundle, self._context(), self.in_progress
        )
        return detail

    def check_release_recomputed(self) -> str:
        detail, released = recomputation.check_release_recomputed(self.bundle, self._context())
        self._recomputed().update(released)
        return detail

    def check_partials_valid(self) -> str:
        return answers.check_partials_valid(
            self.bundle, self._context(), self._recomputed(), self.in_progress
        )

    def check_single_use(self) -> str:
        return answers.check_single_use(self.bundle, self._recomputed())

    def check_share_exposure(self) -> str:
        return answers.check_share_exposure(self.bundle)

    def check_decoding(self) -> str:
        return decoding.check_decoding(self.bundle, self._context(), self._recomputed())

    def check_round1_verdicts(self) -> str:
        detail, self.verdicts = outcomes.check_round1_verdicts(
            self.bundle, self._context(), self._recomputed(), self.in_progress
        )
        return detail

    def check_release_values(self) -> str:
        return outcomes.check_release_values(
            self.bundle, self._context(), self._recomputed(), self.in_progress
        )

    def check_release_invariants(self) -> str:
        return outcomes.check_release_invariants(self.bundle, self._context(), self._recomputed())

    def check_ladder(self) -> str:
        return ladder.check_ladder(self.bundle, self._context())

    def check_released_passed_round1(self) -> str:
        verdicts = established(self.verdicts, "round1-verdicts")
        return outcomes.check_released_passed_round1(self.bundle, verdicts)

    def check_leaderboard(self) -> str:
        return outcomes.check_leaderboard(self.bundle, self._context())

    def check_log_views(self) -> str:
        return answers.check_log_views(self.bundle, established(self.log, "log-integrity"))

    def check_liars(self) -> str:
        return answers.check_liars(self.bundle, self._context(), self._recomputed())
