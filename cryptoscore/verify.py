"""The verifier: an auditor checks a challenge's audit bundle and recomputes every released number.

:func:`verify_bundle` needs no secret. It reads the bundle (the zip format of
:mod:`cryptoscore.transparency.transcript`), runs the named checks in order and returns a
report (ElectionGuard-verifier style): ``manifest``, ``ceremony-record``, ``log-integrity``,
``blobs-present``, ``contributions-signed``, ``enrolment``, ``inputs-signed``, ``scored-once``,
``quotas``, ``round1-recomputed``, ``release-recomputed``,
``partials-valid``, ``single-use``, ``share-exposure``, ``round1-verdicts`` (which also checks
that each validity request came after its bundle's noise checks were answered and passed),
``release-values``, ``released-passed-round1``, ``leaderboard``, ``log-views``. What each
check means:
docs/audit.md and docs/design.md, "Verifier".
"""

from __future__ import annotations

import bisect
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cryptoscore.errors import (
    CryptoScoreError,
    FormatError,
    MismatchError,
    RefusedError,
    VerificationError,
)
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.answer import lineage_claim
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import (
    Contribution,
    check_contributions,
    derive_seed,
    round1_seed,
)
from cryptoscore.protocol.recompute import (
    noise_check_passed,
    pad_set,
    recompute,
    validity_passed,
)
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.protocol.rules import DAY_MS, ChallengeRules
from cryptoscore.protocol.signed_inputs import Enrolment, verify_pad_request, verify_upload
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.threshold.combine import combine, verify_partial, verify_partials
from cryptoscore.threshold.lineage import LineageClaim, LineageRecord, check_claim
from cryptoscore.threshold.partial import PartialDecryption, c1_digest
from cryptoscore.transparency.entries import blob_digests, parse_entry
from cryptoscore.transparency.leaderboard import rank, rows_from_entries
from cryptoscore.transparency.log import (
    MerkleLog,
    SignedTreeHead,
    verify_tree_head,
)
from cryptoscore.transparency.transcript import BUNDLE_FORMAT, BUNDLE_VERSION, sha256_hex

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
    "round1-verdicts",
    "release-values",
    "released-passed-round1",
    "leaderboard",
    "log-views",
)


# -- the verifier ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


@dataclass
class AuditReport:
    """Each check's result, and the work a live challenge has not finished yet.

    ``ok``: every check passed — nothing in the record is wrong. ``in_progress`` lists what is
    still under way (a bundle whose round 1 has no verdict yet, a request short of partials
    that nothing logged depends on, a valid submission not yet released); ``complete``: ok and
    nothing under way. Completeness is relaxed only where nothing logged depends on the
    missing work: every entry present is checked in full, and whatever a logged verdict or
    release rests on must be complete (docs/audit.md, "Work in progress")."""

    checks: list[CheckResult] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def complete(self) -> bool:
        return self.ok and not self.in_progress

    @property
    def first_failure(self) -> CheckResult | None:
        return next((c for c in self.checks if not c.passed), None)


class _Failed(Exception):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name
        self.detail = detail


@dataclass
class _Bundle:
    manifest: dict[str, Any]
    entries: list[dict[str, Any]]
    raw_entries: list[bytes]
    blobs: dict[str, bytes]
    leaderboard: list[dict[str, Any]]


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


