"""The validity aggregate V: is an encrypted bundle a well-formed 0/1 (one-hot) encoding?

Without this check a malicious participant could encrypt weights such as 2^i instead of 0/1
and turn one released "score" into a vector of labels (DESIGN.md, "Validity"). Before any
score of a submission is decrypted, the service computes from the submission alone, for each
of m independent checks j,

    V_j = Σ_i R_j[i] · Σ_k Σ_c ρ_j[k, c] · (P_kc[i]² − P_kc[i])            (entries are 0/1)
        + Σ_i R'_j[i] · Σ_k ρ'_j[k] · (Σ_c P_kc[i] − [row (k, i) is real])   (K ≥ 3: one-hot
                                                                               rows, zero padding)
        + Σ_{i padding} R'_j[i] · P_last[i]                                   (K = 2: zero padding)

where k runs over chunks, c over the class vectors, i over the N slots, and the weights
R, R' (one per slot) and ρ, ρ' (one per chunk and vector) are uniform in [1, t), derived from
a seed with SHAKE-256 (FIPS 202) by rejection sampling. The seed is an input: the release
protocol draws it from trustee contributions *after* the bundle is fixed, so the submitter
cannot predict it. Each V_j must decrypt to 0.

Soundness. If any entry is not 0/1, any row does not sum to 1, or any padding slot is not 0,
V_j is a non-zero polynomial of total degree 2 in the weights (the two parts use disjoint
weights, so they cannot cancel). By the Schwartz–Zippel lemma it vanishes with probability at
most 2/(t − 1) over weights uniform in a set of t − 1 values; m independent checks give
(2/(t − 1))^m, and m = :func:`check_count` is the least m with (2/(t − 1))^m ≤ 2^-40
(3 checks for t = 1032193, 2 for t = 34308097).

Computation follows ``circuits.py``: t·(P ⊗ P) + P (a BFV ciphertext of P − P²) is formed in
NTT form without relinearization, scaled by ρ and accumulated; once per check the
accumulators are converted, relinearized, multiplied by the slot weights R and R', and the
m slot sums are packed into one aggregate ciphertext, public constants folded in.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .aggregate import AggregateCiphertext
from .bundle import EncryptedBundle
from .circuits import Workspace
from .encoding import Layout
from .errors import InputError, MismatchError
from .keys import EvaluationKeys
from .params import ParameterSet

__all__ = [
    "SOUNDNESS_BITS",
    "ValidityWeights",
    "check_count",
    "validity",
    "validity_weights",
]

SOUNDNESS_BITS = 40
SEED_BYTES = 32
_DOMAIN = b"cryptoscore/validity/v1"
Progress = Callable[[int], None]


def check_count(params: type[ParameterSet]) -> int:
    """Least m with (2/(t−1))^m ≤ 2^-SOUNDNESS_BITS."""
    per_check = math.log2((params.PLAIN_MODULUS - 1) / 2)
    return math.ceil(SOUNDNESS_BITS / per_check)


def _uniform_nonzero(label: bytes, count: int, t: int) -> npt.NDArray[np.int64]:
    """``count`` values uniform in [1, t) from SHAKE-256(label), by rejection sampling."""
    bits = (t - 1).bit_length()
    mask = np.uint32((1 << bits) - 1)
    length = 4 * count * 2 + 64
    while True:
        stream = hashlib.shake_256(label).digest(length)
        vals = (np.frombuffer(stream, dtype="<u4") & mask).astype(np.int64)
        vals = vals[(vals >= 1) & (vals < t)]
        if vals.size >= count:
            return vals[:count].copy()
        length *= 2


@dataclass(frozen=True, slots=True)
class ValidityWeights:
    """The weights of one check (see the module docstring for the symbols)."""

    slot: npt.NDArray[np.int64]  # R_j, N values
    row_slot: npt.NDArray[np.int64]  # R'_j, N values
    chunk: npt.NDArray[np.int64]  # ρ_j, chunks × vectors
    row_chunk: npt.NDArray[np.int64]  # ρ'_j, chunks


def validity_weights(
    params: type[ParameterSet], layout: Layout, seed: bytes
) -> list[ValidityWeights]:
    """Deterministic weights for every check, derived from ``seed``."""
    if len(seed) != SEED_BYTES:
        raise InputError(f"validity seed must be {SEED_BYTES} bytes, got {len(seed)}")
    t = params.PLAIN_MODULUS
    n = params.slot_count()
    out = []
    for j in range(check_count(params)):

        def draw(name: bytes, count: int, j: int = j) -> npt.NDArray[np.int64]:
            label = b"|".join([_DOMAIN, params.ID.encode(), seed, name, j.to_bytes(2, "big")])
            return _uniform_nonzero(label, count, t)

        out.append(
            ValidityWeights(
                slot=draw(b"R", n),
                row_slot=draw(b"R'", n),
                chunk=draw(b"rho", layout.chunks * layout.vectors).reshape(
                    layout.chunks, layout.vectors
                ),
                row_chunk=draw(b"rho'", layout.chunks),
            )
        )
    return out


def validity_names(params: type[ParameterSet]) -> tuple[str, ...]:
    return tuple(f"validity:{j}" for j in range(check_count(params)))


def validity(
    bundle: EncryptedBundle,
    seed: bytes,
    evaluation_keys: EvaluationKeys,
    *,
    progress: Progress | None = None,
) -> AggregateCiphertext:
    """Service, trustee, auditor: the validity aggregates V_0..V_{m−1} of ``bundle``.

    Runs on predictions and labels alike. All must decrypt to 0 for the bundle to be valid.
    Deterministic in (bundle, seed, evaluation keys).
    """
    h = bundle.header
    if evaluation_keys.key_id != h.key_id:
        raise MismatchError("evaluation keys belong to another public key than the bundle")
    params = h.params
    layout = h.layout
    weights = validity_weights(params, layout, seed)
    ws = Workspace(params, evaluation_keys)
    t = params.PLAIN_MODULUS
    slots = layout.slots
    square_acc: list[Any | None] = [None] * len(weights)
    row_acc: list[Any | None] = [None] * len(weights)
    last_chunk: list[Any] = []
    for k in range(layout.chunks):
        data = bundle.chunk(k)
        cts = [ws.load(d) for d in data]
        for c, ct in enumerate(cts):
            # t·(P ⊗ P) + P encrypts P − P² (see circuits.py for why no relinearization)
            term = ws.scaled(ws.tensor(ct, ct), t)
            ws.cev.add_inplace(term, ct)
            for j, w in enumerate(weights):
                square_acc[j] = ws.accumulate(square_acc[j], ws.scaled(term, int(w.chunk[k, c])))
        if not layout.binary:
            row = ws.scaled(cts[0], 1)
            for ct in cts[1:]:
                ws.cev.add_inplace(row, ct)
            for j, w in enumerate(weights):
                row_acc[j] = ws.accumulate(row_acc[j], ws.scaled(row, int(w.row_chunk[k])))
        if k == layout.chunks - 1:
            last_chunk = data
        if progress is not None:
            progress(k + 1)
    engine = ws.engine
    pad_start = layout.rows_in_chunk(layout.chunks - 1)
    outputs: list[Any] = []
    constants: list[int] = []
    for j, w in enumerate(weights):
        acc = square_acc[j]
        if acc is None:  # pragma: no cover - a layout has at least one chunk
            raise InputError("empty bundle")
        v = ws.to_bfv(acc)
        engine.evaluator.multiply_plain_inplace(v, engine.batch_plaintext(w.slot % t))
        const = 0
        if not layout.binary:
            row_bfv = ws.to_bfv(row_acc[j])
            engine.evaluator.multiply_plain_inplace(row_bfv, engine.batch_plaintext(w.row_slot % t))
            engine.evaluator.add_inplace(v, row_bfv)
            # subtract Σ_k ρ'_k Σ_{real i} R'_i (the "−1 on real rows" part), mod t
            full = int(w.row_slot.sum()) % t
            partial = int(w.row_slot[:pad_start].sum()) % t
            rho = [int(x) for x in w.row_chunk]
            const = -(sum(rho[:-1]) * full + rho[-1] * partial) % t
        elif pad_start < slots:
            mask = np.zeros(slots, dtype=np.int64)
            mask[pad_start:] = w.row_slot[pad_start:]
            pad = engine.bfv_ciphertext(last_chunk[0])
            engine.evaluator.multiply_plain_inplace(pad, engine.batch_plaintext(mask))
            engine.evaluator.add_inplace(v, pad)
        outputs.append(v)
        constants.append(const)
    ciphertext, positions = ws.release(outputs, constants)
    return AggregateCiphertext(
        circuit="validity/v1",
        params=params,
        key_id=h.key_id,
        level=params.RELEASE_LEVEL,
        names=validity_names(params),
        positions=tuple(positions),
        inputs=(bundle.digest,),
        policy=None,
        seed=seed,
        ciphertext=ciphertext,
    )


def is_valid(values: dict[str, int]) -> bool:
    """Every validity aggregate decrypted to 0."""
    return bool(values) and all(v == 0 for v in values.values())
