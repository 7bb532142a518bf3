"""The accuracy cost of differential-privacy noise on the demo (docs/design.md,
"Differential-privacy release"): the demo's 600 digits, 10 classes and three models, a
dealerless 2-of-3 committee, policy correct/errors at rho per release; each model's same
predictions submitted ``runs`` times through the whole protocol (pads, round 1, the trustees'
noised partials, combination). Prints, per model, released − plaintext ``correct`` over the
runs (mean, sample standard deviation, mean absolute value) beside the stated standard
deviation √(t·σ²) and expected absolute error √(2/π)·√(t·σ²).

    python -m benchmarks.dp_accuracy [--runs 10] [--rho 0.1]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import cryptoscore as cs
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.local import LocalChallenge, local_trustees
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.rules import ChallengeRules, DpRule
from cryptoscore.threshold.ceremony import RosterEntry
from cryptoscore.threshold.dkg import run_dealerless_ceremony
from cryptoscore_cli.demo import CLASSES, TEST_ITEMS, digits_split, model_predictions


def measure(runs: int, rho: float) -> list[dict[str, Any]]:
    """One row per model: the released − plaintext figures over ``runs`` releases."""
    x_train, x_test, y_train, y_test = digits_split()
    identities = {f"trustee-{i}": TrusteeIdentity.generate() for i in (1, 2, 3)}
    roster = [
        RosterEntry(tid, i + 1, ident.public_key)
        for i, (tid, ident) in enumerate(identities.items())
    ]
    ceremony = run_dealerless_ceremony(cs.BFV8192, roster, 2, None, identities=identities)
    policy = cs.ReleasePolicy(CLASSES, ("correct", "errors"))
    organizer = Identity.generate()
    dp = DpRule(rho=rho, budget=rho * runs)
    rules = ChallengeRules(
        organizer.public_key,
        "open",
        submissions_per_day=runs,
        pad_requests_per_day=2 * runs,
        dp=dp,
    )
    context = ChallengeContext(
        "digits", ceremony.record, ceremony.public, ceremony.evaluation, policy, TEST_ITEMS, rules
    )
    noise = context.release_noise
    assert noise is not None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cryptoscore-dp-") as tmp:
        trustees = local_trustees(dict(ceremony.shares), identities, Path(tmp))
        challenge = LocalChallenge(context, trustees, Ed25519PrivateKey.generate(), organizer)
        challenge.upload_labels(
            cs.encrypt_labels(
                y_test,
                context.public,
                classes=CLASSES,
                challenge="digits",
                pads=challenge.pads("labels"),
            )
        )
        for name, predicted in model_predictions(x_train, y_train, x_test):
            exact = int((predicted == y_test).sum())
            challenge.enrol(name, Identity.generate())
            diffs: list[int] = []
            for _ in range(runs):
                bundle = cs.encrypt_predictions(
                    predicted,
                    context.public,
                    classes=CLASSES,
                    challenge="digits",
                    pads=challenge.pads("predictions", name),
                )
                assert challenge.submit(name, bundle) == "released"
                diffs.append(challenge.released()[name]["correct"] - exact)
            rows.append(
                {
                    "model": name,
                    "runs": runs,
                    "exact": exact,
                    "mean": statistics.fmean(diffs),
                    "sd": statistics.stdev(diffs),
                    "mean_abs": statistics.fmean(abs(d) for d in diffs),
                    "stated_sd": math.sqrt(noise.variance("correct")),
                    "stated_abs": noise.expected_abs_error("correct"),
                    "diffs": diffs,
                }
            )
    pooled = [d for r in rows for d in r["diffs"]]
    rows.append(
        rows[0]
        | {
            "model": "all models pooled",
            "runs": len(pooled),
            "exact": 0,
            "mean": statistics.fmean(pooled),
            "sd": statistics.stdev(pooled),
            "mean_abs": statistics.fmean(abs(d) for d in pooled),
        }
    )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'model':<30} {'runs':>4} {'exact':>5} {'mean':>7} {'sd':>6} {'mean|d|':>7} "
        f"{'stated sd':>9} {'stated E|d|':>11}"
    ]
    for r in rows:
        lines.append(
            f"{r['model']!s:<30} {r['runs']:>4} {r['exact']:>5} {r['mean']:>7.2f} "
            f"{r['sd']:>6.2f} {r['mean_abs']:>7.2f} {r['stated_sd']:>9.2f} "
            f"{r['stated_abs']:>11.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rho", type=float, default=0.1)
    args = parser.parse_args()
    print(f"rho {args.rho} per release, t = 2 of 3, {TEST_ITEMS} items, policy correct,errors")
    print(table(measure(args.runs, args.rho)))


if __name__ == "__main__":
    main()
