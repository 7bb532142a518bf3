"""BFV keys as wire records: the public context, the evaluation keys, a single secret key.

* :class:`PublicContext` — parameter set and public key: all a participant or organizer needs
  to encrypt (≈ 0.45 MB at N=8192: 446,499 bytes). Its :attr:`~PublicContext.key_id`
  (SHA-256 of the record) is written into every bundle so a ciphertext for another key is
  refused before any work.
* :class:`EvaluationKeys` — relinearization keys and the Galois keys of the automorphisms
  ``x → x^(2^k+1)`` the packing step needs (``scoring/packing.py``); only the scoring service,
  trustees and auditors need them (≈ 30 MB at N=8192).
* :class:`SecretKey` — the whole BFV secret key. In production it exists only inside the key
  ceremony, which shares it among trustees and erases it; the single-key form is for tests,
  examples and benchmarks.

Key generation is ours (``hazmat/keygen.py``), in SEAL's exact layout: ternary secret,
centered-binomial errors, uniform common polynomials, SEAL's gadget and key-switching
decomposition, each drawn from the caller's ``rng`` (``cryptoscore/randomness.py``; default
``os.urandom``), so a fixed stream gives the same keys byte for byte. SEAL's ``KeyGenerator`` is
not used: it samples from its own PRNG, and seeding that PRNG would reuse one stream for every
key-switching component (``hazmat/keygen.py``). SEAL loads and validates every key made here;
the evaluation keys are stored as SEAL re-serializes them (zstd).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from cryptoscore.envelope import Fields, pack_record, unpack_record
from cryptoscore.errors import FormatError
from cryptoscore.hazmat.ciphertext import decode_ciphertext, encode_ciphertext
from cryptoscore.hazmat.keygen import generate_key_material
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.hazmat.seal_format import build_ciphertext
from cryptoscore.params import ParameterSet, get_parameter_set
from cryptoscore.randomness import Rng

__all__ = [
    "EvaluationKeys",
    "KeySet",
    "PublicContext",
    "SecretKey",
    "galois_elements",
    "generate_keys",
]

_PUBLIC_MAGIC = b"CSPUBCTX"
_EVAL_MAGIC = b"CSEVALKY"
_SECRET_MAGIC = b"CSSECKEY"
FORMAT_VERSION = 1
MAX_EVALUATION_KEY_BYTES = 256 << 20


def galois_elements(params: type[ParameterSet]) -> list[int]:
    """The automorphisms packing uses: x → x^(2^k + 1) for k = 1 .. log2 N."""
    log_n = params.POLY_MODULUS_DEGREE.bit_length() - 1
    return [(1 << k) + 1 for k in range(1, log_n + 1)]


def _all_primes(params: type[ParameterSet]) -> tuple[int, ...]:
    return (*params.DATA_PRIMES, params.SPECIAL_PRIME)


@dataclass(frozen=True, slots=True)
class PublicContext:
    """Parameter set plus public key: what encrypting parties download."""

    params: type[ParameterSet]
    public_key: bytes
    """Canonical encoding (``ciphertext.py``) of the public key's two NTT-form polynomials
    over all primes, special prime included."""

    @property
    def key_id(self) -> str:
        """SHA-256 (hex) of this record's bytes; names the key in every other record."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def to_bytes(self) -> bytes:
        header = {"params": self.params.ID}
        return pack_record(_PUBLIC_MAGIC, FORMAT_VERSION, header, self.public_key)

    @classmethod
    def from_bytes(cls, raw: bytes) -> PublicContext:
        header, body = unpack_record(raw, _PUBLIC_MAGIC, FORMAT_VERSION, "public context")
        fields = Fields(header, "public context", {"params"})
        params = get_parameter_set(fields.string("params"))
        # decoding validates length, reduction and non-transparency
        decode_ciphertext(body, _all_primes(params), params.POLY_MODULUS_DEGREE)
        return cls(params, bytes(body))

    def seal_public_key(self) -> Any:
        engine = engine_for(self.params)
        data = decode_ciphertext(
            self.public_key, _all_primes(self.params), self.params.POLY_MODULUS_DEGREE
        )
        raw = build_ciphertext(engine.key_parms_id, data, engine.version, is_ntt_form=True)
        return engine.load_public_key(raw)


