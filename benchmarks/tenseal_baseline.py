"""Naive TenSEAL baselines for encrypted binary accuracy.

These are the "what a TenSEAL user would naturally write" baselines that CryptoScore's own
encrypted scoring engine is compared against. A participant holds ``n`` binary predictions
``p`` and an organizer holds ``n`` binary labels ``y``; both are encrypted as BFV vectors and a
server, holding only ciphertexts, computes the number of errors homomorphically::

    E = sum_i (p_i - y_i) ** 2  (= count of p != y for 0/1 values)

The server cannot compute ``sum(p)`` or ``sum(y)`` in plaintext, so both baselines square the
encrypted difference. TenSEAL's BFV ``sum()``/``dot()`` only accept vectors of at most
``N / 2 = 4096`` values, so the data is split into chunks of :data:`CHUNK` values.

* :func:`naive_per_chunk_dot`: per chunk ``d = enc_p - enc_y; d.dot(d)``, then the per-chunk
  one-value ciphertexts are added (one rotate-and-sum per chunk).
* :func:`amortized_sum`: per chunk ``acc += d * d`` (ciphertext x ciphertext multiply), and a
  single ``acc.sum()`` at the end (one rotate-and-sum in total).

Run as ``python -m benchmarks.tenseal_baseline --n 100000``; prints one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass

import numpy as np
import tenseal as ts

POLY_MODULUS_DEGREE = 8192
PLAIN_MODULUS = 1032193
CHUNK = POLY_MODULUS_DEGREE // 2  # largest vector TenSEAL BFV sum()/dot() accept


@dataclass(frozen=True)
class BaselineResult:
    """Measurements of one baseline run.

    Attributes:
        method: ``"tenseal-naive-dot"`` or ``"tenseal-amortized-sum"``.
        n: number of predictions/labels scored.
        chunks: number of ciphertext vectors per side (``ceil(n / 4096)``).
        client_encrypt_seconds: participant's work: encrypting the prediction chunks and
            serializing them for upload (label encryption is not included).
        upload_bytes: total length of the serialized prediction vectors (``vec.serialize()``).
        server_seconds: server work: deserializing the uploaded prediction bytes into vectors
            plus the homomorphic computation of the encrypted error count. Excludes label
            encryption (done beforehand by the organizer) and the final decryption.
        errors: the decrypted error count; callers compare it to ``np.count_nonzero(p != y)``.
    """

    method: str
    n: int
    chunks: int
    client_encrypt_seconds: float
    upload_bytes: int
    server_seconds: float
    errors: int


def make_context() -> ts.Context:
    """Create the BFV context used by both baselines (N=8192, t=1032193, default moduli).

    Galois keys are generated (needed by ``sum``/``dot``); relinearization keys are generated
    if TenSEAL did not already create them (needed by ciphertext x ciphertext multiplies).
    """
    ctx = ts.context(
        ts.SCHEME_TYPE.BFV, poly_modulus_degree=POLY_MODULUS_DEGREE, plain_modulus=PLAIN_MODULUS
    )
    ctx.generate_galois_keys()
    if not ctx.has_relin_keys():
        ctx.generate_relin_keys()
    return ctx


def _check_inputs(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and flatten the 0/1 prediction and label arrays to int64."""
    p_arr = np.asarray(p).reshape(-1).astype(np.int64)
    y_arr = np.asarray(y).reshape(-1).astype(np.int64)
    if p_arr.shape != y_arr.shape:
        raise ValueError(f"p and y differ in length: {p_arr.size} != {y_arr.size}")
    if p_arr.size == 0:
        raise ValueError("p and y must not be empty")
    for name, arr in (("p", p_arr), ("y", y_arr)):
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must contain only 0/1 values")
    return p_arr, y_arr


def _chunks(arr: np.ndarray, pad: bool) -> list[list[int]]:
    """Split ``arr`` into lists of :data:`CHUNK` values; zero-pad the last one if ``pad``."""
    out: list[list[int]] = []
    for start in range(0, arr.size, CHUNK):
        part = arr[start : start + CHUNK].tolist()
        if pad and len(part) < CHUNK:
            part.extend([0] * (CHUNK - len(part)))
        out.append(part)
    return out


def _encrypt_labels(ctx: ts.Context, y: np.ndarray, pad: bool) -> list[ts.BFVVector]:
    """Organizer side: encrypt the label chunks (not timed by the baselines)."""
    return [ts.bfv_vector(ctx, part) for part in _chunks(y, pad)]


