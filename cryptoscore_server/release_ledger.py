"""The release's state in the database: the :class:`~cryptoscore.protocol.driver.ReleaseLedger`
the jobs drive (``jobs.py``).

Reading restores the library's state machines from the stored records
(:meth:`BundleRelease.restore`, :meth:`SubmissionRelease.restore`: each record checked, each
decided verdict re-derived from its partials). Writing happens under the challenge's lock
(``ledger.challenge_lock``) after the bundle's state was re-read: log entries are keyed by
event (``ledger.append_event``) and requests have primary keys, so a step that crashed and is
retried, or runs twice, never duplicates a log entry, a request or a release.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.driver import PRIVATE_PENDING, BundleStatus
from cryptoscore.protocol.invariants import LabelHistogram, fixed_label_histogram
from cryptoscore.protocol.ladder import LadderDecision, ladder_decision
from cryptoscore.protocol.release import (
    BundleRelease,
    NamedLiar,
    ReleaseState,
    Round1Snapshot,
    Round2Snapshot,
    SubmissionRelease,
)
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.policy import Part
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.transparency.transcript import Transcript
from cryptoscore_server.blobs import BlobStore, record_blob
from cryptoscore_server.ledger import append_event, challenge_lock, sign_head
from cryptoscore_server.models import (
    REASON_LENGTH,
    StoredPartial,
    StoredRequest,
    TrusteeContribution,
    UploadedBundle,
)

__all__ = ["SqlReleaseLedger", "SqlReleaseUpdate", "rebuild_round1"]


def _record_liar(named: NamedLiar, transcript: Transcript, key: str) -> int:
    return transcript.record_liar(named.report, named.partial, key=key)


def _contributions(session: Session, challenge_id: str, digest: str) -> list[Contribution]:
    rows = session.scalars(
        select(TrusteeContribution)
        .where(TrusteeContribution.challenge_id == challenge_id)
        .where(TrusteeContribution.bundle == digest)
        .order_by(TrusteeContribution.created_at, TrusteeContribution.trustee)
    )
    return [r.contribution() for r in rows]


def _requests(session: Session, challenge_id: str, digest: str, round_: int) -> list[StoredRequest]:
    return list(
        session.scalars(
            select(StoredRequest)
            .where(StoredRequest.challenge_id == challenge_id)
            .where(StoredRequest.bundle == digest, StoredRequest.round == round_)
            .order_by(StoredRequest.request_id)
        )
    )


def _partials(session: Session, store: BlobStore, request_id: str) -> dict[str, PartialDecryption]:
    rows = session.scalars(select(StoredPartial).where(StoredPartial.request_id == request_id))
    return {r.trustee: PartialDecryption.from_bytes(store.read(r.blob)) for r in rows}


def _round1_snapshot(
    session: Session, store: BlobStore, row: UploadedBundle, *, deciding_only: bool = False
) -> Round1Snapshot:
    """Round 1 of ``row`` as the database holds it; with ``deciding_only``, of a bundle that
    passed, only V's request, ciphertext and partials (what re-derives the verdict)."""
    stored = _requests(session, row.challenge_id, row.digest, 1)
    if deciding_only:
        stored = [r for r in stored if r.request_id.endswith(":validity")]
    return Round1Snapshot(
        state=ReleaseState(row.state),
        contributions=tuple(_contributions(session, row.challenge_id, row.digest)),
        requests=tuple(DecryptionRequest.from_bytes(store.read(r.request_blob)) for r in stored),
        ciphertexts={
            r.request_id: AggregateCiphertext.from_bytes(store.read(r.aggregate_blob))
            for r in stored
        },
        partials=tuple(p for r in stored for p in _partials(session, store, r.request_id).values()),
        reason=row.reason,
    )


def rebuild_round1(
    session: Session, store: BlobStore, context: ChallengeContext, row: UploadedBundle
) -> BundleRelease:
    """Round 1 of ``row`` as the library's state machine, restored from the database."""
    passed = row.state in (ReleaseState.VALID, ReleaseState.SCORING, ReleaseState.RELEASED) or (
        # disputed in round 2 (its score was asked, so round 1 ended valid), not in round 1
        row.state == ReleaseState.DISPUTED
        and bool(_requests(session, row.challenge_id, row.digest, 2))
    )
    snapshot = _round1_snapshot(session, store, row, deciding_only=passed)
    if passed:  # round 2's states are the submission's; its round 1 ended valid
        snapshot = dataclasses.replace(snapshot, state=ReleaseState.VALID)
    bundle = EncryptedBundle.from_bytes(store.read(row.digest))
    return BundleRelease.restore(context, bundle, snapshot)