@dataclass(frozen=True, slots=True)
class EvaluationKeys:
    """Relinearization and Galois keys (SEAL serialization, as SEAL wrote them)."""

    params: type[ParameterSet]
    key_id: str
    relin_keys: bytes = field(repr=False)
    galois_keys: bytes = field(repr=False)

    def to_bytes(self) -> bytes:
        header = {
            "params": self.params.ID,
            "key_id": self.key_id,
            "relin_bytes": len(self.relin_keys),
            "galois_bytes": len(self.galois_keys),
        }
        return pack_record(_EVAL_MAGIC, FORMAT_VERSION, header, self.relin_keys + self.galois_keys)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> EvaluationKeys:
        header, body = unpack_record(raw, _EVAL_MAGIC, FORMAT_VERSION, "evaluation keys")
        fields = Fields(
            header, "evaluation keys", {"params", "key_id", "relin_bytes", "galois_bytes"}
        )
        params = get_parameter_set(fields.string("params"))
        key_id = fields.hex("key_id", 32).hex()
        nr = fields.integer("relin_bytes", 1, MAX_EVALUATION_KEY_BYTES)
        ng = fields.integer("galois_bytes", 1, MAX_EVALUATION_KEY_BYTES)
        if len(body) != nr + ng:
            raise FormatError(f"evaluation keys: body has {len(body)} bytes, header says {nr + ng}")
        keys = cls(params, key_id, bytes(body[:nr]), bytes(body[nr:]))
        keys.load()  # SEAL validates every key polynomial on load
        return keys

    def load(self) -> tuple[Any, Any]:
        """The SEAL ``RelinKeys`` and ``GaloisKeys`` (cached per process)."""
        return _load_evaluation_keys(self.params, self.relin_keys, self.galois_keys)


_EVAL_CACHE: dict[tuple[str, bytes], tuple[Any, Any]] = {}


def _load_evaluation_keys(
    params: type[ParameterSet], relin: bytes, galois: bytes
) -> tuple[Any, Any]:
    cache_key = (params.ID, hashlib.sha256(relin + galois).digest())
    hit = _EVAL_CACHE.get(cache_key)
    if hit is None:
        engine = engine_for(params)
        hit = (engine.load_relin_keys(relin), engine.load_galois_keys(galois))
        if len(_EVAL_CACHE) >= 4:
            _EVAL_CACHE.pop(next(iter(_EVAL_CACHE)))
        _EVAL_CACHE[cache_key] = hit
    return hit


class SecretKey:
    """A whole BFV secret key (single-key mode: tests, examples, the ceremony's dealer).

    Deliberately not a dataclass: no ``repr`` of the key, no equality, no hashing.
    """

    __slots__ = ("_raw", "key_id", "params")

    def __init__(self, params: type[ParameterSet], key_id: str, raw: bytes) -> None:
        self.params = params
        self.key_id = key_id
        self._raw = raw

    def __repr__(self) -> str:
        return f"SecretKey(params={self.params.ID}, key_id={self.key_id[:16]}…)"

    def seal_secret_key(self) -> Any:
        return engine_for(self.params).load_secret_key(self._raw)

    def to_bytes(self) -> bytes:
        """Unencrypted serialization — only for tests and the ceremony's sharing step."""
        header = {"params": self.params.ID, "key_id": self.key_id}
        return pack_record(_SECRET_MAGIC, FORMAT_VERSION, header, self._raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> SecretKey:
        header, body = unpack_record(raw, _SECRET_MAGIC, FORMAT_VERSION, "secret key")
        fields = Fields(header, "secret key", {"params", "key_id"})
        params = get_parameter_set(fields.string("params"))
        key = cls(params, fields.hex("key_id", 32).hex(), bytes(body))
        key.seal_secret_key()  # SEAL validates the key data
        return key


@dataclass(frozen=True, slots=True)
class KeySet:
    secret: SecretKey
    public: PublicContext
    evaluation: EvaluationKeys


def generate_keys(params: type[ParameterSet], *, rng: Rng = os.urandom) -> KeySet:
    """Fresh secret, public and evaluation keys (single-key mode; see the module docstring).

    Every draw comes from ``rng``, in the order ``keygen.generate_key_material`` documents."""
    engine = engine_for(params)
    material = generate_key_material(
        params,
        galois_elements(params),
        parms_id=engine.key_parms_id,
        version=engine.version,
        rng=rng,
    )
    public = PublicContext(params, encode_ciphertext(material.public_key, _all_primes(params)))
    # SEAL validates each key on load; its re-serialization (zstd) is the stored record
    relin = engine.save_bytes(engine.load_relin_keys(material.relin_keys))
    galois = engine.save_bytes(engine.load_galois_keys(material.galois_keys))
    evaluation = EvaluationKeys(params, public.key_id, relin, galois)
    secret = SecretKey(params, public.key_id, material.secret_key)
    return KeySet(secret, public, evaluation)
