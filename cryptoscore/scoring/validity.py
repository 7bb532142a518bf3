"""The validity aggregate V: is an encrypted bundle a well-formed 0/1 (one-hot) encoding?

Without this check a malicious participant could encrypt weights such as 2^i instead of 0/1
and turn one released "score" into a vector of labels (docs/design.md, "Validity"). Before any
score of a submission is decrypted, the service computes from the submission alone, for each
of m independent checks j, with E and F the plaintext polynomials (slot vectors)

    E_j = Σ_k Σ_c ρ_j[k, c] · (P_kc² − P_kc)                 (every entry is 0 or 1)
    F_j = Σ_k ρ'_j[k] · (Σ_c P_kc − 1_real(k))                (K ≥ 3: one class per real row,
                                                               zero padding)
    F_j = 1_padding ⊙ P_last                                  (K = 2: zero padding)
    V_j = Tr(R_j · E_j + R'_j · F_j)  =  Σ over all slots of (R_j·E_j + R'_j·F_j)

where k runs over chunks, c over class vectors, Tr is the field trace (N times the constant
coefficient — what ``scoring/packing.py`` extracts), ρ, ρ' are scalars uniform in [1, 2^12] and
R, R' are polynomials with coefficients uniform in [0, 2^12). All weights are derived from a
seed with SHAKE-256 (FIPS 202). The seed is an input: the release protocol draws it from
trustee contributions *after* the bundle is fixed, so the submitter cannot predict it. Each
V_j must decrypt to 0.

Soundness. Suppose some entry is not 0/1, some row does not sum to 1, or some padding slot
is not 0. Then some E_k or F_k is non-zero, and Σ_k ρ_k E_k (resp. F) is a non-zero linear
form in the ρ's, so it vanishes with probability ≤ 2^-12. If E_j or F_j ≠ 0,
Tr(R·E_j + R'·F_j) = N·(R·E_j + R'·F_j)_0 is a non-zero linear form in the coefficients of R
and R' (N is invertible mod t), so it vanishes with probability ≤ 2^-12. Each check thus
fails to detect with probability ≤ 2^-11; m = :func:`check_count` = 4 independent checks give
2^-44 ≤ 2^-40 (Schwartz–Zippel over product sets). Small weights are chosen over weights
uniform mod t because they keep the noise of the released ciphertext within what 2^40
smudging leaves room for (``scoring/noise.py``).

Computation follows ``scoring/circuits.py``: t·(P ⊗ P) + P (a BFV ciphertext of P − P²) is formed in
NTT form without relinearization, scaled by ρ and accumulated; once per check the
accumulators are converted, relinearized and multiplied by R and R' (coefficient-form
plaintexts), and the m traces are packed into one aggregate ciphertext, the public constant
of the "− 1_real" term folded in.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cryptoscore.errors import InputError, MismatchError
from cryptoscore.hazmat.seal_engine import SealEngine
from cryptoscore.params import ParameterSet
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.circuits import Workspace
from cryptoscore.scoring.encoding import Layout
from cryptoscore.scoring.keys import EvaluationKeys

__all__ = [
    "SOUNDNESS_BITS",
    "ValidityWeights",
    "check_count",
    "validity",
    "validity_weights",
]

SOUNDNESS_BITS = 40
WEIGHT_BITS = 12
SEED_BYTES = 32
_DOMAIN = b"cryptoscore/validity/v1"
Progress = Callable[[int], None]


def check_count(params: type[ParameterSet]) -> int:
    """m = ⌈40 / (WEIGHT_BITS − 1)⌉ independent checks: 4 (the same for every parameter set)."""
    if params.PLAIN_MODULUS <= 1 << WEIGHT_BITS:
        raise InputError("the plaintext modulus must exceed the weight range")
    return math.ceil(SOUNDNESS_BITS / (WEIGHT_BITS - 1))


def _xof_u16(label: bytes, count: int) -> npt.NDArray[np.int64]:
    stream = hashlib.shake_256(label).digest(2 * count)
    return np.frombuffer(stream, dtype="<u2").astype(np.int64)


@dataclass(frozen=True, slots=True)
class ValidityWeights:
    """The weights of one check (see the module docstring for the symbols)."""

    poly: npt.NDArray[np.int64]  # R_j: N coefficients in [0, 2^12)
    row_poly: npt.NDArray[np.int64]  # R'_j: N coefficients in [0, 2^12)
    chunk: npt.NDArray[np.int64]  # ρ_j: chunks × vectors, in [1, 2^12]
    row_chunk: npt.NDArray[np.int64]  # ρ'_j: chunks, in [1, 2^12]


def validity_weights(
    params: type[ParameterSet], layout: Layout, seed: bytes
) -> list[ValidityWeights]:
    """Deterministic weights for every check, derived from ``seed`` with SHAKE-256."""
    if len(seed) != SEED_BYTES:
        raise InputError(f"validity seed must be {SEED_BYTES} bytes, got {len(seed)}")
    n = params.slot_count()
    mask = (1 << WEIGHT_BITS) - 1
    out = []
    for j in range(check_count(params)):

        def draw(name: bytes, count: int, j: int = j) -> npt.NDArray[np.int64]:
            label = b"|".join([_DOMAIN, params.ID.encode(), seed, name, j.to_bytes(2, "big")])
            return _xof_u16(label, count) & mask  # exactly uniform: 2^12 divides 2^16

        out.append(
            ValidityWeights(
                poly=draw(b"R", n),
                row_poly=draw(b"R'", n),
                chunk=1
                + draw(b"rho", layout.chunks * layout.vectors).reshape(
                    layout.chunks, layout.vectors
                ),
                row_chunk=1 + draw(b"rho'", layout.chunks),
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
        engine.evaluator.multiply_plain_inplace(v, _poly(engine, w.poly))
        const = 0
        if not layout.binary:
            row_bfv = ws.to_bfv(row_acc[j])
            engine.evaluator.multiply_plain_inplace(row_bfv, _poly(engine, w.row_poly))
            engine.evaluator.add_inplace(v, row_bfv)
            # − Σ_k ρ'_k Tr(R' · 1_real(k)): Tr(R'·I) is the sum of R''s slot values over I
            slots_of_r = engine.batch_decode(_poly(engine, w.row_poly))
            full = int(slots_of_r.sum(dtype=object)) % t
            partial = int(slots_of_r[:pad_start].sum(dtype=object)) % t
            rho = [int(x) for x in w.row_chunk]
            const = -(sum(rho[:-1]) * full + rho[-1] * partial) % t
        elif pad_start < slots:
            mask = np.zeros(slots, dtype=np.int64)
            mask[pad_start:] = 1
            pad = engine.bfv_ciphertext(last_chunk[0])
            engine.evaluator.multiply_plain_inplace(pad, engine.batch_plaintext(mask))
            engine.evaluator.multiply_plain_inplace(pad, _poly(engine, w.row_poly))
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
        n=h.n,
        classes=h.classes,
        ciphertext=ciphertext,
    )


def _poly(engine: SealEngine, coefficients: npt.NDArray[np.int64]) -> Any:
    return engine.plaintext_from_coefficients(coefficients.astype(np.uint64))


def is_valid(values: dict[str, int]) -> bool:
    """Every validity aggregate decrypted to 0."""
    return bool(values) and all(v == 0 for v in values.values())
