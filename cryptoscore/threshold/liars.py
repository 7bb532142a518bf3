"""Liar reports: a trustee named as lying, with what anyone needs to re-run the finding.

Two findings name a trustee (docs/design.md, "Robust threshold decryption"):

* ``off-polynomial``: with Shamir answers, decoding the answers to one request
  (``threshold/combine.decrypt_answers``, radius ``robust.verifiable_max_liars``) found the
  trustee's whole answer off the polynomial the others agree on, and corrected it;
* ``two-answers``: the trustee signed two different partials for one request. An honest
  trustee answers a request once (its journal keeps the answer, its outbox re-sends the same
  bytes); Shamir answers are deterministic, so a second, different answer is a lie in one of
  them whatever the set.

A :class:`LiarReport` (record magic ``CSLIARPT``, version 1) names the trustee, the request,
the ciphertext, the finding and the SHA-256 of every partial record it rests on; anyone holding
those partials, the ceremony record and the recomputed ciphertext re-runs it with
:meth:`LiarReport.check`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptoscore.envelope import Fields, pack_record, unpack_record
from cryptoscore.errors import CryptoScoreError, FormatError, MismatchError, VerificationError
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.threshold.combine import decrypt_answers, verify_partial
from cryptoscore.threshold.journal import check_request_id
from cryptoscore.threshold.partial import PartialDecryption

__all__ = [
    "FINDINGS",
    "LiarReport",
    "LyingTrusteeError",
    "check_resent",
    "off_polynomial_reports",
    "two_answers_report",
]

MAGIC = b"CSLIARPT"
FORMAT_VERSION = 1
FINDINGS = ("off-polynomial", "two-answers")
Finding = Literal["off-polynomial", "two-answers"]
_MAX_ANSWERS = 255


@dataclass(frozen=True, slots=True)
class LiarReport:
    """``trustee_id`` lied in its answer to ``request_id`` (ciphertext ``ciphertext_digest``):
    ``finding`` says how (module docstring); ``answers`` lists (trustee id, SHA-256 of the
    partial record) of every answer the finding rests on, sorted — for ``two-answers`` the
    trustee's two partials."""

    trustee_id: str
    request_id: str
    ciphertext_digest: str
    finding: Finding
    answers: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        if self.finding not in FINDINGS:
            raise FormatError(f"liar report: the finding is one of {FINDINGS}")
        if not 1 <= len(self.answers) <= _MAX_ANSWERS or list(self.answers) != sorted(self.answers):
            raise FormatError("liar report: 1 to 255 answers, sorted")
        for value in (self.ciphertext_digest, *(d for _, d in self.answers)):
            try:
                ok = len(value) == 64 and bytes.fromhex(value).hex() == value
            except ValueError:
                ok = False
            if not ok:
                raise FormatError("liar report: digests are 32 bytes of lower-case hex")
        named = [tid for tid, _ in self.answers]
        if self.finding == "two-answers":
            if named != [self.trustee_id] * 2 or self.answers[0][1] == self.answers[1][1]:
                raise FormatError("liar report: two different answers of the named trustee")
        elif len(set(named)) != len(named) or self.trustee_id not in named:
            raise FormatError("liar report: one answer per trustee, the named one's among them")

    def header(self) -> dict[str, Any]:
        return {
            "trustee_id": self.trustee_id,
            "request_id": self.request_id,
            "ciphertext": self.ciphertext_digest,
            "finding": self.finding,
            "answers": [[tid, digest] for tid, digest in self.answers],
        }

    def to_bytes(self) -> bytes:
        return pack_record(MAGIC, FORMAT_VERSION, self.header())

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> LiarReport:
        header, body = unpack_record(raw, MAGIC, FORMAT_VERSION, "liar report")
        if len(body):
            raise FormatError("liar report: unexpected bytes after the header")
        f = Fields(
            header, "liar report", {"trustee_id", "request_id", "ciphertext", "finding", "answers"}
        )
        answers = header["answers"]
        if not isinstance(answers, list) or len(answers) > _MAX_ANSWERS:
            raise FormatError("liar report: answers must be a list")
        pairs = []
        for item in answers:
            if not (
                isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
            ):
                raise FormatError("liar report: each answer is [trustee id, digest]")
            pairs.append((item[0], item[1]))
        finding = f.string("finding", 32)
        if finding not in FINDINGS:
            raise FormatError(f"liar report: the finding is one of {FINDINGS}")
        return cls(
            trustee_id=f.string("trustee_id", 64),
            request_id=f.string("request_id", 128),
            ciphertext_digest=f.hex("ciphertext", 32).hex(),
            finding=finding,  # type: ignore[arg-type]
            answers=tuple(pairs),
        )

    def check(
        self,
        record: CeremonyRecord,
        aggregate: AggregateCiphertext,
        partials: Sequence[PartialDecryption],
    ) -> None:
        """Re-run the finding from the partials it names (exactly those, by digest) and the
        recomputed ciphertext; :class:`VerificationError` if it does not hold."""
        if aggregate.ciphertext_digest != self.ciphertext_digest:
            raise MismatchError("liar report: for another ciphertext")
        given = sorted((p.trustee_id, p.digest) for p in partials)
        if given != list(self.answers):
            raise MismatchError("liar report: the partials are not the ones it names")
        for p in partials:
            verify_partial(aggregate, p, record, self.request_id, p.active_set)
        if self.finding == "two-answers":
            return  # two different answers, both validly signed by the trustee: the finding
        if not record.robust:
            raise VerificationError("liar report: additive answers cannot name a liar")
        t = record.threshold
        out = decrypt_answers(
            aggregate, list(partials), record, self.request_id, ActiveSet(tuple(range(1, t + 1)))
        )
        if self.trustee_id not in out.liars:
            raise VerificationError(
                f"liar report: decoding the named answers does not find {self.trustee_id!r} off "
                "the polynomial"
            )


