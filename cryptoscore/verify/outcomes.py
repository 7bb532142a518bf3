"""The checks of what the log says was decided and released: ``round1-verdicts``,
``release-values``, ``release-invariants``, ``released-passed-round1`` and ``leaderboard`` —
each reproduced from the logged partials, combined over the recomputed ciphertexts."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cryptoscore.errors import InconsistentReleaseError, PolicyError, UndecidableAnswersError
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.invariants import (
    ANSWERS_DECODING,
    LabelHistogram,
    check_release,
    fixed_label_histogram,
)
from cryptoscore.protocol.recompute import noise_check_passed, validity_passed
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.policy import Part, part_of_circuit, score_circuit
from cryptoscore.threshold.combine import decrypt_answers
from cryptoscore.transparency.leaderboard import rank, rows_from_entries
from cryptoscore.verify.audit_bundle import AuditBundle
from cryptoscore.verify.report import CheckFailed


class _Decisions:
    """The combiner's own decisions on the logged partials of a request, over its recomputed
    ciphertext."""

    def __init__(
        self,
        bundle: AuditBundle,
        context: ChallengeContext,
        recomputed: Mapping[str, AggregateCiphertext],
    ) -> None:
        self.bundle = bundle
        self.context = context
        self.recomputed = recomputed

    def passed(self, req: DecryptionRequest, decide: Callable[..., bool]) -> bool:
        """``protocol/recompute.noise_check_passed`` / ``validity_passed`` on ``req``."""
        parts = self.bundle.partials.get(req.request_id, [])
        agg = self.recomputed[req.request_id]
        return decide(agg, parts, self.context.record, req.request_id, req.active_set)

    def noisy(self, req: DecryptionRequest) -> bool:
        return not self.passed(req, noise_check_passed)

    def values(self, request_id: str) -> dict[str, int]:
        """The released values the partials of ``request_id`` combine to."""
        req, _ = self.bundle.requests[request_id]
        return decrypt_answers(
            self.recomputed[request_id],
            self.bundle.partials.get(request_id, []),
            self.context.record,
            request_id,
            req.active_set,
            centered=self.context.dp is not None,
        ).values


def _log_positions(bundle: AuditBundle) -> tuple[dict[str, int], dict[str, int]]:
    """Log index of each request, and of the last partial answering each request."""
    requests: dict[str, int] = {}
    last_partial: dict[str, int] = {}
    for i, e in enumerate(bundle.entries):
        if e.get("type") == "request":
            requests[DecryptionRequest.from_bytes(bundle.blobs[e["request"]]).request_id] = i
        elif e.get("type") == "partial":
            last_partial[e["request_id"]] = i
    return requests, last_partial


def _check_validity_asked_after_noise(bundle: AuditBundle, decisions: _Decisions) -> None:
    # V multiplies the inputs: it may be asked for only after every noise check of its
    # bundle was answered and passed (protocol/release.py; SECURITY.md, "The two-round release")
    requested_at, answered_at = _log_positions(bundle)
    threshold = decisions.context.record.threshold
    for req, rnd in bundle.requests.values():
        if rnd != 1 or req.circuit != "validity/v1":
            continue
        checks = [
            r
            for r, n in bundle.requests.values()
            if n == 1 and r.circuit == "noise/v1" and r.inputs == req.inputs
        ]
        late = [
            r
            for r in checks
            if answered_at.get(r.request_id, 1 << 62) > requested_at[req.request_id]
            or len(bundle.partials.get(r.request_id, [])) < threshold
        ]
        if late:
            raise CheckFailed(
                "round1-verdicts",
                f"{req.request_id}: the validity aggregate was asked for before every noise "
                "check of its bundle was answered",
            )
        if any(decisions.noisy(r) for r in checks):
            raise CheckFailed(
                "round1-verdicts",
                f"{req.request_id}: the validity aggregate was asked for although a noise "
                "check failed",
            )


def round1_verdict(
    bundle: AuditBundle, digest: str, passed: Callable[[DecryptionRequest], bool]
) -> tuple[str, bool]:
    """The verdict the logged round-1 requests of bundle ``digest`` give, with ``passed``
    deciding each (a value outside its domain raises :class:`InconsistentReleaseError`:
    ``disputed``), and whether V was asked: valid iff every decision passed."""
    reasons: list[str] = []
    asked_v = False
    for req, rnd in bundle.requests.values():
        if rnd != 1 or req.inputs[0] != digest:
            continue
        asked_v = asked_v or req.circuit == "validity/v1"
        try:
            if not passed(req):
                reasons.append(req.circuit)
        except (InconsistentReleaseError, UndecidableAnswersError):
            # values outside their domain (protocol/invariants.py), or Shamir answers on no one
            # polynomial (answers-decoding, protocol/release.py): a disputed verdict
            reasons.append("disputed")
    verdict = "disputed" if "disputed" in reasons else "invalid" if reasons else "valid"
    return verdict, asked_v


def check_round1_verdicts(
    bundle: AuditBundle,
    context: ChallengeContext,
    recomputed: Mapping[str, AggregateCiphertext],
    in_progress: list[str],
) -> tuple[str, dict[str, str]]:
    """V asked for only after every noise check of its bundle was answered and passed; each
    logged verdict reproduced from the partials. Gives the verdicts by bundle."""
    decisions = _Decisions(bundle, context, recomputed)
    _check_validity_asked_after_noise(bundle, decisions)
    verdicts = {}

    def passed(req: DecryptionRequest) -> bool:
        if req.circuit == "validity/v1":
            return decisions.passed(req, validity_passed)
        return not decisions.noisy(req)

    for e in bundle.of_type("round1"):
        verdict, asked_v = round1_verdict(bundle, e["bundle"], passed)
        if verdict == "valid" and not asked_v:
            raise CheckFailed(
                "round1-verdicts",
                f"bundle {e['bundle'][:16]}… passed its noise checks but has no validity request",
            )
        if verdict != e["verdict"]:
            raise CheckFailed(
                "round1-verdicts",
                f"bundle {e['bundle'][:16]}… logged {e['verdict']}, partials give {verdict}",
            )
        verdicts[e["bundle"]] = verdict
    for digest in bundle.bundles:
        if digest not in verdicts:
            in_progress.append(f"bundle {digest[:16]}…: round 1 has no verdict yet")
    return f"{len(verdicts)} round-1 verdicts reproduced from the partials", verdicts


def check_release_values(
    bundle: AuditBundle,
    context: ChallengeContext,
    recomputed: Mapping[str, AggregateCiphertext],
    in_progress: list[str],
) -> str:
    """Each release equals its partials' combination and names its request's inputs."""
    decisions = _Decisions(bundle, context, recomputed)
    for e in bundle.releases:
        if decisions.values(e["request_id"]) != e["values"]:
            raise CheckFailed(
                "release-values",
                f"{e['request_id']}: released values differ from the partials' combination",
            )
        req, _ = bundle.requests[e["request_id"]]
        if req.inputs != (e["predictions"], e["labels"]):
            raise CheckFailed("release-values", f"{e['request_id']}: release names other inputs")
        part = e.get("part") if e["type"] == "part_release" else None
        if req.circuit != score_circuit(part) or (part is None) != (context.split is None):
            raise CheckFailed(
                "release-values",
                f"{e['request_id']}: a {e['type']} of part {part!r} for a {req.circuit} request",
            )
    _check_private_releases(bundle, context)
    released = {
        e["predictions"]
        for e in (*bundle.releases, *bundle.of_type("dispute"), *bundle.of_type("ladder_release"))
    }
    scoring = {req.inputs[0]: req.request_id for req, rnd in bundle.requests.values() if rnd == 2}
    for e in bundle.of_type("bundle"):
        digest = e["bundle"]
        if e["kind"] != "predictions" or digest in released:
            continue
        if bundle.decided().get(digest) == "valid":
            where = f"score request {scoring[digest]}" if digest in scoring else "no score"
            in_progress.append(f"submission {digest[:16]}…: valid, not yet released ({where})")
    return f"{len(bundle.releases)} releases equal the combined partials"


def _check_private_releases(bundle: AuditBundle, context: ChallengeContext) -> None:
    """A split's private releases (docs/design.md, "Public/private split"): each requested
    after a ``close`` entry dated at or after the close, and at most ``finals`` submissions
    of each identity."""
    split = context.split
    private = [e for e in bundle.releases if bundle.requests[e["request_id"]][1] == 3]
    if split is None or not private:
        return
    entries = bundle.entries
    closed = next(
        (
            i
            for i, e in enumerate(entries)
            if e.get("type") == "close" and int(e["time"]) >= split.closes_ms
        ),
        None,
    )
    asked_at: dict[str, int] = {}
    for i, e in enumerate(entries):
        if e.get("type") == "request":
            request_id = DecryptionRequest.from_bytes(bundle.blobs[e["request"]]).request_id
            asked_at.setdefault(request_id, i)
    signer = {e["bundle"]: e.get("signer", "") for e in bundle.of_type("bundle")}
    per_identity: dict[str, set[str]] = {}
    for e in private:
        if closed is None or asked_at.get(e["request_id"], -1) < closed:
            raise CheckFailed(
                "release-values", f"{e['request_id']}: a private part released before the close"
            )
        per_identity.setdefault(signer.get(e["predictions"], ""), set()).add(e["predictions"])
    for identity, digests in per_identity.items():
        if len(digests) > split.finals:
            raise CheckFailed(
                "release-values",
                f"identity {identity[:16]}… has the private part of {len(digests)} submissions "
                f"released; the challenge allows {split.finals}",
            )


def _part_of(bundle: AuditBundle, request_id: str) -> Part | None:
    """The part a logged score request covers (None: every item, or not a score request)."""
    try:
        return part_of_circuit(bundle.requests[request_id][0].circuit)
    except (KeyError, PolicyError):
        return None


def check_release_invariants(
    bundle: AuditBundle,
    context: ChallengeContext,
    recomputed: Mapping[str, AggregateCiphertext],
) -> str:
    """Every release meets the release invariants (``protocol/invariants.py``) against the label
    histogram the releases before it in the log fixed; every dispute names its request's inputs,
    and its partials do combine to values that break the invariant it names."""
    decisions = _Decisions(bundle, context, recomputed)
    policy = context.policy
    noise = context.release_noise
    # released values by labels bundle and part (a split's parts each fix their own histogram
    # and score their own items), in log order
    earlier: dict[tuple[str, Part | None], list[dict[str, int]]] = {}
    settled: set[str] = set()
    disputes = 0
    for e in bundle.outcomes:
        request_id, labels = e["request_id"], e["labels"]
        if request_id in settled:
            raise CheckFailed("release-invariants", f"{request_id}: released or disputed twice")
        settled.add(request_id)
        part = _part_of(bundle, request_id)
        n = (
            context.n
            if context.split is None or part is None
            else context.split.part_size(part, context.n)
        )
        key = (labels, part)
        fixed: LabelHistogram | None = fixed_label_histogram(earlier.get(key, []), policy)
        if e["type"] != "dispute":
            try:
                check_release(e["values"], policy, n, fixed, noise=noise)
            except InconsistentReleaseError as broken:
                raise CheckFailed(
                    "release-invariants", f"{request_id}: released values break {broken}"
                ) from None
            earlier.setdefault(key, []).append(e["values"])
            continue
        req, _ = bundle.requests[request_id]
        if req.inputs != (e["predictions"], labels):
            raise CheckFailed("release-invariants", f"{request_id}: dispute names other inputs")
        try:
            check_release(decisions.values(request_id), policy, n, fixed, noise=noise)
        except UndecidableAnswersError:
            if e["invariant"] != ANSWERS_DECODING:
                raise CheckFailed(
                    "release-invariants",
                    f"{request_id}: disputed for {e['invariant']}, its answers do not decode "
                    f"({ANSWERS_DECODING})",
                ) from None
            disputes += 1
            continue
        except InconsistentReleaseError as broken:
            if broken.invariant != e["invariant"]:
                raise CheckFailed(
                    "release-invariants",
                    f"{request_id}: disputed for {e['invariant']}, its partials break "
                    f"{broken.invariant}",
                ) from None
            disputes += 1
            continue
        raise CheckFailed(
            "release-invariants",
            f"{request_id}: disputed for {e['invariant']}, but its partials combine to values "
            "that meet every release invariant: it should have been released",
        )
    released = len(settled) - disputes
    return (
        f"{released} releases meet the release invariants; {disputes} disputed releases "
        "break the invariant they name (not released)"
    )


def check_released_passed_round1(bundle: AuditBundle, verdicts: Mapping[str, str]) -> str:
    for e in (*bundle.outcomes, *bundle.of_type("ladder_release")):
        for digest in (e["predictions"], e["labels"]):
            if verdicts.get(digest) != "valid":
                raise CheckFailed(
                    "released-passed-round1",
                    f"bundle {digest[:16]}… was released without passing round 1",
                )
    return "every released submission and its labels passed round 1"


def check_leaderboard(bundle: AuditBundle, context: ChallengeContext) -> str:
    want = rank(rows_from_entries(bundle.entries), context.policy)
    if want != bundle.leaderboard:
        raise CheckFailed("leaderboard", "the leaderboard does not equal the releases")
    return f"{len(want)} leaderboard rows equal the releases"
