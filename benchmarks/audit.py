"""Audit time: ``python -m benchmarks.audit --submissions 20 --n 100000 --json``.

Runs a whole binary challenge in one process (``cryptoscore.local``: 2 of 3 trustees,
round 1 and round 2 for every submission), exports the audit bundle, and times
``verify_bundle`` — which recomputes every round-1 and round-2 ciphertext from the logged
bundles — and, for comparison, the demo's bundle (``--demo``).
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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.verify import verify_bundle
from tests.helpers.committee import Committee


def challenge_bundle(submissions: int, n: int, tmp: Path) -> tuple[Path, float]:
    committee = Committee(2, 3)
    context = committee.context("bench", ReleasePolicy(2, ("correct", "errors")), n)
    local = committee.local_challenge(
        context,
        tmp,
        Ed25519PrivateKey.generate(),
        participants=[f"p{i}" for i in range(submissions)],
    )
    data = np.random.default_rng(3)  # benchmark data, not key material
    y = data.integers(0, 2, n)
    start = time.perf_counter()
    labels = encrypt_labels(
        y, context.public, classes=2, challenge="bench", pads=local.pads("labels")
    )
    local.upload_labels(labels)
    for i in range(submissions):
        p = np.where(data.random(n) < 0.5 + i / (2 * submissions), y, 1 - y)
        pads = local.pads("predictions", f"p{i}")
        preds = encrypt_predictions(p, context.public, classes=2, challenge="bench", pads=pads)
        local.submit(f"p{i}", preds)
    run_seconds = time.perf_counter() - start
    path = tmp / "audit.zip"
    local.export_audit_bundle(path)
    return path, run_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--demo", action="store_true", help="also time the demo's bundle")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        path, run_seconds = challenge_bundle(args.submissions, args.n, tmp)
        start = time.perf_counter()
        result = verify_bundle(path)
        report["challenge"] = {
            "submissions": args.submissions,
            "n": args.n,
            "bundle_bytes": path.stat().st_size,
            "challenge_seconds": round(run_seconds, 2),
            "audit_seconds": round(time.perf_counter() - start, 2),
            "ok": result.ok,
        }
        if args.demo:
            from cryptoscore_cli.demo import run_demo

            run_demo(tmp / "demo", say=lambda _m: None)
            start = time.perf_counter()
            demo_ok = verify_bundle(tmp / "demo" / "audit.zip").ok
            report["demo"] = {"audit_seconds": round(time.perf_counter() - start, 2), "ok": demo_ok}
    print(json.dumps(report, sort_keys=True) if args.json else report)
    return 0 if all(v["ok"] for v in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