def _read_zip(path: str | Path) -> _Bundle:
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            raw_log = zf.read("log.jsonl")
            blobs = {
                name.removeprefix("blobs/"): zf.read(name)
                for name in zf.namelist()
                if name.startswith("blobs/") and name != "blobs/"
            }
            leaderboard = json.loads(zf.read("leaderboard.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise _Failed("manifest", f"not a readable audit bundle: {exc}") from None
    raw_entries = [line for line in raw_log.split(b"\n") if line]
    try:
        entries = [json.loads(line) for line in raw_entries]
    except json.JSONDecodeError:
        raise _Failed("log-integrity", "a log entry is not JSON") from None
    return _Bundle(manifest, entries, raw_entries, blobs, leaderboard)


def verify_bundle(path: str | Path) -> AuditReport:
    """Auditor: run every check on an audit bundle; stops at the first failed check."""
    report = AuditReport()
    state: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], str]]] = []
    try:
        bundle = _read_zip(path)
    except _Failed as failure:
        report.checks.append(CheckResult(failure.name, False, failure.detail))
        return report
    v = _Verifier(bundle, state)
    steps = [(name, getattr(v, "check_" + name.replace("-", "_"))) for name in CHECKS]
    for name, step in steps:
        try:
            detail = step()
        except _Failed as failure:
            report.checks.append(CheckResult(failure.name, False, failure.detail))
            return report
        except CryptoScoreError as exc:
            report.checks.append(CheckResult(name, False, str(exc)))
            return report
        report.checks.append(CheckResult(name, True, detail))
    report.in_progress = list(dict.fromkeys(v.in_progress))
    return report