class LyingTrusteeError(CryptoScoreError):
    """A trustee named as lying: ``report`` is the :class:`LiarReport` anyone can re-run."""

    def __init__(self, report: LiarReport) -> None:
        super().__init__(
            f"trustee {report.trustee_id!r} lied in its answer to {report.request_id} "
            f"({report.finding})"
        )
        self.report = report


def two_answers_report(first: PartialDecryption, second: PartialDecryption) -> LiarReport:
    """The report of one trustee's two different partials for one request (the caller has
    verified both)."""
    if (first.trustee_id, first.request_id) != (second.trustee_id, second.request_id):
        raise MismatchError("two answers of different trustees or requests")
    if first.ciphertext_digest != second.ciphertext_digest:
        raise MismatchError("two answers for different ciphertexts")
    return LiarReport(
        first.trustee_id,
        first.request_id,
        first.ciphertext_digest,
        "two-answers",
        tuple(sorted((p.trustee_id, p.digest) for p in (first, second))),
    )


def off_polynomial_reports(
    liars: Sequence[str], partials: Sequence[PartialDecryption]
) -> tuple[LiarReport, ...]:
    """One report per trustee ``decrypt_answers`` named (its ``liars``), resting on every
    partial it decoded."""
    answers = tuple(sorted((p.trustee_id, p.digest) for p in partials))
    first = partials[0]
    return tuple(
        LiarReport(tid, first.request_id, first.ciphertext_digest, "off-polynomial", answers)
        for tid in liars
    )


def check_resent(
    existing: PartialDecryption | None,
    partial: PartialDecryption,
    aggregate: AggregateCiphertext,
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> None:
    """Combiner, before keeping ``partial``: the trustee's earlier partial for the same request
    (``existing``) must be the same bytes — an outbox re-send of the journal's stored answer.
    A different one, both verified (roster, request, ciphertext, signature), is a lie:
    :class:`LyingTrusteeError` with the ``two-answers`` report. A second partial that does
    not verify is refused as such (it names nobody)."""
    if existing is None or existing.to_bytes() == partial.to_bytes():
        return
    for p in (existing, partial):
        verify_partial(aggregate, p, record, request_id, active_set)
    raise LyingTrusteeError(two_answers_report(existing, partial))