def _status(row: UploadedBundle | None) -> BundleStatus | None:
    return None if row is None else BundleStatus(row.digest, row.kind, ReleaseState(row.state))


class SqlReleaseLedger:
    """One challenge's release state in ``session`` and ``store``."""

    def __init__(self, session: Session, store: BlobStore, context: ChallengeContext) -> None:
        self.session, self.store, self._context = session, store, context

    @property
    def context(self) -> ChallengeContext:
        return self._context

    @property
    def challenge_id(self) -> str:
        return self._context.challenge_id

    def _row(self, digest: str) -> UploadedBundle | None:
        return self.session.get(UploadedBundle, (self.challenge_id, digest))

    def _labels_row(self) -> UploadedBundle | None:
        return self.session.scalars(
            select(UploadedBundle)
            .where(UploadedBundle.challenge_id == self.challenge_id)
            .where(UploadedBundle.kind == "labels")
        ).one_or_none()

    def status(self, digest: str) -> BundleStatus | None:
        return _status(self._row(digest))

    def labels(self) -> BundleStatus | None:
        return _status(self._labels_row())

    def waiting(self) -> list[str]:
        return list(
            self.session.scalars(
                select(UploadedBundle.digest)
                .where(UploadedBundle.challenge_id == self.challenge_id)
                .where(
                    UploadedBundle.kind == "predictions",
                    UploadedBundle.state == ReleaseState.VALID,
                )
                .order_by(UploadedBundle.submitted_at)
            )
        )

    def round1(self, digest: str) -> BundleRelease:
        row = self._row(digest)
        if row is None:
            raise LookupError(f"no bundle {digest} in {self.challenge_id}")
        return rebuild_round1(self.session, self.store, self._context, row)

    def round2(self, digest: str) -> SubmissionRelease | None:
        row, labels = self._row(digest), self._labels_row()
        if row is None or labels is None:
            return None
        return self._restore_submission(
            row,
            labels,
            2,
            ReleaseState(row.state),
            row.values,
            row.reason,
            self._public_part,
            self.label_histogram,
        )

    def _restore_submission(
        self,
        row: UploadedBundle,
        labels: UploadedBundle,
        round_: int,
        state: ReleaseState,
        released: dict[str, int] | None,
        reason: str,
        part: Part | None,
        histogram: Callable[[str], LabelHistogram | None],
    ) -> SubmissionRelease | None:
        """Round ``round_`` (2, or a split's private round 3) of ``row`` as the library's state
        machine: its one request, aggregate and partials, with the part's stored outcome."""
        stored = _requests(self.session, self.challenge_id, row.digest, round_)
        if len(stored) != 1:
            return None
        snapshot = Round2Snapshot(
            state=state,
            request=DecryptionRequest.from_bytes(self.store.read(stored[0].request_blob)),
            aggregate=AggregateCiphertext.from_bytes(self.store.read(stored[0].aggregate_blob)),
            partials=tuple(_partials(self.session, self.store, stored[0].request_id).values()),
            released=released or {},
            reason=reason,
        )
        decided = state in (ReleaseState.RELEASED, ReleaseState.DISPUTED)
        return SubmissionRelease.restore(
            self._context,
            rebuild_round1(self.session, self.store, self._context, row),
            rebuild_round1(self.session, self.store, self._context, labels),
            snapshot,
            part,
            fixed_histogram=histogram(labels.digest) if decided else None,
        )

    @property
    def _public_part(self) -> Part | None:
        """Round 2's part: the public one in a split challenge, every item without one."""
        return None if self._context.split is None else "public"

    # -- a split's private parts (driver ``private_start`` / ``private_finish``) -------------
    def private_state(self, digest: str) -> str | None:
        row = self._row(digest)
        return None if row is None else row.private_state

    def round3(self, digest: str) -> SubmissionRelease | None:
        row, labels = self._row(digest), self._labels_row()
        if row is None or labels is None or row.private_state in (None, PRIVATE_PENDING):
            return None
        return self._restore_submission(
            row,
            labels,
            3,
            ReleaseState(row.private_state),
            row.private_values,
            row.private_reason,
            "private",
            self.private_histogram,
        )

    def private_histogram(self, labels_digest: str) -> LabelHistogram | None:
        return self._released_histogram(
            labels_digest,
            UploadedBundle.private_values,
            UploadedBundle.private_released_index,
            UploadedBundle.private_state == ReleaseState.RELEASED.value,
        )

    @contextmanager
    def update_private(self, digest: str, expect: str) -> Iterator[SqlReleaseUpdate | None]:
        with self._locked_update(digest, lambda row: row.private_state == expect) as update:
            yield update

    def label_histogram(self, labels_digest: str) -> LabelHistogram | None:
        return self._released_histogram(
            labels_digest,
            UploadedBundle.values,
            UploadedBundle.released_index,
            UploadedBundle.kind == "predictions",
            UploadedBundle.state == ReleaseState.RELEASED,
        )

    def _released_histogram(
        self,
        labels_digest: str,
        values_column: InstrumentedAttribute[dict[str, int] | None],
        index_column: InstrumentedAttribute[int | None],
        *released: ColumnElement[bool],
    ) -> LabelHistogram | None:
        """The fixed label histogram of the part's releases (``released`` selects them).

        One labels bundle per challenge: every release is against it; release order is the
        log's (``index_column``, kept as the release entry is appended).
        """
        labels = self._labels_row()
        if labels is None or labels.digest != labels_digest:
            return None
        rows = self.session.scalars(
            select(values_column)
            .where(UploadedBundle.challenge_id == self.challenge_id)
            .where(*released, index_column.is_not(None))
            .order_by(index_column)
        )
        return fixed_label_histogram((values for values in rows if values), self._context.policy)

    @contextmanager
    def update(
        self, digest: str, expect: Collection[ReleaseState]
    ) -> Iterator[SqlReleaseUpdate | None]:
        with self._locked_update(digest, lambda row: row.state in expect) as update:
            yield update

    @contextmanager
    def _locked_update(
        self, digest: str, expected: Callable[[UploadedBundle], bool]
    ) -> Iterator[SqlReleaseUpdate | None]:
        """Under the challenge's lock, the writes on ``digest``'s re-read row if ``expected``
        of it (else ``None``); the head is signed and committed if anything was written."""
        with challenge_lock(self.session, self.challenge_id):
            row = self._row(digest)
            if row is not None:
                self.session.refresh(row)
            if row is None or not expected(row):
                yield None
                return
            update = SqlReleaseUpdate(self, row)
            yield update
            if update.wrote:
                sign_head(self.session, self.challenge_id)
                self.session.commit()