def _encrypt_predictions(
    ctx: ts.Context, p: np.ndarray, pad: bool
) -> tuple[list[bytes], float, int]:
    """Participant side: encrypt and serialize prediction chunks.

    Returns the serialized chunks, the seconds spent encrypting and serializing, and the
    total upload size in bytes.
    """
    parts = _chunks(p, pad)
    start = time.perf_counter()
    blobs = [ts.bfv_vector(ctx, part).serialize() for part in parts]
    seconds = time.perf_counter() - start
    return blobs, seconds, sum(len(b) for b in blobs)


def _decrypt_first(vec: ts.BFVVector) -> int:
    """Decrypt ``vec`` and return its first slot as a Python int."""
    return int(vec.decrypt()[0])


def naive_per_chunk_dot(
    p: np.ndarray, y: np.ndarray, ctx: ts.Context | None = None
) -> BaselineResult:
    """Naive baseline: one encrypted ``dot`` per chunk, per-chunk results added.

    Per chunk the server deserializes the prediction vector, computes ``d = enc_p - enc_y``
    and ``d.dot(d)`` (one ct x ct multiply plus a full rotate-and-sum per chunk), and adds the
    one-value result to a running total. The total is decrypted once at the end.
    ``server_seconds`` covers deserialization and this computation, not the decryption.
    """
    p_arr, y_arr = _check_inputs(p, y)
    ctx = make_context() if ctx is None else ctx
    enc_y = _encrypt_labels(ctx, y_arr, pad=False)
    blobs, client_seconds, upload = _encrypt_predictions(ctx, p_arr, pad=False)

    start = time.perf_counter()
    total: ts.BFVVector | None = None
    for blob, label in zip(blobs, enc_y, strict=True):
        enc_p = ts.bfv_vector_from(ctx, blob)
        diff = enc_p - label
        part = diff.dot(diff)
        total = part if total is None else total + part
    server_seconds = time.perf_counter() - start
    assert total is not None  # at least one chunk: inputs are non-empty

    return BaselineResult(
        method="tenseal-naive-dot",
        n=int(p_arr.size),
        chunks=len(blobs),
        client_encrypt_seconds=client_seconds,
        upload_bytes=upload,
        server_seconds=server_seconds,
        errors=_decrypt_first(total),
    )


def amortized_sum(p: np.ndarray, y: np.ndarray, ctx: ts.Context | None = None) -> BaselineResult:
    """Amortized baseline: squared differences accumulated slot-wise, one ``sum`` at the end.

    Per chunk the server deserializes the prediction vector, computes ``d = enc_p - enc_y``
    and ``acc += d * d`` (one ct x ct multiply per chunk); a single ``acc.sum()`` rotate-and-sum
    follows the loop. All vectors must have equal size for ``+``, so the last chunk of both
    predictions and labels is zero-padded to 4096 values (padding contributes ``0``).
    ``server_seconds`` covers deserialization and this computation, not the decryption.
    """
    p_arr, y_arr = _check_inputs(p, y)
    ctx = make_context() if ctx is None else ctx
    enc_y = _encrypt_labels(ctx, y_arr, pad=True)
    blobs, client_seconds, upload = _encrypt_predictions(ctx, p_arr, pad=True)

    start = time.perf_counter()
    acc: ts.BFVVector | None = None
    for blob, label in zip(blobs, enc_y, strict=True):
        enc_p = ts.bfv_vector_from(ctx, blob)
        diff = enc_p - label
        square = diff * diff
        acc = square if acc is None else acc + square
    assert acc is not None  # at least one chunk: inputs are non-empty
    total = acc.sum()
    server_seconds = time.perf_counter() - start

    return BaselineResult(
        method="tenseal-amortized-sum",
        n=int(p_arr.size),
        chunks=len(blobs),
        client_encrypt_seconds=client_seconds,
        upload_bytes=upload,
        server_seconds=server_seconds,
        errors=_decrypt_first(total),
    )


def main(argv: list[str] | None = None) -> int:
    """Run both baselines on random binary data and print one JSON line with the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000, help="number of predictions/labels")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random benchmark data")
    args = parser.parse_args(argv)
    if args.n <= 0:
        parser.error("--n must be positive")

    rng = np.random.default_rng(args.seed)
    p = rng.integers(0, 2, size=args.n, dtype=np.int64)
    y = rng.integers(0, 2, size=args.n, dtype=np.int64)
    expected = int(np.count_nonzero(p != y))

    ctx = make_context()
    results = [naive_per_chunk_dot(p, y, ctx), amortized_sum(p, y, ctx)]
    print(
        json.dumps(
            {
                "n": args.n,
                "seed": args.seed,
                "expected_errors": expected,
                "results": [dataclasses.asdict(r) for r in results],
            }
        )
    )
    return 0 if all(r.errors == expected for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
