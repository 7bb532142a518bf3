"""End-to-end throughput of encrypted scoring, against the TenSEAL baselines in the same run.

    python -m benchmarks.scoring --n 1000000 --json

prints one JSON object:

* ``binary``: for n binary predictions and labels — client encryption seconds and upload bytes,
  server seconds (bundle parsing + validity of the submission + score circuit), the peak
  anonymous memory of the server step for n and for n/10 (flat in n: bundles are memory-mapped
  and scored chunk by chunk), and the same task done the naive TenSEAL way (per-chunk ``dot``)
  and the amortized TenSEAL-vector way (products accumulated, one ``sum``, no validity);
* ``binary_pads``: the same with trustee-assisted encryption
  (``cryptoscore.threshold.pad_shares``, what threshold challenges require): the seconds for 2
  trustees to make the pads and the client to open them, client encryption, upload bytes (c0 only),
  and the server step (which now expands every c1 from the bundle's seed);
* ``ratios``: TenSEAL server seconds / ours, our upload bytes / TenSEAL's;
* ``k10_accuracy`` and ``k10_confusion``: K = 10 one-hot tasks on ``--n-multiclass`` items.

Without ``--json`` a table is printed instead. Data is random (numpy's generator: benchmark
data, not key material); released values are checked against numpy and the run fails loudly
if any differs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.tenseal_baseline import amortized_sum, naive_per_chunk_dot
from cryptoscore import (
    BFV8192,
    EncryptedBundle,
    KeySet,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    generate_keys,
    score,
    validity,
)
from cryptoscore.scoring.decryption import decrypt_aggregate
from cryptoscore.scoring.validity import is_valid


def _rss_anon_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakMemory:
    """Peak anonymous resident memory above the starting point, sampled every 5 ms."""

    def __init__(self) -> None:
        self.base = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_anon_bytes())

    def __enter__(self) -> PeakMemory:
        self.base = self.peak = _rss_anon_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_anon_bytes())

    @property
    def growth_mib(self) -> float:
        return round((self.peak - self.base) / 2**20, 1)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _expected(p: np.ndarray, y: np.ndarray, policy: ReleasePolicy) -> dict[str, int]:
    out = {"correct": int(np.count_nonzero(p == y)), "errors": int(np.count_nonzero(p != y))}
    for a in range(policy.classes):
        for b in range(policy.classes):
            out[f"confusion:{a}:{b}"] = int(np.count_nonzero((p == a) & (y == b)))
    return {k: out[k] for k in policy.aggregate_names()}


def run_ours(
    keys: KeySet,
    p: np.ndarray,
    y: np.ndarray,
    classes: int,
    metrics: tuple[str, ...],
    tmp: Path,
    committee: Any = None,
) -> dict[str, Any]:
    """Client encryption to a file, then the server step: parse, validity, score. With a
    ``committee`` (tests/helpers/committee.py) the bundles are encrypted with its trustees' pads."""
    pred_path, label_path = tmp / "predictions.bundle", tmp / "labels.bundle"
    policy = ReleasePolicy(classes, metrics)
    extra: dict[str, Any] = {}
    label_pads = pred_pads = None
    if committee is not None:
        keys = committee.keys
        context = committee.context("bench", policy, int(p.size))
        label_pads = committee.pads(context, "labels", tmp / "journals")
        pred_pads, pads_s = _timed(lambda: committee.pads(context, "predictions", tmp / "journals"))
        extra["pads_seconds"] = round(pads_s, 3)
        extra["pads"] = context.layout.ciphertexts
    encrypt_labels(
        y, keys.public, classes=classes, challenge="bench", out=label_path, pads=label_pads
    )
    _, client_s = _timed(
        lambda: encrypt_predictions(
            p, keys.public, classes=classes, challenge="bench", out=pred_path, pads=pred_pads
        )
    )
    seed = secrets.token_bytes(32)

    def server() -> tuple[Any, Any]:
        preds = EncryptedBundle.open(pred_path)
        labels = EncryptedBundle.open(label_path)
        check = validity(preds, seed, keys.evaluation)
        return check, score(preds, labels, policy, keys.evaluation)

    with PeakMemory() as mem:
        (check, result), server_s = _timed(server)
    _, validity_s = _timed(lambda: validity(EncryptedBundle.open(pred_path), seed, keys.evaluation))
    released = decrypt_aggregate(result, keys.secret)
    if released != _expected(p, y, policy) or not is_valid(decrypt_aggregate(check, keys.secret)):
        raise SystemExit(f"released values differ from numpy: {released}")
    return {
        "n": int(p.size),
        "classes": classes,
        "metrics": list(metrics),
        "client_encrypt_seconds": round(client_s, 3),
        "upload_bytes": pred_path.stat().st_size,
        "server_seconds": round(server_s, 3),
        "server_validity_seconds": round(validity_s, 3),
        "server_score_seconds": round(server_s - validity_s, 3),
        "server_peak_memory_growth_mib": mem.growth_mib,
        "released": released if len(released) <= 3 else f"{len(released)} aggregates",
    } | extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="binary items")
    parser.add_argument("--n-multiclass", type=int, default=100_000, help="K=10 items")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--skip-naive", action="store_true", help="skip the per-chunk dot run")
    args = parser.parse_args(argv)
    data = np.random.default_rng(args.seed)
    keys = generate_keys(BFV8192)
    report: dict[str, Any] = {"params": BFV8192.ID, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="cryptoscore-bench-") as tmpdir:
        tmp = Path(tmpdir)
        p = data.integers(0, 2, args.n)
        y = data.integers(0, 2, args.n)
        # warm up (SEAL memory pools, key loading) so memory growth compares like with like
        run_ours(keys, p[:100], y[:100], 2, ("correct", "errors"), tmp)
        small = max(1, args.n // 10)
        ours_small = run_ours(keys, p[:small], y[:small], 2, ("correct", "errors"), tmp)
        ours = run_ours(keys, p, y, 2, ("correct", "errors"), tmp)
        ours["server_peak_memory_growth_mib_at_n_over_10"] = ours_small[
            "server_peak_memory_growth_mib"
        ]
        report["binary"] = ours
        from tests.helpers.committee import Committee

        report["binary_pads"] = run_ours(
            keys, p, y, 2, ("correct", "errors"), tmp, committee=Committee(2, 3)
        )
        amortized = amortized_sum(p, y)
        report["tenseal_amortized_sum"] = amortized.__dict__ | {"note": "no validity check"}
        if not args.skip_naive:
            naive = naive_per_chunk_dot(p, y)
            report["tenseal_naive_dot"] = naive.__dict__ | {"note": "no validity check"}
        expected_errors = int(np.count_nonzero(p != y))
        for key in ("tenseal_amortized_sum", "tenseal_naive_dot"):
            if key in report and report[key]["errors"] != expected_errors:
                raise SystemExit(f"{key} computed a wrong count")
        ratios = {
            "server_speedup_vs_tenseal_amortized": round(
                amortized.server_seconds / ours["server_seconds"], 2
            ),
            "upload_bytes_vs_tenseal": round(ours["upload_bytes"] / amortized.upload_bytes, 3),
            "client_encrypt_vs_tenseal": round(
                ours["client_encrypt_seconds"] / amortized.client_encrypt_seconds, 2
            ),
            "pads_upload_bytes_vs_tenseal": round(
                report["binary_pads"]["upload_bytes"] / amortized.upload_bytes, 3
            ),
            "pads_server_speedup_vs_tenseal_amortized": round(
                amortized.server_seconds / report["binary_pads"]["server_seconds"], 2
            ),
        }
        if not args.skip_naive:
            ratios["server_speedup_vs_tenseal_naive_dot"] = round(
                naive.server_seconds / ours["server_seconds"], 2
            )
        report["ratios"] = ratios
        m = args.n_multiclass
        pk = data.integers(0, 10, m)
        yk = np.where(data.random(m) < 0.8, pk, data.integers(0, 10, m))
        report["k10_accuracy"] = run_ours(keys, pk, yk, 10, ("correct",), tmp)
        report["k10_confusion"] = run_ours(keys, pk, yk, 10, ("confusion",), tmp)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        _print_table(report)
    return 0


def _print_table(report: dict[str, Any]) -> None:
    rows = [("task", "client s", "upload MB", "server s", "peak MiB")]
    for key in (
        "binary",
        "binary_pads",
        "k10_accuracy",
        "k10_confusion",
        "tenseal_amortized_sum",
        "tenseal_naive_dot",
    ):
        if key not in report:
            continue
        r = report[key]
        peak = r.get("server_peak_memory_growth_mib")
        rows.append(
            (
                f"{key} n={r['n']}",
                f"{r['client_encrypt_seconds']:.2f}",
                f"{r['upload_bytes'] / 1e6:.1f}",
                f"{r['server_seconds']:.2f}",
                "-" if peak is None else f"{peak:.0f}",
            )
        )
    width = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)))
    for name, value in report["ratios"].items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    sys.exit(main())
