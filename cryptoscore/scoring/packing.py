"""Slot sums into one ciphertext: each aggregate in its own coefficient, every other one zero.

For a batched BFV plaintext m, the sum of its N slots equals N·m_0 (mod t), where m_0 is the
constant coefficient: summing the evaluations of m at all primitive 2N-th roots of unity
cancels every non-constant monomial. The field trace Tr(m) = Σ_σ σ(m) over the N
automorphisms x → x^k (k odd) is the constant polynomial N·m_0, and it is computed with
log2 N automorphisms (x → x^(2^k+1), k = 1..log2 N, each followed by an addition).

Packing A aggregates uses PackLWEs (H. Chen, W. Dai, M. Kim, Y. Song, "Efficient Homomorphic
Conversion Between (Ring) LWE Ciphertexts", ACNS 2021, Algorithm 2) followed by the partial
trace of the same paper (§3.3): with ℓ = ⌈log2 A⌉, aggregate j ends in coefficient
j·N/2^ℓ with value N·(m_j)_0 = Σ slots of m_j (mod t), and **every other coefficient is
exactly 0** — no partial sum or stray slot value survives, which matters because anything left
in the released ciphertext would be decrypted with it. A positions are padded to 2^ℓ with
absent ciphertexts (treated as 0, never computed as c − c, which would be transparent).

Cost: (2^ℓ − 1) + (log2 N − ℓ) automorphisms for A aggregates — 13 for one, 14 for two,
15 for three or four at N=8192 — instead of log2 N rotations per aggregate.
"""

from __future__ import annotations

from typing import Any

import tenseal.sealapi as seal

from cryptoscore.errors import ComputationError
from cryptoscore.hazmat.seal_engine import SealEngine

__all__ = ["aggregate_positions", "pack_slot_sums"]


def _log2_ceil(a: int) -> int:
    return (a - 1).bit_length()


def aggregate_positions(count: int, n: int) -> list[int]:
    """Coefficient index of each of ``count`` packed aggregates in a ring of degree ``n``."""
    if not 1 <= count <= n:
        raise ComputationError(f"cannot pack {count} aggregates into degree {n}")
    ell = _log2_ceil(count)
    return [j * (n >> ell) for j in range(count)]


class _Packer:
    def __init__(self, engine: SealEngine, galois_keys: Any) -> None:
        self.engine = engine
        self.ev = engine.evaluator
        self.gk = galois_keys
        self.log_n = engine.n.bit_length() - 1

    def automorphism(self, ct: Any, level: int) -> Any:
        out = seal.Ciphertext()
        self.ev.apply_galois(ct, (1 << level) + 1, self.gk, out)
        return out

    def shift(self, ct: Any, exponent: int) -> Any:
        out = seal.Ciphertext()
        self.ev.multiply_plain(ct, self.engine.monomial(exponent), out)
        return out

    def add(self, a: Any, b: Any) -> Any:
        out = seal.Ciphertext()
        self.ev.add(a, b, out)
        return out

    def sub(self, a: Any, b: Any) -> Any:
        out = seal.Ciphertext()
        self.ev.sub(a, b, out)
        return out

    def pack(self, cts: list[Any | None]) -> Any | None:
        """PackLWEs on 2^ℓ inputs (ACNS 2021, Algorithm 2)."""
        if len(cts) == 1:
            return cts[0]
        ell = len(cts).bit_length() - 1
        even = self.pack(cts[0::2])
        odd = self.pack(cts[1::2])
        if odd is None:
            if even is None:
                return None
            return self.add(even, self.automorphism(even, ell))
        x_odd = self.shift(odd, self.engine.n >> ell)
        if even is None:
            return self.sub(x_odd, self.automorphism(x_odd, ell))
        return self.add(self.add(even, x_odd), self.automorphism(self.sub(even, x_odd), ell))


def pack_slot_sums(engine: SealEngine, cts: list[Any], galois_keys: Any) -> tuple[Any, list[int]]:
    """One BFV ciphertext whose coefficient at ``positions[j]`` is the slot sum of ``cts[j]``.

    Inputs are BFV ciphertexts of size 2 in coefficient form (relinearized). The output is
    to be decrypted as a coefficient-encoded plaintext (no batch decoding).
    """
    count = len(cts)
    positions = aggregate_positions(count, engine.n)
    ell = _log2_ceil(count)
    packer = _Packer(engine, galois_keys)
    padded: list[Any | None] = [*cts, *([None] * ((1 << ell) - count))]
    ct = packer.pack(padded)
    if ct is None:  # pragma: no cover - count >= 1 always leaves index 0 present
        raise ComputationError("nothing to pack")
    for k in range(ell + 1, packer.log_n + 1):
        ct = packer.add(ct, packer.automorphism(ct, k))
    return ct, positions