class _Verifier:
    """One method per named check; each raises _Failed or returns a one-line detail."""

    def __init__(self, bundle: _Bundle, state: dict[str, Any]) -> None:
        self.b = bundle
        self.s = state
        self.in_progress: list[str] = []

    def _decided(self) -> dict[str, str]:
        """Bundles with a logged round-1 verdict (their round 1 must be complete)."""
        return {e["bundle"]: e["verdict"] for e in self._entries("round1")}

    def _released(self) -> set[str]:
        """Requests with a logged release (their partials must be complete)."""
        return {e["request_id"] for e in self._entries("release")}

    def _settled(self, req: DecryptionRequest, round_: int) -> bool:
        """Whether something logged rests on ``req``'s answers: a round-1 request of a bundle
        with a verdict, a round-2 request with a release."""
        if round_ == 1:
            return req.inputs[0] in self._decided()
        return req.request_id in self._released()

    def _entries(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.b.entries if e.get("type") == kind]

    def _blob(self, digest: str, check: str) -> bytes:
        data = self.b.blobs.get(digest)
        if data is None or sha256_hex(data) != digest:
            raise _Failed(check, f"object {digest[:16]}… is missing or does not match its hash")
        return data

    def check_manifest(self) -> str:
        m = self.b.manifest
        if m.get("format") != BUNDLE_FORMAT or m.get("version") != BUNDLE_VERSION:
            raise _Failed("manifest", "unknown audit bundle format or version")
        try:
            self.s["service_key"] = Ed25519PublicKey.from_public_bytes(
                bytes.fromhex(m["service_key"])
            )
            self.s["heads"] = [SignedTreeHead.from_json(h) for h in m["tree_heads"]]
        except (KeyError, ValueError, TypeError, FormatError) as exc:
            raise _Failed("manifest", f"malformed manifest: {exc}") from None
        if not self.s["heads"]:
            raise _Failed("manifest", "no signed tree head")
        return f"challenge {m.get('challenge')}, {len(self.s['heads'])} tree heads"

    def check_ceremony_record(self) -> str:
        cer = self._entries("ceremony")
        chal = self._entries("challenge")
        if len(cer) != 1 or len(chal) != 1:
            raise _Failed("ceremony-record", "the log needs exactly one ceremony and one challenge")
        try:
            record = CeremonyRecord.from_bytes(self._blob(cer[0]["record"], "ceremony-record"))
            public = PublicContext.from_bytes(self._blob(cer[0]["public"], "ceremony-record"))
            evaluation = EvaluationKeys.from_bytes(
                self._blob(cer[0]["evaluation"], "ceremony-record")
            )
            record.check_keys(public, evaluation)
            raw_definition = self._blob(chal[0]["definition"], "ceremony-record")
            definition = json.loads(raw_definition)
            if definition["ceremony"] != record.digest:
                raise _Failed("ceremony-record", "the challenge names another ceremony record")
            policy = ReleasePolicy.from_json(definition["policy"])
            rules = definition.get("rules")
            context = ChallengeContext(
                definition["id"],
                record,
                public,
                evaluation,
                policy,
                int(definition["n"]),
                None if rules is None else ChallengeRules.from_json(rules),
            )
            if context.definition() != raw_definition:
                raise _Failed("ceremony-record", "the challenge definition is not canonical")
        except CryptoScoreError as exc:
            raise _Failed("ceremony-record", str(exc)) from None
        except (KeyError, ValueError, TypeError) as exc:
            raise _Failed("ceremony-record", f"malformed challenge definition: {exc}") from None
        self.s["context"] = context
        return f"{record.threshold} of {record.n} trustees, key {record.key_id[:16]}…"

    def check_log_integrity(self) -> str:
        log = MerkleLog()
        for index, raw in enumerate(self.b.raw_entries):
            try:
                parse_entry(raw)  # canonical JSON of a known type with exactly its members
            except FormatError as exc:
                raise _Failed("log-integrity", f"entry {index}: {exc}") from None
            log.append(raw)
        self.s["log"] = log
        heads: list[SignedTreeHead] = self.s["heads"]
        previous = 0
        for sth in heads:
            try:
                verify_tree_head(sth, self.s["service_key"])
            except VerificationError:
                raise _Failed(
                    "log-integrity", f"tree head of size {sth.size}: bad signature"
                ) from None
            if sth.size < previous or sth.size > log.size:
                raise _Failed("log-integrity", f"tree head of size {sth.size} is out of order")
            if log.root(sth.size) != sth.root:
                raise _Failed(
                    "log-integrity",
                    f"the log does not match the signed tree head of size {sth.size} "
                    "(an entry was dropped, changed or reordered)",
                )
            previous = sth.size
        if heads[-1].size != log.size:
            raise _Failed("log-integrity", "entries beyond the last signed tree head")
        return f"{log.size} entries consistent with {len(heads)} signed tree heads"

    def check_blobs_present(self) -> str:
        count = 0
        for e in self.b.entries:
            try:
                named = blob_digests(e)
            except FormatError as exc:
                raise _Failed("blobs-present", str(exc)) from None
            for digest in named:  # each entry type's blobs, named once (transparency/entries)
                self._blob(digest, "blobs-present")
                count += 1
            if e.get("type") == "request":  # what followers read without the blob
                try:
                    req = DecryptionRequest.from_bytes(self.b.blobs[e["request"]])
                except CryptoScoreError as exc:
                    raise _Failed("blobs-present", f"a request record: {exc}") from None
                if (req.circuit, list(req.inputs)) != (e["circuit"], e["inputs"]):
                    raise _Failed(
                        "blobs-present",
                        f"the request entry of {req.request_id} names another circuit or inputs "
                        "than its record",
                    )
        return f"{count} logged objects present and matching their hashes"

    def _bundles(self) -> dict[str, EncryptedBundle]:
        if "bundles" not in self.s:
            self.s["bundles"] = {
                e["bundle"]: EncryptedBundle.from_bytes(self.b.blobs[e["bundle"]])
                for e in self._entries("bundle")
            }
        out: dict[str, EncryptedBundle] = self.s["bundles"]
        return out

    def _requests(self) -> dict[str, tuple[DecryptionRequest, int]]:
        if "requests" not in self.s:
            self.s["requests"] = {}
            for e in self._entries("request"):
                req = DecryptionRequest.from_bytes(self.b.blobs[e["request"]])
                self.s["requests"][req.request_id] = (req, int(e["round"]))
        out: dict[str, tuple[DecryptionRequest, int]] = self.s["requests"]
        return out

    def _contributions(self, digest: str) -> list[Contribution]:
        context: ChallengeContext = self.s["context"]
        try:
            return [
                Contribution(
                    context.challenge_id,
                    e["bundle"],
                    e["trustee"],
                    bytes.fromhex(e["randomness"]),
                    bytes.fromhex(e["signature"]),
                )
                for e in self._entries("contribution")
                if e["bundle"] == digest
            ]
        except (ValueError, TypeError, CryptoScoreError) as exc:
            raise _Failed("contributions-signed", f"malformed contribution: {exc}") from None

    def check_contributions_signed(self) -> str:
        """Every bundle's round-1 contributions: one per pad-set trustee, each signed by its
        roster key for this challenge and bundle (so the service made none of them up). A
        bundle still short of contributions, with no verdict and no request, is in progress:
        the contributions it has are checked one by one."""
        context: ChallengeContext = self.s["context"]
        bundles = self._bundles()
        started = {req.inputs[0] for req, rnd in self._requests().values() if rnd == 1}
        for digest, bundle in bundles.items():
            contribs = self._contributions(digest)
            pads = pad_set(bundle)
            try:
                if (
                    len(contribs) < len(pads.indices)
                    and digest not in self._decided()
                    and digest not in started
                ):
                    _check_each_contribution(context, digest, contribs, pads)
                    self.in_progress.append(
                        f"bundle {digest[:16]}…: {len(contribs)} of {len(pads.indices)} "
                        "round-1 contributions"
                    )
                    continue
                check_contributions(context.record, context.challenge_id, digest, contribs, pads)
            except CryptoScoreError as exc:
                raise _Failed("contributions-signed", f"bundle {digest[:16]}…: {exc}") from None
        return f"{len(self._entries('contribution'))} contributions signed by their trustees"

    def _rules(self, check: str) -> ChallengeRules:
        context: ChallengeContext = self.s["context"]
        if context.rules is None:
            raise _Failed(
                check,
                "the challenge has no participation rules (created before signed inputs): "
                "its inputs are unsigned",
            )
        return context.rules

    def check_enrolment(self) -> str:
        """Each enrolment is signed by its own identity, for this challenge, is allowed by the
        challenge's rules (invited, if invite-only), and enrols an identity once."""
        context: ChallengeContext = self.s["context"]
        rules = self._rules("enrolment")
        enrolled: dict[str, int] = {}
        for index, e in enumerate(self.b.entries):
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
                raise _Failed("enrolment", f"entry {index}: {exc}") from None
            if not rules.may_enrol(enrolment.identity):
                raise _Failed("enrolment", f"entry {index}: an identity that was not invited")
            if e["identity"] in enrolled:
                raise _Failed("enrolment", f"entry {index}: identity enrolled twice")
            enrolled[e["identity"]] = index
        self.s["enrolled"] = enrolled
        return f"{len(enrolled)} identities enrolled, each signed by itself ({rules.enrolment})"

    def _owner(self, check: str, where: str, kind: str, signer: str, index: int) -> None:
        rules = self._rules(check)
        if kind == "labels":
            if signer != rules.organizer.hex():
                raise _Failed(check, f"{where}: labels not signed by the organizer key")
        elif self.s["enrolled"].get(signer, index) >= index:
            raise _Failed(check, f"{where}: signed by an identity not enrolled before it")

    def check_inputs_signed(self) -> str:
        """Every pad request and bundle is signed by its owner: labels by the organizer key,
        predictions by an identity enrolled before it (so the service made none of them)."""
        context: ChallengeContext = self.s["context"]
        pads = bundles = 0
        for index, e in enumerate(self.b.entries):
            kind = e.get("type")
            where = f"entry {index}"
            try:
                if kind == "pad_request":
                    request = PadRequest.from_bytes(self.b.blobs[e["request"]])
                    verify_pad_request(
                        request, PublicKey.from_hex(e["requester"]), bytes.fromhex(e["signature"])
                    )
                    self._owner("inputs-signed", where, request.kind, e["requester"], index)
                    pads += 1
                elif kind == "bundle":
                    if "signer" not in e:
                        raise _Failed("inputs-signed", f"{where}: an unsigned bundle")
                    verify_upload(
                        PublicKey.from_hex(e["signer"]),
                        bytes.fromhex(e["signature"]),
                        context.challenge_id,
                        e["kind"],
                        e["bundle"],
                    )
                    self._owner("inputs-signed", where, e["kind"], e["signer"], index)
                    bundles += 1
            except (CryptoScoreError, ValueError, TypeError) as exc:
                raise _Failed("inputs-signed", f"{where}: {exc}") from None
        return f"{pads} pad requests and {bundles} bundles signed by their owners"

    def check_scored_once(self) -> str:
        """One labels bundle; every score request is against it, one per submission."""
        labels = [e["bundle"] for e in self._entries("bundle") if e["kind"] == "labels"]
        if len(set(labels)) > 1:
            raise _Failed("scored-once", f"the log holds {len(set(labels))} labels bundles")
        scored: set[str] = set()
        for req, round_ in self._requests().values():
            if req.circuit != "score/v1" or round_ != 2:
                continue
            if list(req.inputs[1:]) != labels[:1]:
                raise _Failed(
                    "scored-once", f"{req.request_id}: scored against another labels bundle"
                )
            if req.inputs[0] in scored:
                raise _Failed(
                    "scored-once", f"submission {req.inputs[0][:16]}… has a second score request"
                )
            scored.add(req.inputs[0])
        return f"{len(scored)} submissions scored once each, against the one labels bundle"

    def check_quotas(self) -> str:
        """The log's times never decrease nor pass the first head covering them, and no
        identity has more submissions or pad requests in any 24 hours than the rules allow."""
        rules = self._rules("quotas")
        heads: list[SignedTreeHead] = sorted(self.s["heads"], key=lambda h: h.size)
        covering = 0
        last = -1
        windows: dict[tuple[str, str], list[int]] = {}
        for index, e in enumerate(self.b.entries):
            if "time" not in e:
                continue
            while covering < len(heads) - 1 and heads[covering].size <= index:
                covering += 1
            time_ms = int(e["time"])
            if time_ms < last:
                raise _Failed("quotas", f"entry {index}: logged before the entry ahead of it")
            if time_ms > heads[covering].timestamp_ms:
                raise _Failed(
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
                raise _Failed(
                    "quotas",
                    f"entry {index}: identity {key[1][:16]}… has {within} {key[0]} in 24 hours, "
                    f"the rules allow {limit}",
                )
        counted = sum(len(t) for t in windows.values())
        return f"{counted} submissions and pad requests within their identities' daily quotas"

    def check_round1_recomputed(self) -> str:
        context: ChallengeContext = self.s["context"]
        bundles = self._bundles()
        recomputed = {}
        for digest, bundle in bundles.items():
            contribs = self._contributions(digest)
            if len(contribs) < len(pad_set(bundle).indices):
                continue  # in progress (contributions-signed said so, or failed)
            seed = round1_seed(digest, contribs)
            r1 = [
                (req, rnd)
                for req, rnd in self._requests().values()
                if rnd == 1 and req.inputs[0] == digest
            ]
            checked = sorted(req.index for req, _ in r1 if req.circuit == "noise/v1")
            validity_requests = [req for req, _ in r1 if req.circuit == "validity/v1"]
            every = list(range(bundle.layout.ciphertexts))
            if (
                digest not in self._decided()
                and len(validity_requests) <= 1
                and len(set(checked)) == len(checked)
                and set(checked) < set(every)
                and not validity_requests
            ):
                self.in_progress.append(
                    f"bundle {digest[:16]}…: round 1 has asked {len(checked)} of "
                    f"{len(every)} noise checks"
                )
            elif len(validity_requests) > 1 or checked != every:
                raise _Failed(
                    "round1-recomputed",
                    f"bundle {digest[:16]}… lacks a noise check of every ciphertext or has "
                    "more than one validity request",
                )
            for req, _ in r1:
                want = derive_seed(seed, b"validity") if req.circuit == "validity/v1" else b""
                if req.seed != want:
                    raise _Failed(
                        "round1-recomputed",
                        f"{req.request_id}: seed not derived from the contributions",
                    )
                agg = recompute(req, context, bundles)
                if agg.ciphertext_digest != req.ciphertext_digest:
                    raise _Failed(
                        "round1-recomputed", f"{req.request_id}: ciphertext does not recompute"
                    )
                recomputed[req.request_id] = agg
        self.s["recomputed"] = recomputed
        return f"{len(recomputed)} round-1 ciphertexts recomputed from the logged bundles"

    def check_release_recomputed(self) -> str:
        context: ChallengeContext = self.s["context"]
        count = 0
        for req, rnd in self._requests().values():
            if rnd != 2:
                continue
            if req.circuit != "score/v1":
                raise _Failed(
                    "release-recomputed", f"{req.request_id}: round 2 must be the score circuit"
                )
            try:
                agg = recompute(req, context, self._bundles())
            except CryptoScoreError as exc:
                raise _Failed("release-recomputed", f"{req.request_id}: {exc}") from None
            if agg.ciphertext_digest != req.ciphertext_digest:
                raise _Failed(
                    "release-recomputed",
                    f"{req.request_id}: the decrypted ciphertext is not the published circuit's",
                )
            self.s["recomputed"][req.request_id] = agg
            count += 1
        return f"{count} released ciphertexts recomputed with the published policy"

    def _partials(self) -> dict[str, list[PartialDecryption]]:
        if "partials" not in self.s:
            out: dict[str, list[PartialDecryption]] = {}
            in_order = []
            for e in self._entries("partial"):
                p = PartialDecryption.from_bytes(self.b.blobs[e["partial"]])
                out.setdefault(p.request_id, []).append(p)
                in_order.append(p)
            self.s["partials"] = out
            self.s["partials_in_order"] = in_order
        result: dict[str, list[PartialDecryption]] = self.s["partials"]
        return result

    def check_partials_valid(self) -> str:
        context: ChallengeContext = self.s["context"]
        count = 0
        for request_id, parts in self._partials().items():
            if request_id not in self._requests():
                raise _Failed("partials-valid", f"partials for an unlogged request {request_id}")
            req, rnd = self._requests()[request_id]
            agg = self.s["recomputed"][request_id]
            try:
                if len(parts) < context.record.threshold and not self._settled(req, rnd):
                    req.active_set.check(context.record)
                    if len({p.index for p in parts}) != len(parts):
                        raise MismatchError("two partials of one trustee")
                    for p in parts:  # each checked as it will be in the full set
                        verify_partial(agg, p, context.record, request_id, req.active_set)
                    self.in_progress.append(
                        f"{request_id}: {len(parts)} of {context.record.threshold} partials"
                    )
                else:
                    verify_partials(agg, parts, context.record, request_id, req.active_set)
            except CryptoScoreError as exc:
                raise _Failed("partials-valid", f"{request_id}: {exc}") from None
            count += len(parts)
        return f"{count} partials signed by roster trustees of their active sets"

    def check_single_use(self) -> str:
        answered: dict[tuple[str, str], str] = {}
        for request_id, parts in self._partials().items():
            c1 = c1_digest(self.s["recomputed"][request_id])
            for p in parts:
                key = (p.trustee_id, c1)
                if key in answered and answered[key] != request_id:
                    raise _Failed(
                        "single-use",
                        f"{p.trustee_id} answered the same ciphertext in {answered[key]} and "
                        f"{request_id}",
                    )
                answered[key] = request_id
        return f"{len(answered)} (trustee, ciphertext) answers, none repeated"

    def check_share_exposure(self) -> str:
        # lineage.py: per trustee, one active set per lineage, each slot once, within budget;
        # round 1 of a bundle under its pad set only (pads are not logged, their set is)
        claims: dict[str, LineageClaim] = {}
        for req, _ in self._requests().values():
            try:
                claims[req.request_id] = lineage_claim(req, self._bundles())
            except RefusedError as exc:
                raise _Failed("share-exposure", f"{req.request_id}: {exc}") from None
        self._partials()
        answers: dict[tuple[str, str], list[LineageRecord]] = {}
        for p in self.s["partials_in_order"]:
            claim = claims[p.request_id]
            records = answers.setdefault((p.trustee_id, claim.lineage), [])
            try:
                check_claim(claim, records)
            except RefusedError as exc:
                raise _Failed("share-exposure", f"{p.trustee_id}, {p.request_id}: {exc}") from None
            records.append(LineageRecord(claim.lineage, claim.slot, claim.active_set, p.request_id))
        count = sum(len(r) for r in answers.values())
        lineages = {lineage for _, lineage in answers}
        return f"{count} answers on {len(lineages)} lineages, one active set each"

    def _combine(self, request_id: str, measure: bool = False) -> Any:
        context: ChallengeContext = self.s["context"]
        req, _ = self._requests()[request_id]
        return combine(
            self.s["recomputed"][request_id],
            self._partials().get(request_id, []),
            context.record,
            request_id,
            req.active_set,
            measure_noise=measure,
        )

    def _log_positions(self) -> tuple[dict[str, int], dict[str, int]]:
        """Log index of each request, and of the last partial answering each request."""
        requests: dict[str, int] = {}
        last_partial: dict[str, int] = {}
        for i, e in enumerate(self.b.entries):
            if e.get("type") == "request":
                requests[DecryptionRequest.from_bytes(self.b.blobs[e["request"]]).request_id] = i
            elif e.get("type") == "partial":
                last_partial[e["request_id"]] = i
        return requests, last_partial

    def check_round1_verdicts(self) -> str:
        # V multiplies the inputs: it may be asked for only after every noise check of its
        # bundle was answered and passed (protocol/release.py; SECURITY.md, "The two-round release")
        requested_at, answered_at = self._log_positions()
        for req, rnd in self._requests().values():
            if rnd != 1 or req.circuit != "validity/v1":
                continue
            checks = [
                r
                for r, n in self._requests().values()
                if n == 1 and r.circuit == "noise/v1" and r.inputs == req.inputs
            ]
            threshold = self.s["context"].record.threshold
            late = [
                r
                for r in checks
                if answered_at.get(r.request_id, 1 << 62) > requested_at[req.request_id]
                or len(self._partials().get(r.request_id, [])) < threshold
            ]
            if late:
                raise _Failed(
                    "round1-verdicts",
                    f"{req.request_id}: the validity aggregate was asked for before every noise "
                    "check of its bundle was answered",
                )
            if any(self._noisy(r) for r in checks):
                raise _Failed(
                    "round1-verdicts",
                    f"{req.request_id}: the validity aggregate was asked for although a noise "
                    "check failed",
                )
        verdicts = {}
        for e in self._entries("round1"):
            reasons = []
            asked_v = False
            for req, rnd in self._requests().values():
                if rnd != 1 or req.inputs[0] != e["bundle"]:
                    continue
                if req.circuit == "validity/v1":
                    asked_v = True
                    if not self._passed(req, validity_passed):
                        reasons.append("validity")
                elif self._noisy(req):
                    reasons.append("noise")
            if not reasons and not asked_v:
                raise _Failed(
                    "round1-verdicts",
                    f"bundle {e['bundle'][:16]}… passed its noise checks but has no validity "
                    "request",
                )
            verdict = "invalid" if reasons else "valid"
            if verdict != e["verdict"]:
                raise _Failed(
                    "round1-verdicts",
                    f"bundle {e['bundle'][:16]}… logged {e['verdict']}, partials give {verdict}",
                )
            verdicts[e["bundle"]] = verdict
        self.s["verdicts"] = verdicts
        for digest in self._bundles():
            if digest not in verdicts:
                self.in_progress.append(f"bundle {digest[:16]}…: round 1 has no verdict yet")
        return f"{len(verdicts)} round-1 verdicts reproduced from the partials"

    def _passed(self, req: DecryptionRequest, decide: Callable[..., bool]) -> bool:
        """The combiner's own decision (``protocol/recompute.noise_check_passed`` /
        ``validity_passed``) on the logged partials of ``req``."""
        context: ChallengeContext = self.s["context"]
        parts = self._partials().get(req.request_id, [])
        agg = self.s["recomputed"][req.request_id]
        return decide(agg, parts, context.record, req.request_id, req.active_set)

    def _noisy(self, req: DecryptionRequest) -> bool:
        return not self._passed(req, noise_check_passed)

    def check_release_values(self) -> str:
        for e in self._entries("release"):
            out = self._combine(e["request_id"])
            if out.values != e["values"]:
                raise _Failed(
                    "release-values",
                    f"{e['request_id']}: released values differ from the partials' combination",
                )
            req, _ = self._requests()[e["request_id"]]
            if req.inputs != (e["predictions"], e["labels"]):
                raise _Failed("release-values", f"{e['request_id']}: release names other inputs")
        released = {e["predictions"] for e in self._entries("release")}
        scoring = {
            req.inputs[0]: req.request_id for req, rnd in self._requests().values() if rnd == 2
        }
        for e in self._entries("bundle"):
            digest = e["bundle"]
            if e["kind"] != "predictions" or digest in released:
                continue
            if self._decided().get(digest) == "valid":
                where = f"score request {scoring[digest]}" if digest in scoring else "no score"
                self.in_progress.append(
                    f"submission {digest[:16]}…: valid, not yet released ({where})"
                )
        return f"{len(self._entries('release'))} releases equal the combined partials"

    def check_released_passed_round1(self) -> str:
        for e in self._entries("release"):
            for digest in (e["predictions"], e["labels"]):
                if self.s["verdicts"].get(digest) != "valid":
                    raise _Failed(
                        "released-passed-round1",
                        f"bundle {digest[:16]}… was released without passing round 1",
                    )
        return "every released submission and its labels passed round 1"

    def check_log_views(self) -> str:
        """Every partial names the log head its trustee followed, and that head is a head of
        this log that already held the partial's request: no trustee answered on a log the
        service showed it alone (docs/design.md, "Following the log")."""
        log: MerkleLog = self.s["log"]
        requested: dict[str, int] = {}
        for index, e in enumerate(self.b.entries):
            if e.get("type") == "request":
                rid = DecryptionRequest.from_bytes(self.b.blobs[e["request"]]).request_id
                requested.setdefault(rid, index)
        count = 0
        for request_id, parts in self._partials().items():
            for p in parts:
                view = p.log_view
                where = f"{p.trustee_id}, {request_id}"
                if view is None:
                    raise _Failed("log-views", f"{where}: the partial names no log head")
                if view.size > log.size or log.root(view.size) != view.root:
                    raise _Failed(
                        "log-views",
                        f"{where}: answered on a log head (size {view.size}) that is not this "
                        "log's: the trustee was shown another log",
                    )
                if requested.get(request_id, log.size) >= view.size:
                    raise _Failed(
                        "log-views", f"{where}: answered on a log that did not hold the request"
                    )
                count += 1
        return f"{count} partials answered on heads of this log"

    def check_leaderboard(self) -> str:
        context: ChallengeContext = self.s["context"]
        want = rank(rows_from_entries(self.b.entries), context.policy)
        if want != self.b.leaderboard:
            raise _Failed("leaderboard", "the leaderboard does not equal the releases")
        return f"{len(want)} leaderboard rows equal the releases"
