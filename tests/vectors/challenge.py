"""Known answers for one whole small challenge, as the VDAF reference pins a whole run.

Every draw is fixed (``Stream``, test-only): the key ceremony (dealerless,
``threshold/dkg/``: the plan's nonce, each trustee's seed, share-file salts and nonces), every
identity, the service's log key, the submitters' pad keys, pad seeds and encryption errors,
each trustee's contributions, pad-share sealing, smudging and noise-check masks, and the
service's clock. A 2-of-3 committee (trustee t3 offline) runs the
labels, one honest submission and one weighted (invalid) submission through both rounds by
the protocol driver (``cryptoscore/protocol/driver.py``). The vector pins the log entry by entry
(RFC 9162 leaf hashes of the canonical entries), its last signed head, and what was released
and rejected; the audit bundle of the run must verify.

Built by :func:`whole_challenge`, which both ``generate.py`` (writing ``vectors.json``) and
``test_vectors.py`` (comparing) call.
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions, raw_encrypt_vectors
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.local import LocalChallenge, LocalTrustee
from cryptoscore.params import BFV8192
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.threshold.ceremony import RosterEntry, open_share_file
from cryptoscore.threshold.dkg import run_dealerless_ceremony
from cryptoscore.threshold.dkg.plan import LEGACY_PLAN_VERSION
from cryptoscore.trustee.agent import TrusteeAgent
from cryptoscore.verify import verify_bundle
from tests.vectors.streams import Stream

CHALLENGE = "whole"
N_ITEMS = 64
POLICY = ReleasePolicy(2, ("correct", "errors"))
PASSPHRASES = {tid: f"passphrase of {tid}".encode() for tid in ("t1", "t2", "t3")}
START_MS = 1_796_601_600_000
"""2026-12-07T00:00:00Z: the service's clock starts here and ticks a second a reading."""


def _bits(label: str) -> np.ndarray:
    """Fixed 0/1 data (SHAKE-256, stable across numpy versions)."""
    raw = hashlib.shake_256(f"cryptoscore/vectors/data/{label}".encode()).digest(N_ITEMS)
    return np.frombuffer(raw, dtype=np.uint8).astype(np.int64) & 1


def _leaf_hash(entry: bytes) -> str:
    """RFC 9162 §2.1.1: SHA-256(0x00 ‖ entry)."""
    return hashlib.sha256(b"\x00" + entry).hexdigest()


def _quiet(_line: str) -> None:
    """Trustees in this process answer directly: nothing to report."""


def whole_challenge() -> dict[str, object]:
    """Run the challenge (see the module docstring) and return what the vector pins."""

    def rng(label: str) -> Stream:
        return Stream(f"challenge/{label}")

    identities = {tid: TrusteeIdentity.generate(rng=rng(f"identity/{tid}")) for tid in PASSPHRASES}
    roster = [
        RosterEntry(tid, i + 1, ident.public_key)
        for i, (tid, ident) in enumerate(identities.items())
    ]
    ceremony = run_dealerless_ceremony(
        BFV8192,
        roster,
        2,
        PASSPHRASES,
        identities=identities,
        created_at="2026-12-07T00:00:00Z",
        rng=rng("ceremony"),
        plan_version=LEGACY_PLAN_VERSION,  # the key these vectors pinned: no PRSS keys
    )
    organizer = Identity.generate(rng=rng("organizer"))
    rules = ChallengeRules(
        organizer=organizer.public_key,
        enrolment="open",
        submissions_per_day=5,
        pad_requests_per_day=10,
    )
    context = ChallengeContext(
        CHALLENGE, ceremony.record, ceremony.public, ceremony.evaluation, POLICY, N_ITEMS, rules
    )
    ticks = itertools.count(START_MS, 1000)
    y = _bits("labels")
    honest = np.where(_bits("mistakes") & _bits("mistakes-2") == 1, 1 - y, y)
    with tempfile.TemporaryDirectory() as tmp:
        trustees = {
            tid: LocalTrustee(
                TrusteeAgent(
                    open_share_file(ceremony.share_files[tid], PASSPHRASES[tid]),
                    identities[tid],
                    Path(tmp) / f"{tid}.journal",
                    say=_quiet,
                    randomness=rng(f"trustee/{tid}"),
                ),
                online=tid != "t3",
            )
            for tid in PASSPHRASES
        }
        local = LocalChallenge(
            context,
            trustees,
            Ed25519PrivateKey.from_private_bytes(rng("service")(32)),
            organizer,
            clock=lambda: next(ticks),
            rng=rng("submitters"),
        )
        for name in ("ann", "bob"):
            local.enrol(name, Identity.generate(rng=rng(name)))
        common = {"classes": 2, "challenge": CHALLENGE}
        labels = encrypt_labels(
            y, context.public, pads=local.pads("labels"), rng=rng("encrypt/labels"), **common
        )
        local.upload_labels(labels)
        ann = encrypt_predictions(
            honest,
            context.public,
            pads=local.pads("predictions", "ann"),
            rng=rng("encrypt/ann"),
            **common,
        )
        local.submit("ann", ann)
        weighted = raw_encrypt_vectors(  # a 2 where a 0/1 belongs: learns more than allowed
            "predictions",
            [np.where(np.arange(BFV8192.POLY_MODULUS_DEGREE) == 0, 2, 0)],
            context.public,
            n=N_ITEMS,
            pads=local.pads("predictions", "bob"),
            rng=rng("encrypt/bob"),
            **common,
        )
        local.submit("bob", weighted)
        audit = Path(tmp) / "audit.zip"
        local.export_audit_bundle(audit)
        report = verify_bundle(audit)
        if not report.ok:
            raise AssertionError(f"the vector's own audit fails: {report.first_failure}")
    head = local.transcript.latest_head()
    assert head is not None
    return {
        "params": BFV8192.ID,
        "key_id": ceremony.public.key_id,
        "evaluation_keys": ceremony.evaluation.digest,
        "ceremony_record": hashlib.sha256(ceremony.record.to_bytes()).hexdigest(),
        "expected": {"correct": int(np.count_nonzero(honest == y)), "n": N_ITEMS},
        "released": local.released(),
        "rejected": local.rejected(),
        "leaves": [_leaf_hash(entry) for entry in local.transcript.entries],
        "head": head.to_json(),
    }
