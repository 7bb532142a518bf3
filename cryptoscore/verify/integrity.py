"""The record's own checks: ``manifest``, ``ceremony-record``, ``log-integrity`` and
``blobs-present`` — the bundle is one a known format, its log the one the service signed, and
every object the log names is present. ``ceremony-record`` also checks a dealerless
ceremony's record on its own: every trustee's signatures, and every trustee's signed
completion naming the record's key."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cryptoscore.errors import CryptoScoreError, FormatError, VerificationError
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.transparency.entries import blob_digests, parse_entry
from cryptoscore.transparency.log import MerkleLog, SignedTreeHead, verify_tree_head
from cryptoscore.transparency.transcript import BUNDLE_FORMAT, BUNDLE_VERSION
from cryptoscore.verify.audit_bundle import AuditBundle, Manifest
from cryptoscore.verify.report import CheckFailed


def check_manifest(bundle: AuditBundle) -> tuple[str, Manifest]:
    m = bundle.manifest
    if m.get("format") != BUNDLE_FORMAT or m.get("version") != BUNDLE_VERSION:
        raise CheckFailed("manifest", "unknown audit bundle format or version")
    try:
        manifest = Manifest(
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(m["service_key"])),
            [SignedTreeHead.from_json(h) for h in m["tree_heads"]],
        )
    except (KeyError, ValueError, TypeError, FormatError) as exc:
        raise CheckFailed("manifest", f"malformed manifest: {exc}") from None
    if not manifest.heads:
        raise CheckFailed("manifest", "no signed tree head")
    return f"challenge {m.get('challenge')}, {len(manifest.heads)} tree heads", manifest


def check_ceremony_record(bundle: AuditBundle) -> tuple[str, ChallengeContext]:
    cer = bundle.of_type("ceremony")
    chal = bundle.of_type("challenge")
    if len(cer) != 1 or len(chal) != 1:
        raise CheckFailed("ceremony-record", "the log needs exactly one ceremony and one challenge")
    try:
        record = CeremonyRecord.from_bytes(bundle.blob(cer[0]["record"], "ceremony-record"))
        summary = _ceremony_summary(record)
        public = PublicContext.from_bytes(bundle.blob(cer[0]["public"], "ceremony-record"))
        evaluation = EvaluationKeys.from_bytes(bundle.blob(cer[0]["evaluation"], "ceremony-record"))
        record.check_keys(public, evaluation)
        raw_definition = bundle.blob(chal[0]["definition"], "ceremony-record")
        definition = json.loads(raw_definition)
        if definition["ceremony"] != record.digest:
            raise CheckFailed("ceremony-record", "the challenge names another ceremony record")
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
            raise CheckFailed("ceremony-record", "the challenge definition is not canonical")
    except CryptoScoreError as exc:
        raise CheckFailed("ceremony-record", str(exc)) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckFailed("ceremony-record", f"malformed challenge definition: {exc}") from None
    return summary, context


def _ceremony_summary(record: CeremonyRecord) -> str:
    """Dealerless: every transcript signature verifies against the roster, each trustee sent
    exactly one message in each of rounds 1-5 and no reveal (the record's own parse), and each
    trustee's signed completion names this key and these confirmations
    (``CeremonyRecord.check_completions``). Dealer: the legacy record, nothing signed to check."""
    who = f"{record.threshold} of {record.n} trustees"
    if record.mode == "dealer":
        return f"dealer (legacy ceremony v1): {who}, key {record.key_id[:16]}…"
    signed = record.verify_signatures()
    record.check_completions()
    return (
        f"dealerless: {who}, {signed} signed messages, every trustee signed key "
        f"{record.key_id[:16]}…"
    )


def check_log_integrity(bundle: AuditBundle, manifest: Manifest) -> tuple[str, MerkleLog]:
    log = MerkleLog()
    for index, raw in enumerate(bundle.raw_entries):
        try:
            parse_entry(raw)  # canonical JSON of a known type with exactly its members
        except FormatError as exc:
            raise CheckFailed("log-integrity", f"entry {index}: {exc}") from None
        log.append(raw)
    heads = manifest.heads
    previous = 0
    for sth in heads:
        try:
            verify_tree_head(sth, manifest.service_key)
        except VerificationError:
            raise CheckFailed(
                "log-integrity", f"tree head of size {sth.size}: bad signature"
            ) from None
        if sth.size < previous or sth.size > log.size:
            raise CheckFailed("log-integrity", f"tree head of size {sth.size} is out of order")
        if log.root(sth.size) != sth.root:
            raise CheckFailed(
                "log-integrity",
                f"the log does not match the signed tree head of size {sth.size} "
                "(an entry was dropped, changed or reordered)",
            )
        previous = sth.size
    if heads[-1].size != log.size:
        raise CheckFailed("log-integrity", "entries beyond the last signed tree head")
    return f"{log.size} entries consistent with {len(heads)} signed tree heads", log


def check_blobs_present(bundle: AuditBundle) -> str:
    count = 0
    for e in bundle.entries:
        try:
            named = blob_digests(e)
        except FormatError as exc:
            raise CheckFailed("blobs-present", str(exc)) from None
        if bundle.withheld_blob(e):
            continue  # a public Ladder bundle leaves out the partials of round-2 requests
        for digest in named:  # each entry type's blobs, named once (transparency/entries)
            bundle.blob(digest, "blobs-present")
            count += 1
        if e.get("type") == "request":  # what followers read without the blob
            try:
                req = DecryptionRequest.from_bytes(bundle.blobs[e["request"]])
            except CryptoScoreError as exc:
                raise CheckFailed("blobs-present", f"a request record: {exc}") from None
            if (req.circuit, list(req.inputs)) != (e["circuit"], e["inputs"]):
                raise CheckFailed(
                    "blobs-present",
                    f"the request entry of {req.request_id} names another circuit or inputs "
                    "than its record",
                )
    return f"{count} logged objects present and matching their hashes"
