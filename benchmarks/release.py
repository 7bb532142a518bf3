"""Cost of the two-round release for one submission (N = 8192, t = 3 of 5 trustees).

    python -m benchmarks.release --n 1000000 --json

prints one JSON object: the service's round-1 computation (validity aggregate + noise check),
one trustee's round-1 work (making its contribution, recomputing both ciphertexts, two partial
decryptions), the combination of round 1, and round 2 (score, one trustee's recompute and
partial, combination) — for n binary predictions against encrypted labels.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.release import BundleRelease, SubmissionRelease
from cryptoscore.threshold.active_set import ActiveSet
from tests.helpers.committee import Committee

TRUSTEES = ("trustee-1", "trustee-2", "trustee-3")


def _round1(
    committee: Committee, context: ChallengeContext, bundle: Any, tmp: Path, timings: dict
) -> BundleRelease:
    active = ActiveSet.of(committee.record, TRUSTEES)
    release = BundleRelease(context, bundle, active)
    start = time.perf_counter()
    release.add_contribution(committee.contribute(TRUSTEES[0], context, bundle.digest, tmp))
    timings["trustee_contribution_seconds"] = time.perf_counter() - start
    for tid in TRUSTEES[1:]:
        release.add_contribution(committee.contribute(tid, context, bundle.digest, tmp))
    # the same phases as the service: noise checks, their verdict, then V and its verdict
    start = time.perf_counter()
    requests = release.start(f"r1-{bundle.digest[:8]}")
    timings["service_round1_seconds"] = time.perf_counter() - start
    while requests:
        evidence = {bundle.digest: release.evidence()}  # trustees check noise before V
        for tid in TRUSTEES:
            start = time.perf_counter()
            for request in requests:
                release.add_partial(
                    committee.answer(tid, request, context, {bundle.digest: bundle}, tmp, evidence)
                )
            if tid == TRUSTEES[0]:
                timings["trustee_round1_seconds"] = (
                    timings.get("trustee_round1_seconds", 0.0) + time.perf_counter() - start
                )
        start = time.perf_counter()
        requests = release.advance()  # combining (and, after the noise checks, computing V)
        timings["combine_round1_seconds"] = (
            timings.get("combine_round1_seconds", 0.0) + time.perf_counter() - start
        )
    return release


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data = np.random.default_rng(1)  # benchmark data, not key material
    committee = Committee(3, 5)
    context = committee.context("bench", ReleasePolicy(2, ("correct", "errors")), args.n)
    y = data.integers(0, 2, args.n)
    p = np.where(data.random(args.n) < 0.8, y, 1 - y)
    report: dict[str, Any] = {"n": args.n, "trustees": "3 of 5", "params": "bfv-8192"}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        public = committee.keys.public
        pads = committee.pads(context, "labels", tmp / "pads", TRUSTEES)
        labels = encrypt_labels(y, public, classes=2, challenge="bench", pads=pads)
        start = time.perf_counter()
        pads = committee.pads(context, "predictions", tmp / "pads", TRUSTEES)
        pad_seconds = time.perf_counter() - start
        start = time.perf_counter()
        preds = encrypt_predictions(p, public, classes=2, challenge="bench", pads=pads)
        report["pads"] = {
            # the three trustees answer one after the other here; in a deployment in parallel
            "trustees_and_open_seconds": round(pad_seconds, 3),
            "client_encrypt_seconds": round(time.perf_counter() - start, 3),
            "pads": preds.layout.ciphertexts,
        }
        label_release = _round1(committee, context, labels, tmp / "labels", {})
        round1: dict[str, float] = {}
        sub_release = _round1(committee, context, preds, tmp / "preds", round1)
        report["round1"] = {k: round(v, 3) for k, v in round1.items()}
        report["round1"]["valid"] = sub_release.state == "valid"
        sub = SubmissionRelease(context, sub_release, label_release)
        start = time.perf_counter()
        request = sub.start("r2", ActiveSet.of(committee.record, TRUSTEES))
        round2 = {"service_score_seconds": time.perf_counter() - start}
        bundles = {preds.digest: preds, labels.digest: labels}
        # each trustee re-checks both bundles' round 1 (recombining the noise checks and
        # recomputing V) before it answers the score: included in its time
        evidence = {preds.digest: sub_release.evidence(), labels.digest: label_release.evidence()}
        for tid in TRUSTEES:
            start = time.perf_counter()
            sub.add_partial(
                committee.answer(tid, request, context, bundles, tmp / "round2", evidence)
            )
            round2.setdefault("trustee_round2_seconds", time.perf_counter() - start)
        start = time.perf_counter()
        released = sub.finish()
        round2["combine_round2_seconds"] = time.perf_counter() - start
        report["round2"] = {k: round(v, 3) for k, v in round2.items()}
        if released != {"correct": int((p == y).sum()), "errors": int((p != y).sum())}:
            raise SystemExit(f"released values differ from numpy: {released}")
        report["released"] = released
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for section in ("round1", "round2"):
            for key, value in report[section].items():
                print(f"{section:7} {key:32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
