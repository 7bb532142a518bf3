"""``cryptoscore demo``: the whole story on real data, in one process.

scikit-learn's bundled handwritten digits (offline): the organizer keeps a 600-image test set;
three participants train their own models on the rest; a fourth, malicious participant
submits a weighted (non-binary) encoding that would leak labels if it were scored. Three
trustees hold a 2-of-3 shared key (one of them is offline, so the challenge takes
``pad_sets: "any"`` and says so); every bundle goes through round 1,
valid submissions through round 2; the audit bundle is exported and verified.

Everything cryptographic is a ``cryptoscore`` call; this module only arranges the story.
The same story against a running service, over its REST API, is ``demo_serve.py``
(``cryptoscore demo --serve``); the data, models and malicious encoding are shared from here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import cryptoscore as cs
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.local import LocalChallenge, local_trustees
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.threshold.ceremony import RosterEntry
from cryptoscore.threshold.dkg import run_dealerless_ceremony
from cryptoscore.verify import AuditReport, verify_bundle

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


def digits_split(test_items: int = TEST_ITEMS) -> tuple[Any, Any, Any, Any]:
    """scikit-learn's bundled digits (offline) split into training images, ``test_items`` test
    images (stratified, always the same), their training labels and test labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    split: tuple[Any, Any, Any, Any] = train_test_split(
        digits.data, digits.target, test_size=test_items, random_state=0, stratify=digits.target
    )
    return split


def model_predictions(x_train: Any, y_train: Any, x_test: Any) -> Iterator[tuple[str, Any]]:
    """Each participant's name and its model's predictions on ``x_test`` (fitted when asked)."""
    for name, model in _models().items():
        model.fit(x_train, y_train)
        yield name, model.predict(x_test)


def plaintext_scores(predicted: Any, y_test: Any) -> dict[str, int]:
    """What the release must equal: correct and errors, counted in the clear."""
    correct = int(np.count_nonzero(predicted == y_test))
    return {"correct": correct, "errors": int(y_test.size) - correct}


def weighted_vectors(plain_modulus: int, n: int) -> list[Any]:
    """Mallory's encoding: entry i = 2^(i mod 19) in every class's vector (not 0/1), which
    would leak labels if it were ever scored; round 1 rejects it."""
    weights = np.array([pow(2, i % 19, plain_modulus) for i in range(n)], dtype=np.int64)
    return [weights.copy() for _ in range(CLASSES)]


MALLORY = "mallory (weighted encoding)"


def run_demo(workdir: Path | None = None, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the demo; return the JSON report (per participant released vs plaintext scores)."""
    x_train, x_test, y_train, y_test = digits_split()
    with tempfile.TemporaryDirectory(prefix="cryptoscore-demo-") as tmp:
        work = Path(workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        say("dealerless key ceremony: 3 trustees, any 2 decrypt, nobody holds the key")
        identities = {f"trustee-{i}": TrusteeIdentity.generate() for i in (1, 2, 3)}
        roster = [
            RosterEntry(tid, i + 1, ident.public_key)
            for i, (tid, ident) in enumerate(identities.items())
        ]
        ceremony = run_dealerless_ceremony(cs.BFV8192, roster, 2, None, identities=identities)
        shares = dict(ceremony.shares)
        policy = cs.ReleasePolicy(CLASSES, ("correct", "errors"))
        organizer = Identity.generate()
        # trustee-2 stays offline, so pads come from the other two (t of n): "any" pad sets
        rules = ChallengeRules(organizer.public_key, "open", pad_sets="any")
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
        say(
            'pad_sets "any": with trustee-2 offline, pads come from the other two (t of n), so '
            "releases are not checked against a lying trustee (docs/design.md, Checked pad sets)"
        )
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
        for name, predicted in model_predictions(x_train, y_train, x_test):
            plaintext[name] = plaintext_scores(predicted, y_test)
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
        challenge.enrol(MALLORY, Identity.generate())
        challenge.submit(MALLORY, _weighted_bundle(challenge))
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
            "participants": released_vs_plaintext(released, plaintext),
            "rejected": challenge.rejected(),
            "audit": audit_json(report),
            "audit_bundle": str(audit_path) if workdir is not None else None,
        }


def released_vs_plaintext(
    released: dict[str, dict[str, int]], plaintext: dict[str, dict[str, int]]
) -> dict[str, dict[str, Any]]:
    """The report's ``participants``: each one's released and plaintext scores, and whether
    they are equal (they must be)."""
    return {
        name: {
            "released": released.get(name),
            "plaintext": plaintext[name],
            "equal": released.get(name) == plaintext[name],
        }
        for name in plaintext
    }


def audit_json(report: AuditReport) -> dict[str, Any]:
    """The report's ``audit``: passed or not, each check, the first that failed."""
    return {
        "ok": report.ok,
        "checks": {c.name: c.passed for c in report.checks},
        "first_failure": report.first_failure.name if report.first_failure else None,
    }


def _weighted_bundle(challenge: LocalChallenge) -> cs.EncryptedBundle:
    context = challenge.context
    return cs.raw_encrypt_vectors(
        "predictions",
        weighted_vectors(context.public.params.PLAIN_MODULUS, TEST_ITEMS),
        context.public,
        classes=CLASSES,
        n=TEST_ITEMS,
        challenge="digits",
        pads=challenge.pads("predictions", MALLORY),
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
