"""The checks of what went into the challenge: ``contributions-signed``, ``enrolment``,
``inputs-signed``, ``scored-once`` and ``quotas`` — each input signed by whoever may make it,
and within the challenge's rules."""

from __future__ import annotations

import bisect

from cryptoscore.errors import CryptoScoreError, MismatchError, RefusedError
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution, check_contributions
from cryptoscore.protocol.recompute import pad_set
from cryptoscore.protocol.rules import DAY_MS, ChallengeRules
from cryptoscore.protocol.signed_inputs import Enrolment, verify_pad_request, verify_upload
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.scoring.policy import SCORE_CIRCUITS
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.transparency.log import SignedTreeHead
from cryptoscore.verify.audit_bundle import AuditBundle
from cryptoscore.verify.report import CheckFailed


def _check_each_contribution(
    context: ChallengeContext, digest: str, contributions: list[Contribution], pads: ActiveSet
) -> None:
    """Contributions of a bundle still short of some: each from a distinct trustee of its pad
    set, for this challenge and bundle, signed by its roster key."""
    seen: set[str] = set()
    for c in contributions:
        if c.trustee_id in seen:
            raise RefusedError(f"two contributions from {c.trustee_id!r}")
        seen.add(c.trustee_id)
        if context.record.entry(c.trustee_id).index not in pads.indices:
            raise RefusedError(f"{c.trustee_id!r} is not in the bundle's pad set")
        if (c.challenge_id, c.bundle_digest) != (context.challenge_id, digest):
            raise MismatchError(f"the contribution from {c.trustee_id!r} is for another bundle")
        c.verify(context.record)


def check_contributions_signed(
    bundle: AuditBundle, context: ChallengeContext, in_progress: list[str]
) -> str:
    """Every bundle's round-1 contributions: one per pad-set trustee, each signed by its
    roster key for this challenge and bundle (so the service made none of them up). A
    bundle still short of contributions, with no verdict and no request, is in progress:
    the contributions it has are checked one by one."""
    bundles = bundle.bundles
    started = {req.inputs[0] for req, rnd in bundle.requests.values() if rnd == 1}
    for digest, encrypted in bundles.items():
        contribs = bundle.contributions(context.challenge_id, digest)
        pads = pad_set(encrypted)
        try:
            if (
                len(contribs) < len(pads.indices)
                and digest not in bundle.decided()
                and digest not in started
            ):
                _check_each_contribution(context, digest, contribs, pads)
                in_progress.append(
                    f"bundle {digest[:16]}…: {len(contribs)} of {len(pads.indices)} "
                    "round-1 contributions"
                )
                continue
            check_contributions(context.record, context.challenge_id, digest, contribs, pads)
        except CryptoScoreError as exc:
            raise CheckFailed("contributions-signed", f"bundle {digest[:16]}…: {exc}") from None
    return f"{len(bundle.of_type('contribution'))} contributions signed by their trustees"


def _rules(context: ChallengeContext, check: str) -> ChallengeRules:
    if context.rules is None:
        raise CheckFailed(
            check,
            "the challenge has no participation rules (created before signed inputs): "
            "its inputs are unsigned",
        )
    return context.rules


def check_enrolment(bundle: AuditBundle, context: ChallengeContext) -> tuple[str, dict[str, int]]:
    """Each enrolment is signed by its own identity, for this challenge, is allowed by the
    challenge's rules (invited, if invite-only), and enrols an identity once. Also gives each
    enrolled identity's log index, for ``inputs-signed``."""
    rules = _rules(context, "enrolment")
    enrolled: dict[str, int] = {}
    for index, e in enumerate(bundle.entries):
        if e.get("type") != "enrolment":
            continue
        try:
            enrolment = Enrolment(
                context.challenge_id,
                PublicKey.from_hex(e["identity"]),
                e["name"],
                bytes.fromhex(e["signature"]),
            )
            enrolment.verify()
        except (CryptoScoreError, ValueError, TypeError) as exc:
            raise CheckFailed("enrolment", f"entry {index}: {exc}") from None
        if not rules.may_enrol(enrolment.identity):
            raise CheckFailed("enrolment", f"entry {index}: an identity that was not invited")
        if e["identity"] in enrolled:
            raise CheckFailed("enrolment", f"entry {index}: identity enrolled twice")
        enrolled[e["identity"]] = index
    detail = f"{len(enrolled)} identities enrolled, each signed by itself ({rules.enrolment})"
    return detail, enrolled


