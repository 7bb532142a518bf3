"""The checks of the trustees' answers: ``partials-valid``, ``single-use``, ``share-exposure``
and ``log-views`` — each logged partial is from a roster trustee of its request's active set,
no trustee decrypted one ciphertext twice or exposed its share beyond the lineage rules, and
each answered on a head of this very log."""

from __future__ import annotations

from collections.abc import Mapping

from cryptoscore.errors import CryptoScoreError, MismatchError, RefusedError
from cryptoscore.protocol.answer import lineage_claim
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.threshold.combine import verify_partial, verify_partials
from cryptoscore.threshold.liars import LiarReport
from cryptoscore.threshold.lineage import LineageClaim, LineageRecord, check_claim
from cryptoscore.threshold.partial import PartialDecryption, c1_digest
from cryptoscore.transparency.log import MerkleLog
from cryptoscore.verify.audit_bundle import AuditBundle
from cryptoscore.verify.report import CheckFailed


def _settled(bundle: AuditBundle, req: DecryptionRequest, round_: int) -> bool:
    """Whether something logged rests on ``req``'s answers: a round-1 request of a bundle
    with a verdict, a round-2 (or a split's round-3) request with a release."""
    if round_ == 1:
        return req.inputs[0] in bundle.decided()
    return req.request_id in bundle.released()


def check_partials_valid(
    bundle: AuditBundle,
    context: ChallengeContext,
    recomputed: Mapping[str, AggregateCiphertext],
    in_progress: list[str],
) -> str:
    """Exactly t partials per request something logged rests on (fewer, each checked, for
    one nothing rests on yet), from distinct roster trustees of its set, signed by them."""
    count = 0
    for request_id, parts in bundle.partials.items():
        if request_id not in bundle.requests:
            raise CheckFailed("partials-valid", f"partials for an unlogged request {request_id}")
        req, rnd = bundle.requests[request_id]
        agg = recomputed[request_id]
        try:
            if len(parts) < context.record.threshold and not _settled(bundle, req, rnd):
                req.active_set.check(context.record)
                if len({p.index for p in parts}) != len(parts):
                    raise MismatchError("two partials of one trustee")
                for p in parts:  # each checked as it will be in the full set
                    verify_partial(agg, p, context.record, request_id, req.active_set)
                in_progress.append(
                    f"{request_id}: {len(parts)} of {context.record.threshold} partials"
                )
            else:
                verify_partials(agg, parts, context.record, request_id, req.active_set)
        except CryptoScoreError as exc:
            raise CheckFailed("partials-valid", f"{request_id}: {exc}") from None
        count += len(parts)
    return f"{count} partials signed by roster trustees of their active sets"


def check_single_use(bundle: AuditBundle, recomputed: Mapping[str, AggregateCiphertext]) -> str:
    answered: dict[tuple[str, str], str] = {}
    for request_id, parts in bundle.partials.items():
        c1 = c1_digest(recomputed[request_id])
        for p in parts:
            key = (p.trustee_id, c1)
            if key in answered and answered[key] != request_id:
                raise CheckFailed(
                    "single-use",
                    f"{p.trustee_id} answered the same ciphertext in {answered[key]} and "
                    f"{request_id}",
                )
            answered[key] = request_id
    return f"{len(answered)} (trustee, ciphertext) answers, none repeated"


def check_share_exposure(bundle: AuditBundle) -> str:
    # lineage.py: per trustee, one active set per lineage, each slot once, within budget;
    # round 1 of a bundle under its pad set only (pads are not logged, their set is)
    claims: dict[str, LineageClaim] = {}
    for req, _ in bundle.requests.values():
        try:
            claims[req.request_id] = lineage_claim(req, bundle.bundles)
        except RefusedError as exc:
            raise CheckFailed("share-exposure", f"{req.request_id}: {exc}") from None
    answers: dict[tuple[str, str], list[LineageRecord]] = {}
    for p in bundle.partials_in_order:  # replayed in the order the trustees answered
        claim = claims[p.request_id]
        records = answers.setdefault((p.trustee_id, claim.lineage), [])
        try:
            check_claim(claim, records)
        except RefusedError as exc:
            raise CheckFailed("share-exposure", f"{p.trustee_id}, {p.request_id}: {exc}") from None
        records.append(LineageRecord(claim.lineage, claim.slot, claim.active_set, p.request_id))
    count = sum(len(r) for r in answers.values())
    lineages = {lineage for _, lineage in answers}
    return f"{count} answers on {len(lineages)} lineages, one active set each"


def check_log_views(bundle: AuditBundle, log: MerkleLog) -> str:
    """Every partial names the log head its trustee followed, and that head is a head of
    this log that already held the partial's request: no trustee answered on a log the
    service showed it alone (docs/design.md, "Following the log")."""
    requested: dict[str, int] = {}
    for index, e in enumerate(bundle.entries):
        if e.get("type") == "request":
            rid = DecryptionRequest.from_bytes(bundle.blobs[e["request"]]).request_id
            requested.setdefault(rid, index)
    count = 0
    for request_id, parts in bundle.partials.items():
        for p in parts:
            view = p.log_view
            where = f"{p.trustee_id}, {request_id}"
            if view is None:
                raise CheckFailed("log-views", f"{where}: the partial names no log head")
            if view.size > log.size or log.root(view.size) != view.root:
                raise CheckFailed(
                    "log-views",
                    f"{where}: answered on a log head (size {view.size}) that is not this "
                    "log's: the trustee was shown another log",
                )
            if requested.get(request_id, log.size) >= view.size:
                raise CheckFailed(
                    "log-views", f"{where}: answered on a log that did not hold the request"
                )
            count += 1
    return f"{count} partials answered on heads of this log"


def check_liars(
    bundle: AuditBundle, context: ChallengeContext, recomputed: Mapping[str, AggregateCiphertext]
) -> str:
    """Every ``liar`` entry re-runs: its report (``threshold/liars.LiarReport``) holds on
    exactly the partials it names — the logged ones of its request and the entry's own."""
    entries = bundle.of_type("liar")
    for e in entries:
        try:
            report = LiarReport.from_bytes(bundle.blobs[e["report"]])
            extra = PartialDecryption.from_bytes(bundle.blobs[e["partial"]])
            if (report.trustee_id, report.request_id, report.finding) != (
                e["trustee"],
                e["request_id"],
                e["finding"],
            ):
                raise MismatchError("the entry and its report name different findings")
            if report.request_id not in recomputed:
                raise MismatchError(f"no logged request {report.request_id}")
            named = {digest for _, digest in report.answers}
            pool = {p.digest: p for p in (*bundle.partials.get(report.request_id, []), extra)}
            report.check(
                context.record, recomputed[report.request_id], [pool[d] for d in named if d in pool]
            )
        except CryptoScoreError as exc:
            raise CheckFailed("liars", f"{e.get('trustee')}: {exc}") from None
    names = sorted({e["trustee"] for e in entries})
    return f"{len(entries)} liar reports re-run" + (
        f" (naming {', '.join(names)})" if names else ""
    )
