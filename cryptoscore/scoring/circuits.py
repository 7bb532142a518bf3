"""The scoring circuits: encrypted predictions × encrypted labels → one aggregate ciphertext.

Role: the scoring service runs :func:`score`; trustees and auditors run the same function to
recompute what they are asked to decrypt. It is deterministic — the same bundles, policy and
evaluation keys give a byte-identical :class:`~cryptoscore.scoring.aggregate.AggregateCiphertext`.

How it is computed (docs/design.md, "BFV lane"):

1. Every aggregate is a linear combination of *terms* — slot sums of products P_a ⊙ Y_b, of
   (P − Y)², or of P or Y alone — plus a public constant (n). For example binary
   ``errors = Σ (p − y)²`` and ``correct = n − Σ (p − y)²``; multiclass
   ``correct = Σ_c Σ P_c ⊙ Y_c``; confusion cell (a, b) = Σ P_a ⊙ Y_b.
2. Chunk by chunk, each term is accumulated **without relinearization or rescaling**: with
   Q ≡ 1 (mod t) (``params.py``) the raw tensor t·(c ⊗ d) of two BFV ciphertexts is already a
   BFV ciphertext of −m1·m2, so products are dyadic multiplications in NTT form (SEAL's CKKS
   evaluator on the same primes does exactly that) and sums are additions.
3. Once per aggregate: the linear combination (scalars −t·coefficient), one conversion back to
   a BFV ciphertext, one relinearization.
4. Once per circuit: the slot sums of all aggregates are packed into one ciphertext
   (``scoring/packing.py``): aggregate j in coefficient ``positions[j]``, every other coefficient 0;
   the public constants are added to their coefficients; the ciphertext is mod-switched to the
   release level (``params.RELEASE_LEVEL``) so that its noise is small and provable.

The output holds exactly the policy's aggregates; nothing else about the inputs.

A public/private split (docs/design.md, "Public/private split"): the labels bundle is one-hot
over 2K classes, class ``part·K + label`` (``encoding.split_label_indices``), so its vectors
``Y_{part·K + b}`` are the part's one-hot labels with a zero row for every item of the other
part. The circuit of one part (:func:`split_formulas`) reads only that part's K label vectors:

* ``correct = Σ_c P_c ⊙ Y_{part·K+c}`` (binary predictions, one vector p:
  ``Σ p ⊙ Y_1 − Σ p ⊙ Y_0 + Σ Y_0``, since P_0 = 1 − p);
* ``errors = size − correct`` with the part's published size (``SplitRule.public_items``);
* cell (a, b) = ``Σ P_a ⊙ Y_{part·K+b}`` (binary a = 0: ``Σ Y_b − Σ p ⊙ Y_b``).

Each has no more products, of no larger coefficients, than the circuit over every item, so the
noise bounds of ``scoring/noise.py`` hold for it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import tenseal.sealapi as seal

from cryptoscore.errors import MismatchError, ParameterError
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.seal_engine import SealEngine, engine_for
from cryptoscore.hazmat.seal_format import U64Array
from cryptoscore.params import ParameterSet
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.keys import EvaluationKeys
from cryptoscore.scoring.policy import (
    PARTS,
    Part,
    ReleasePolicy,
    confusion_cell_name,
    score_circuit,
)

__all__ = ["Term", "aggregate_formulas", "score", "split_formulas"]

Term = tuple[str, int, int]
"""("prod", a, b): Σ P_a ⊙ Y_b over vector indices a, b; ("sqdiff", 0, 0): Σ (P − Y)²
(binary); ("pred", 0, 0): Σ P; ("label", 0, b): Σ Y_b (label vector b: 0 for a binary task
without a split, part·K + class with one)."""
Formula = tuple[dict[Term, int], int]
"""Coefficients of terms and a public constant: aggregate = Σ coeff·term + constant."""
Progress = Callable[[int], None]

_PRODUCT_TERMS = ("prod", "sqdiff")


def aggregate_formulas(policy: ReleasePolicy, n: int) -> list[Formula]:
    """Each of ``policy.aggregate_names()`` as terms and a constant."""
    formulas: list[Formula] = []
    k = policy.classes
    if k == 2:
        needs_confusion = "confusion" in policy.metrics
        s: Term = ("prod", 0, 0)
        p: Term = ("pred", 0, 0)
        y: Term = ("label", 0, 0)
        d: Term = ("sqdiff", 0, 0)
        for name in policy.aggregate_names():
            if name == "errors":
                formulas.append(({s: -2, p: 1, y: 1}, 0) if needs_confusion else ({d: 1}, 0))
            elif name == "correct":
                formulas.append(({s: 2, p: -1, y: -1}, n) if needs_confusion else ({d: -1}, n))
            elif name == confusion_cell_name(1, 1):
                formulas.append(({s: 1}, 0))
            elif name == confusion_cell_name(1, 0):
                formulas.append(({p: 1, s: -1}, 0))
            elif name == confusion_cell_name(0, 1):
                formulas.append(({y: 1, s: -1}, 0))
            else:  # confusion:0:0 (true negatives)
                formulas.append(({s: 1, p: -1, y: -1}, n))
        return formulas
    diagonal = {("prod", c, c): 1 for c in range(k)}
    for name in policy.aggregate_names():
        if name == "correct":
            formulas.append((dict(diagonal), 0))
        elif name == "errors":
            formulas.append(({term: -1 for term in diagonal}, n))
        else:
            _, a, b = name.split(":")
            formulas.append(({("prod", int(a), int(b)): 1}, 0))
    return formulas


def split_formulas(policy: ReleasePolicy, part: Part, part_size: int) -> list[Formula]:
    """Each of ``policy.aggregate_names()`` over the items of ``part`` only, as terms on the
    predictions and that part's label vectors (``part·K .. part·K + K − 1``) and a constant.
    ``part_size`` is the part's published size (the constant of ``errors``)."""
    k = policy.classes
    offset = PARTS.index(part) * k

    def cell(a: int, b: int) -> dict[Term, int]:
        """Σ P_a ⊙ Y_{offset+b}: binary predictions are one vector p, with P_0 = 1 − p."""
        if k > 2:
            return {("prod", a, offset + b): 1}
        if a == 1:
            return {("prod", 0, offset + b): 1}
        return {("label", 0, offset + b): 1, ("prod", 0, offset + b): -1}

    correct: dict[Term, int] = {}
    for c in range(k):
        for term, coeff in cell(c, c).items():
            correct[term] = correct.get(term, 0) + coeff
    formulas: list[Formula] = []
    for name in policy.aggregate_names():
        if name == "correct":
            formulas.append((dict(correct), 0))
        elif name == "errors":
            formulas.append(({term: -c for term, c in correct.items()}, part_size))
        else:
            _, a, b = name.split(":")
            formulas.append((cell(int(a), int(b)), 0))
    return formulas