class SqlReleaseUpdate:
    """The writes of one step on one bundle row (under the challenge's lock)."""

    def __init__(self, ledger: SqlReleaseLedger, row: UploadedBundle) -> None:
        self.ledger, self.row = ledger, row
        self.wrote = False

    @property
    def _session(self) -> Session:
        return self.ledger.session

    def asked_already(self, request_id: str) -> bool:
        return self._session.get(StoredRequest, request_id) is not None

    def _store_request(
        self, request: DecryptionRequest, aggregate: AggregateCiphertext, round_: int
    ) -> None:
        """Log ``request`` and store it with its aggregate ciphertext (idempotent)."""
        context, store = self.ledger.context, self.ledger.store
        append_event(
            self._session,
            store,
            context.challenge_id,
            f"request:{request.request_id}",
            lambda t, k: t.record_request(request, round_, key=k),
        )
        self.wrote = True
        if self.asked_already(request.request_id):
            return
        stored = store.put_bytes(aggregate.to_bytes())
        record_blob(self._session, stored)
        self._session.add(
            StoredRequest(
                request_id=request.request_id,
                challenge_id=context.challenge_id,
                bundle=self.row.digest,
                round=round_,
                request_blob=request.digest,
                aggregate_blob=stored.sha256,
                trustees=[
                    context.record.entry_by_index(i).trustee_id for i in request.active_set.indices
                ],
            )
        )
        self._session.flush()

    def name_liars(self, liars: Sequence[NamedLiar]) -> None:
        """Log each trustee decoding corrected (its ``off-polynomial`` report and its answer)
        as a ``liar`` entry under ``liar:<report digest>``, the key the two-answers path uses
        (``routes/trustee_tasks.py``): once per report. ``ledger.named_liars`` then leaves it
        out of later pad sets."""
        for named in liars:
            append_event(
                self._session,
                self.ledger.store,
                self.ledger.challenge_id,
                f"liar:{named.report.digest}",
                functools.partial(_record_liar, named),
            )
            self.wrote = True

    def _close(self, round_: int) -> None:
        for stored in _requests(self._session, self.ledger.challenge_id, self.row.digest, round_):
            stored.open = False

    def ask_round1(self, release: BundleRelease, requests: Sequence[DecryptionRequest]) -> None:
        for request in requests:
            self._store_request(request, release.ciphertexts[request.request_id], 1)
        self.row.state = release.state
        self.row.active_set = list(release.active.indices)
        self.wrote = True

    def decide_round1(self, release: BundleRelease) -> None:
        digest = self.row.digest
        append_event(
            self._session,
            self.ledger.store,
            self.ledger.challenge_id,
            f"round1:{digest}",
            lambda t, k: t.record_round1(digest, release.state, release.reason, key=k),
        )
        self.row.state = release.state
        self.row.reason = release.reason[:REASON_LENGTH]
        self._close(1)
        self.wrote = True

    def ask_round2(self, submission: SubmissionRelease) -> None:
        if submission.request is None or submission.aggregate is None:
            raise ValueError("round 2 has not started: nothing to ask")
        self._store_request(submission.request, submission.aggregate, 2)
        self.row.state = submission.state
        self.wrote = True

    def _log_release(
        self,
        submission: SubmissionRelease,
        round_: int,
        part: Part | None,
        ladder: LadderDecision | None = None,
    ) -> None:
        """Append the release entry of round ``round_`` (a part_release entry for a part; a
        ladder_release of the shown values under the Ladder)."""
        if submission.request is None:
            raise ValueError(f"round {round_} has not started: nothing to release")
        digest, request_id = self.row.digest, submission.request.request_id
        labels, values = submission.labels.bundle.digest, submission.released
        commitment = None
        if ladder is not None:
            values, commitment = ladder.values, ladder.opening.commitment
        append_event(
            self._session,
            self.ledger.store,
            self.ledger.challenge_id,
            f"release:{request_id}",
            lambda t, k: t.record_release(
                digest, labels, request_id, values, key=k, part=part, commitment=commitment
            ),
        )

    def _ladder(self, submission: SubmissionRelease) -> LadderDecision | None:
        """Under the Ladder, its decision on this release: against the owner's last shown
        count, the released row of the owner with the highest log index (the driver decides
        under the challenge's lock, so in log order)."""
        context = self.ledger.context
        if context.ladder is None or submission.request is None:
            return None
        previous = self._session.scalars(
            select(UploadedBundle.shown)
            .where(
                UploadedBundle.challenge_id == self.ledger.challenge_id,
                UploadedBundle.owner == self.row.owner,
                UploadedBundle.shown.is_not(None),
            )
            .order_by(UploadedBundle.released_index.desc())
            .limit(1)
        ).first()
        last = None if previous is None else int(previous["correct"])
        return ladder_decision(context, last, submission.request.request_id, submission.released)

    def _log_dispute(self, submission: SubmissionRelease, round_: int) -> str:
        """Append the dispute entry of round ``round_``; the reason, cut to its column."""
        if submission.request is None:
            raise ValueError(f"round {round_} has not started: nothing to dispute")
        digest, request_id = self.row.digest, submission.request.request_id
        labels = submission.labels.bundle.digest
        invariant, reason = submission.invariant, submission.reason
        append_event(
            self._session,
            self.ledger.store,
            self.ledger.challenge_id,
            f"dispute:{request_id}",
            lambda t, k: t.record_dispute(digest, labels, request_id, invariant, reason, key=k),
        )
        return reason[:REASON_LENGTH]

    def release(self, submission: SubmissionRelease) -> None:
        # submission.part is "public" in a split challenge: a part_release entry
        ladder = self._ladder(submission)
        self._log_release(submission, 2, submission.part, ladder)
        self.row.values = submission.released
        if ladder is not None:
            self.row.shown, self.row.ladder_nonce = ladder.values, ladder.opening.nonce.hex()
        self.row.state = submission.state
        self._close(2)
        self.wrote = True

    # -- a split's private part (round 3) ---------------------------------------------------
    def ask_private(self, submission: SubmissionRelease) -> None:
        if submission.request is None or submission.aggregate is None:
            raise ValueError("round 3 has not started: nothing to ask")
        self._store_request(submission.request, submission.aggregate, 3)
        self.row.private_state = submission.state.value
        self.wrote = True

    def release_private(self, submission: SubmissionRelease) -> None:
        self._log_release(submission, 3, "private")
        self.row.private_values = submission.released
        self.row.private_state = submission.state.value
        self._close(3)
        self.wrote = True

    def dispute_private(self, submission: SubmissionRelease) -> None:
        reason = self._log_dispute(submission, 3)
        self.row.private_values = None
        self.row.private_state = submission.state.value
        self.row.private_reason = reason
        self._close(3)
        self.wrote = True

    def dispute(self, submission: SubmissionRelease) -> None:
        reason = self._log_dispute(submission, 2)
        self.row.values = None
        self.row.state = submission.state
        self.row.reason = reason
        self._close(2)
        self.wrote = True
