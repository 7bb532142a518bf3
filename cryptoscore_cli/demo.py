"""``cryptoscore demo``: the whole story on real data, in one process.

scikit-learn's bundled handwritten digits (offline): the organizer keeps a 600-image test set;
three participants train their own models on the rest; a fourth, malicious participant
submits a weighted (non-binary) encoding that would leak labels if it were scored. Three
trustees hold a 2-of-3 shared key (one of them is offline); every bundle goes through round 1,
valid submissions through round 2; the audit bundle is exported and verified.

Everything cryptographic is a ``cryptoscore`` call; this module only arranges the story.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import cryptoscore as cs
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.local import LocalChallenge, local_trustees
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.threshold.ceremony import RosterEntry, open_share_file, run_ceremony
from cryptoscore.verify import verify_bundle

CLASSES = 10
TEST_ITEMS = 600


def _models() -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier

    return {
        "alice (logistic regression)": LogisticRegression(max_iter=2000),
        "bob (3-nearest neighbours)": KNeighborsClassifier(n_neighbors=3),
        "carol (naive Bayes)": GaussianNB(),
    }


def run_demo(workdir: Path | None = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the demo; return the JSON report (per participant released vs plaintext scores)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=TEST_ITEMS, random_state=0, stratify=digits.target
    )
    with tempfile.TemporaryDirectory(prefix="cryptoscore-demo-") as tmp:
        work = Path(workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        say("key ceremony: 3 trustees, any 2 decrypt")
        identities = {f"trustee-{i}": TrusteeIdentity.generate() for i in (1, 2, 3)}
        roster = [
            RosterEntry(tid, i + 1, ident.public_key)
            for i, (tid, ident) in enumerate(identities.items())
        ]
        passphrases = {tid: os.urandom(16).hex().encode() for tid in identities}
        ceremony = run_ceremony(cs.BFV8192, roster, 2, passphrases)
        shares = {
            tid: open_share_file(ceremony.share_files[tid], passphrases[tid]) for tid in identities
        }
        policy = cs.ReleasePolicy(CLASSES, ("correct", "errors"))
        organizer = Identity.generate()
        rules = ChallengeRules(organizer.public_key, "open")
        context = ChallengeContext(
            "digits",
            ceremony.record,
            ceremony.public,
            ceremony.evaluation,
            policy,
            TEST_ITEMS,
            rules,
        )
        trustees = local_trustees(shares, identities, work, offline=["trustee-2"])
        challenge = LocalChallenge(context, trustees, Ed25519PrivateKey.generate(), organizer)
        say("organizer: asking the trustees for encryption pads, encrypting 600 test labels")
        challenge.upload_labels(
            cs.encrypt_labels(
                y_test,
                context.public,
                classes=CLASSES,
                challenge="digits",
                pads=challenge.pads("labels"),
            )
        )
        plaintext: dict[str, dict[str, int]] = {}
        for name, model in _models().items():
            model.fit(x_train, y_train)
            predicted = model.predict(x_test)
            correct = int(np.count_nonzero(predicted == y_test))
            plaintext[name] = {"correct": correct, "errors": TEST_ITEMS - correct}
            say(f"{name}: enrolling, encrypting and submitting 600 predictions")
            challenge.enrol(name, Identity.generate())
            bundle = cs.encrypt_predictions(
                predicted,
                context.public,
                classes=CLASSES,
                challenge="digits",
                pads=challenge.pads("predictions", name),
            )
            challenge.submit(name, bundle)
        say("mallory: submitting a weighted encoding (entry i = 2^i) to extract labels")
        challenge.enrol("mallory (weighted encoding)", Identity.generate())
        challenge.submit("mallory (weighted encoding)", _weighted_bundle(challenge))
        audit_path = work / "audit.zip"
        challenge.export_audit_bundle(audit_path)
        report = verify_bundle(audit_path)
        released = challenge.released()
        board = challenge.transcript.leaderboard(policy)
        return {
            "challenge": "digits",
            "test_items": TEST_ITEMS,
            "trustees": {"threshold": 2, "n": 3, "offline": ["trustee-2"]},
            "leaderboard": board,
            "participants": {
                name: {
                    "released": released.get(name),
                    "plaintext": plaintext[name],
                    "equal": released.get(name) == plaintext[name],
                }
                for name in plaintext
            },
            "rejected": challenge.rejected(),
            "audit": {
                "ok": report.ok,
                "checks": {c.name: c.passed for c in report.checks},
                "first_failure": report.first_failure.name if report.first_failure else None,
            },
        }


def _weighted_bundle(challenge: LocalChallenge) -> cs.EncryptedBundle:
    context = challenge.context
    t = context.public.params.PLAIN_MODULUS
    weights = np.array([pow(2, i % 19, t) for i in range(TEST_ITEMS)], dtype=np.int64)
    vectors = [weights.copy() for _ in range(CLASSES)]
    return cs.raw_encrypt_vectors(
        "predictions",
        vectors,
        context.public,
        classes=CLASSES,
        n=TEST_ITEMS,
        challenge="digits",
        pads=challenge.pads("predictions", "mallory (weighted encoding)"),
    )


def format_leaderboard(report: dict[str, Any]) -> str:
    lines = [f"{'rank':>4}  {'participant':32} {'correct':>7} {'accuracy':>8}"]
    for row in report["leaderboard"]:
        correct = row["values"]["correct"]
        lines.append(
            f"{row['rank']:>4}  {row['participant']:32} {correct:>7} "
            f"{correct / report['test_items']:>8.3f}"
        )
    for name, reason in report["rejected"].items():
        lines.append(f"   -  {name:32} rejected in round 1: {reason}")
    lines.append(
        "audit: "
        + (
            "all checks pass"
            if report["audit"]["ok"]
            else f"FAILED at {report['audit']['first_failure']}"
        )
    )
    return "\n".join(lines)