class Workspace:
    """Homomorphic operations of one circuit run (SEAL objects; not thread-safe)."""

    def __init__(self, params: type[ParameterSet], evaluation_keys: EvaluationKeys) -> None:
        if evaluation_keys.params is not params:
            raise ParameterError("evaluation keys are for another parameter set")
        self.params = params
        self.engine: SealEngine = engine_for(params)
        self.relin_keys, self.galois_keys = evaluation_keys.load()
        self.cev = self.engine.compute_evaluator
        self._constants: dict[int, Any] = {}

    # -- compute context (NTT form, dyadic products) -------------------------------------
    def load(self, data: U64Array) -> Any:
        return self.engine.compute_ciphertext(data)

    def constant(self, value: int) -> Any:
        pt = self._constants.get(value)
        if pt is None:
            pt = self.engine.constant(value)
            if len(self._constants) < 64:
                self._constants[value] = pt
        return pt

    def tensor(self, a: Any, b: Any) -> Any:
        out = seal.Ciphertext()
        if a is b:
            self.cev.square(a, out)
        else:
            self.cev.multiply(a, b, out)
        return out

    def scaled(self, ct: Any, value: int) -> Any:
        out = seal.Ciphertext()
        self.cev.multiply_plain(ct, self.constant(value), out)
        return out

    def accumulate(self, acc: Any | None, ct: Any) -> Any:
        if acc is None:
            return ct
        self.cev.add_inplace(acc, ct)
        return acc

    # -- back to BFV ----------------------------------------------------------------------
    def to_bfv(self, ct: Any) -> Any:
        """A compute-context ciphertext as a relinearized BFV ciphertext (coefficient form)."""
        out = self.engine.compute_to_bfv(ct)
        if out.size() > 2:
            self.engine.evaluator.relinearize_inplace(out, self.relin_keys)
        return out

    def combine(self, parts: Sequence[tuple[Any, int]]) -> Any:
        """Σ scalar·ct in the compute context (scalars already include any −t factor)."""
        if not parts:
            raise MismatchError("an aggregate without terms")
        first, scalar = parts[0]
        acc = self.scaled(first, scalar)  # a new object: accumulators are shared between formulas
        for ct, scalar in parts[1:]:
            self.cev.add_inplace(acc, ct if scalar == 1 else self.scaled(ct, scalar))
        return acc

    def release(self, bfv_cts: list[Any], constants: Sequence[int]) -> tuple[bytes, list[int]]:
        """Pack slot sums, add public constants, mod-switch; canonical bytes and positions."""
        from cryptoscore.scoring.packing import pack_slot_sums

        engine = self.engine
        ct, positions = pack_slot_sums(engine, bfv_cts, self.galois_keys)
        for pos, value in zip(positions, constants, strict=True):
            value %= self.params.PLAIN_MODULUS
            if value:
                engine.evaluator.add_plain_inplace(ct, engine.monomial(pos, value))
        level = self.params.RELEASE_LEVEL
        engine.evaluator.mod_switch_to_inplace(ct, list(engine.bfv_level_ids[level]))
        data = engine.export(ct).data
        return encode_ciphertext(data, self.params.moduli(level)), positions