def check_inputs_signed(
    bundle: AuditBundle, context: ChallengeContext, enrolled: dict[str, int]
) -> str:
    """Every pad request and bundle is signed by its owner: labels by the organizer key,
    predictions by an identity enrolled before it (so the service made none of them)."""

    def owner(where: str, kind: str, signer: str, index: int) -> None:
        rules = _rules(context, "inputs-signed")
        if kind == "labels":
            if signer != rules.organizer.hex():
                raise CheckFailed(
                    "inputs-signed", f"{where}: labels not signed by the organizer key"
                )
        elif enrolled.get(signer, index) >= index:
            raise CheckFailed(
                "inputs-signed", f"{where}: signed by an identity not enrolled before it"
            )

    pads = bundles = 0
    for index, e in enumerate(bundle.entries):
        kind = e.get("type")
        where = f"entry {index}"
        try:
            if kind == "pad_request":
                request = PadRequest.from_bytes(bundle.blobs[e["request"]])
                verify_pad_request(
                    request, PublicKey.from_hex(e["requester"]), bytes.fromhex(e["signature"])
                )
                owner(where, request.kind, e["requester"], index)
                pads += 1
            elif kind == "bundle":
                if "signer" not in e:
                    raise CheckFailed("inputs-signed", f"{where}: an unsigned bundle")
                verify_upload(
                    PublicKey.from_hex(e["signer"]),
                    bytes.fromhex(e["signature"]),
                    context.challenge_id,
                    e["kind"],
                    e["bundle"],
                )
                owner(where, e["kind"], e["signer"], index)
                bundles += 1
        except (CryptoScoreError, ValueError, TypeError) as exc:
            raise CheckFailed("inputs-signed", f"{where}: {exc}") from None
    return f"{pads} pad requests and {bundles} bundles signed by their owners"


def check_scored_once(bundle: AuditBundle) -> str:
    """One labels bundle; every score request is against it, one per submission and circuit
    (a split's private part: one answered)."""
    labels = [e["bundle"] for e in bundle.of_type("bundle") if e["kind"] == "labels"]
    if len(set(labels)) > 1:
        raise CheckFailed("scored-once", f"the log holds {len(set(labels))} labels bundles")
    scored: set[tuple[str, str]] = set()
    answered = set(bundle.partials)
    for req, round_ in bundle.requests.values():
        if req.circuit not in SCORE_CIRCUITS or round_ == 1:
            continue
        if req.circuit == "score-private/v1" and req.request_id not in answered:
            continue  # a private request no trustee answered (one asked before the close)
        if list(req.inputs[1:]) != labels[:1]:
            raise CheckFailed(
                "scored-once", f"{req.request_id}: scored against another labels bundle"
            )
        if (req.inputs[0], req.circuit) in scored:
            raise CheckFailed(
                "scored-once",
                f"submission {req.inputs[0][:16]}… has a second {req.circuit} request",
            )
        scored.add((req.inputs[0], req.circuit))
    return f"{len(scored)} scores, each submission once per circuit, against the one labels bundle"


def check_quotas(
    bundle: AuditBundle, context: ChallengeContext, heads: list[SignedTreeHead]
) -> str:
    """The log's times never decrease nor pass the first head covering them, and no
    identity has more submissions or pad requests in any 24 hours than the rules allow."""
    rules = _rules(context, "quotas")
    heads = sorted(heads, key=lambda h: h.size)
    covering = 0
    last = -1
    windows: dict[tuple[str, str], list[int]] = {}
    for index, e in enumerate(bundle.entries):
        if "time" not in e:
            continue
        while covering < len(heads) - 1 and heads[covering].size <= index:
            covering += 1
        time_ms = int(e["time"])
        if time_ms < last:
            raise CheckFailed("quotas", f"entry {index}: logged before the entry ahead of it")
        if time_ms > heads[covering].timestamp_ms:
            raise CheckFailed(
                "quotas", f"entry {index}: logged after the head that covers it was signed"
            )
        last = time_ms
        if e["type"] == "pad_request":
            key, limit = ("pad requests", e["requester"]), rules.pad_requests_per_day
        elif e["type"] == "bundle" and e["kind"] == "predictions":
            key, limit = ("submissions", e["signer"]), rules.submissions_per_day
        else:
            continue
        times = windows.setdefault(key, [])
        times.append(time_ms)
        within = len(times) - bisect.bisect_right(times, time_ms - DAY_MS)
        if within > limit:
            raise CheckFailed(
                "quotas",
                f"entry {index}: identity {key[1][:16]}… has {within} {key[0]} in 24 hours, "
                f"the rules allow {limit}",
            )
    counted = sum(len(t) for t in windows.values())
    return f"{counted} submissions and pad requests within their identities' daily quotas"
