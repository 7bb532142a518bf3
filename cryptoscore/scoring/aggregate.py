"""The aggregate ciphertext: the only kind of ciphertext that is ever decrypted.

A circuit (``scoring/circuits.py`` for scores, ``scoring/validity.py`` for the validity check)
outputs one BFV ciphertext, mod-switched to the parameter set's release level, whose plaintext
polynomial holds each named aggregate in one coefficient and 0 in every other coefficient. The
round-1 noise check (``scoring/noise_check.py``, circuit "noise/v1") names one input ciphertext at
the full level, decrypted only with masked partials, for its residual noise. This record carries it
with everything needed to recompute it and to read it.

Record layout (``envelope.py``, magic ``CSAGGREG``, format version 1)::

    header (canonical JSON):
        circuit    "score/v1" | "score-public/v1" | "score-private/v1" | "validity/v1" |
                   "noise/v1"
        params     parameter-set id
        key_id     public key the inputs were encrypted under
        level      number of primes of the ciphertext (the release level)
        names      aggregate names, in order
        positions  coefficient index of each aggregate
        inputs     SHA-256 (hex) of each input bundle, in circuit order
        policy     the release policy (score circuits) or null
        seed       validity weights seed (hex; validity circuits) or ""
        n          number of items of each input bundle
        classes    K of the input bundles
    body: the ciphertext in the canonical encoding of ``ciphertext.py`` (2 polynomials)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptoscore.envelope import Fields, pack_record, unpack_record
from cryptoscore.errors import FormatError
from cryptoscore.hazmat.ciphertext import ciphertext_nbytes, decode_ciphertext
from cryptoscore.hazmat.seal_format import U64Array
from cryptoscore.params import ParameterSet, get_parameter_set
from cryptoscore.scoring.policy import SCORE_CIRCUITS, ReleasePolicy

__all__ = ["CIRCUITS", "AggregateCiphertext"]

MAGIC = b"CSAGGREG"
FORMAT_VERSION = 1
CIRCUITS = (*SCORE_CIRCUITS, "validity/v1", "noise/v1")
_FIELDS = {
    "circuit",
    "params",
    "key_id",
    "level",
    "names",
    "positions",
    "inputs",
    "policy",
    "seed",
    "n",
    "classes",
}


@dataclass(frozen=True, slots=True)
class AggregateCiphertext:
    circuit: str
    params: type[ParameterSet]
    key_id: str
    level: int
    names: tuple[str, ...]
    positions: tuple[int, ...]
    inputs: tuple[str, ...]
    policy: ReleasePolicy | None
    seed: bytes
    n: int
    """Items in each input bundle (public; fixes the circuit's size and its noise bound)."""
    classes: int
    ciphertext: bytes = field(repr=False)
    """Canonical encoding of the output ciphertext."""

    def __post_init__(self) -> None:
        if self.circuit not in CIRCUITS:
            raise FormatError(f"aggregate ciphertext: unknown circuit {self.circuit!r}")
        if len(self.names) != len(self.positions) or not self.names:
            raise FormatError("aggregate ciphertext: names and positions must pair up")
        n = self.params.POLY_MODULUS_DEGREE
        if len(set(self.positions)) != len(self.positions) or not all(
            0 <= p < n for p in self.positions
        ):
            raise FormatError("aggregate ciphertext: positions must be distinct and < N")
        if (self.circuit in SCORE_CIRCUITS) != (self.policy is not None):
            raise FormatError("aggregate ciphertext: a score circuit needs its policy")
        if self.policy is not None and self.policy.aggregate_names() != self.names:
            raise FormatError("aggregate ciphertext: names differ from the policy's aggregates")
        expected = ciphertext_nbytes(self.params.moduli(self.level), n)
        if len(self.ciphertext) != expected:
            raise FormatError(
                f"aggregate ciphertext: {len(self.ciphertext)} bytes, expected {expected}"
            )

    def data(self) -> U64Array:
        """The decoded ciphertext ``data[poly, prime, coeff]`` (validated)."""
        return decode_ciphertext(
            self.ciphertext, self.params.moduli(self.level), self.params.POLY_MODULUS_DEGREE
        )

    def header(self) -> dict[str, Any]:
        return {
            "circuit": self.circuit,
            "params": self.params.ID,
            "key_id": self.key_id,
            "level": self.level,
            "names": list(self.names),
            "positions": list(self.positions),
            "inputs": list(self.inputs),
            "policy": self.policy.to_json() if self.policy else None,
            "seed": self.seed.hex(),
            "n": self.n,
            "classes": self.classes,
        }

    def to_bytes(self) -> bytes:
        return pack_record(MAGIC, FORMAT_VERSION, self.header(), self.ciphertext)

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the record: what trustees journal and the log names."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @property
    def ciphertext_digest(self) -> str:
        return hashlib.sha256(self.ciphertext).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> AggregateCiphertext:
        header, body = unpack_record(raw, MAGIC, FORMAT_VERSION, "aggregate ciphertext")
        f = Fields(header, "aggregate ciphertext", _FIELDS)
        params = get_parameter_set(f.string("params"))
        policy_json = header["policy"]
        policy = None if policy_json is None else ReleasePolicy.from_json(policy_json)
        seed_hex = f.string("seed", 128)
        try:
            seed = bytes.fromhex(seed_hex)
        except ValueError:
            raise FormatError("aggregate ciphertext: seed is not hex") from None
        inputs = f.str_list("inputs", 64)
        for d in inputs:
            if len(d) != 64 or bytes.fromhex(d).hex() != d:
                raise FormatError("aggregate ciphertext: input digests must be 64 hex digits")
        record = cls(
            circuit=f.string("circuit"),
            params=params,
            key_id=f.hex("key_id", 32).hex(),
            level=f.integer("level", 1, len(params.DATA_PRIMES)),
            names=tuple(f.str_list("names")),
            positions=tuple(f.int_list("positions", 0, params.POLY_MODULUS_DEGREE - 1)),
            inputs=tuple(inputs),
            policy=policy,
            seed=seed,
            n=f.integer("n", 1, params.max_count()),
            classes=f.integer("classes", 2, 64),
            ciphertext=bytes(body),
        )
        record.data()  # validates coefficients and non-transparency
        return record