def _sub_mod(a: U64Array, b: U64Array, moduli: tuple[int, ...]) -> U64Array:
    """(a − b) mod q_i of two ciphertexts ``data[poly, prime, coeff]``, coefficient-wise."""
    q = np.array(moduli, dtype=np.uint64).reshape(1, -1, 1)
    out: U64Array = (a + (q - b)) % q
    return out


class _LazyChunk:
    """Load a chunk's ciphertexts into the compute context on first use only."""

    def __init__(self, ws: Workspace, data: list[U64Array]) -> None:
        self._ws = ws
        self._data = data
        self._loaded: dict[int, Any] = {}

    def __call__(self, index: int) -> Any:
        if index not in self._loaded:
            self._loaded[index] = self._ws.load(self._data[index])
        return self._loaded[index]


def check_pair(
    predictions: EncryptedBundle, labels: EncryptedBundle, *, split: bool = False
) -> None:
    """Refuse a predictions/labels pair that does not belong together (with a ``split``, the
    labels are one-hot over 2K classes: part and label)."""
    predictions.expect(kind="predictions")
    h = predictions.header
    labels.expect(
        kind="labels",
        params=h.params,
        key_id=h.key_id,
        challenge=h.challenge,
        classes=2 * h.classes if split else h.classes,
        n=h.n,
    )


def _chunk_pairs(
    predictions: EncryptedBundle, labels: EncryptedBundle
) -> Iterator[tuple[list[U64Array], list[U64Array]]]:
    for k in range(predictions.layout.chunks):
        yield predictions.chunk(k), labels.chunk(k)


def score(
    predictions: EncryptedBundle,
    labels: EncryptedBundle,
    policy: ReleasePolicy,
    evaluation_keys: EvaluationKeys,
    *,
    part: Part | None = None,
    part_size: int = 0,
    progress: Progress | None = None,
) -> AggregateCiphertext:
    """Service, trustee, auditor: the policy's aggregates of ``predictions`` vs ``labels``.

    Both bundles must be for the same challenge, key, parameter set, n and K; the policy must
    be for K classes; the evaluation keys must belong to the bundles' key. With a ``part``
    (a split challenge: labels one-hot over 2K classes), the aggregates of that part's items
    only; ``part_size`` is its published size.
    """
    check_pair(predictions, labels, split=part is not None)
    h = predictions.header
    if policy.classes != h.classes:
        raise MismatchError(
            f"release policy is for {policy.classes} classes, the bundles have {h.classes}"
        )
    if evaluation_keys.key_id != h.key_id:
        raise MismatchError("evaluation keys belong to another public key than the bundles")
    if part is None:
        formulas = aggregate_formulas(policy, h.n)
    elif not 1 <= part_size < h.n:
        raise MismatchError(f"a part of a split has 1..{h.n - 1} items, not {part_size}")
    else:
        formulas = split_formulas(policy, part, part_size)
    terms = sorted({term for coeffs, _ in formulas for term in coeffs})
    ws = Workspace(h.params, evaluation_keys)
    acc: dict[Term, Any] = {}
    for k, (p_chunk, y_chunk) in enumerate(_chunk_pairs(predictions, labels)):
        p_ct = _LazyChunk(ws, p_chunk)
        y_ct = _LazyChunk(ws, y_chunk)
        for term in terms:
            kind, a, b = term
            if kind == "prod":
                value = ws.tensor(p_ct(a), y_ct(b))
            elif kind == "sqdiff":
                # P − Y in coefficient form (one NTT instead of two), then its square
                diff = ws.load(_sub_mod(p_chunk[0], y_chunk[0], h.params.moduli(h.level)))
                value = ws.tensor(diff, diff)
            elif kind == "pred":
                value = p_ct(0)
            else:
                value = y_ct(b)
            if term in acc:
                ws.cev.add_inplace(acc[term], value)
            else:
                # linear terms reuse the loaded chunk object: copy before accumulating into it
                acc[term] = value if kind in _PRODUCT_TERMS else ws.scaled(value, 1)
        if progress is not None:
            progress(k + 1)
    t = h.params.PLAIN_MODULUS
    outputs = []
    for coeffs, _ in formulas:
        parts = [
            (acc[term], -t * c if term[0] in _PRODUCT_TERMS else c)
            for term, c in sorted(coeffs.items())
        ]
        outputs.append(ws.to_bfv(ws.combine(parts)))
    ciphertext, positions = ws.release(outputs, [const for _, const in formulas])
    return AggregateCiphertext(
        circuit=score_circuit(part),
        params=h.params,
        key_id=h.key_id,
        level=h.params.RELEASE_LEVEL,
        names=policy.aggregate_names(),
        positions=tuple(positions),
        inputs=(predictions.digest, labels.digest),
        policy=policy,
        seed=b"",
        n=h.n,
        classes=h.classes,
        ciphertext=ciphertext,
    )
