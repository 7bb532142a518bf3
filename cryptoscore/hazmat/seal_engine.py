"""SEAL contexts for a parameter set, and moving RNS data between numpy and SEAL.

Two SEAL contexts share the same primes:

* the **BFV context** — encryption, decryption, relinearization, Galois automorphisms and
  mod-switching, exactly as SEAL defines them;
* the **compute context** — the same primes under SEAL's CKKS scheme, used only because its
  ``multiply`` of NTT-form ciphertexts is the plain dyadic tensor product (no rescaling, no
  base extension). With Q ≡ 1 (mod t) (see ``params.py``) t·(c ⊗ d) is a BFV ciphertext of
  −m1·m2, so products are accumulated there and converted back once per aggregate.

TenSEAL's ``sealapi`` offers no bulk access to coefficient data (``data(i)`` reads one word),
so data crosses with SEAL's own serialization through a private tmpfs directory (``/dev/shm``
when available). Only public objects (ciphertexts, public and evaluation keys) pass through
it; secret material uses :meth:`SealEngine.load_secret_key`, which writes a 0600 file and
unlinks it immediately after SEAL reads it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import weakref
from typing import Any

import numpy as np
import tenseal.sealapi as seal

from cryptoscore.errors import ComputationError, FormatError, ParameterError
from cryptoscore.hazmat.seal_format import (
    SealCiphertext,
    U64Array,
    build_ciphertext,
    build_plaintext,
    parse_ciphertext,
    parse_plaintext,
)
from cryptoscore.params import ParameterSet

ParmsId = tuple[int, int, int, int]


def _tmp_root() -> str:
    shm = "/dev/shm"  # noqa: S108 - a private subdirectory is created below with mode 0700
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


class SealEngine:
    """Everything SEAL-specific about one parameter set. Get one with :func:`engine_for`."""

    def __init__(self, params: type[ParameterSet]) -> None:
        self.params = params
        self.n = params.POLY_MODULUS_DEGREE
        self.t = params.PLAIN_MODULUS
        all_primes = [*params.DATA_PRIMES, params.SPECIAL_PRIME]
        self.bfv = self._context(seal.SCHEME_TYPE.BFV, all_primes)
        self.compute = self._context(seal.SCHEME_TYPE.CKKS, all_primes)
        # parms_id of each level (level = number of data primes) in both contexts
        self.bfv_level_ids: dict[int, ParmsId] = self._level_ids(self.bfv)
        self.compute_level_ids: dict[int, ParmsId] = self._level_ids(self.compute)
        self.key_parms_id: ParmsId = tuple(self.bfv.key_parms_id())
        self.evaluator = seal.Evaluator(self.bfv)
        self.compute_evaluator = seal.Evaluator(self.compute)
        self.batch_encoder = seal.BatchEncoder(self.bfv)
        self._ckks_encoder = seal.CKKSEncoder(self.compute)
        self._tmpdir = tempfile.mkdtemp(prefix="cryptoscore-", dir=_tmp_root())
        os.chmod(self._tmpdir, 0o700)
        weakref.finalize(self, shutil.rmtree, self._tmpdir, True)
        self._local = threading.local()
        self.version = self._seal_version()

    # -- construction -------------------------------------------------------------------
    def _context(self, scheme: Any, primes: list[int]) -> Any:
        parms = seal.EncryptionParameters(scheme)
        parms.set_poly_modulus_degree(self.n)
        parms.set_coeff_modulus([seal.Modulus(q) for q in primes])
        if scheme == seal.SCHEME_TYPE.BFV:
            parms.set_plain_modulus(seal.Modulus(self.t))
        ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
        if not ctx.parameters_set():
            raise ParameterError(
                f"SEAL rejects parameter set {self.params.ID}: {ctx.parameters_error_message()}"
            )
        return ctx

    @staticmethod
    def _level_ids(ctx: Any) -> dict[int, ParmsId]:
        out: dict[int, ParmsId] = {}
        data = ctx.first_context_data()
        while data is not None:
            level = len(data.parms().coeff_modulus())
            out[level] = tuple(data.parms_id())
            data = data.next_context_data()
        return out

    def _seal_version(self) -> tuple[int, int]:
        pt = seal.Plaintext("1")
        path = self._path()
        pt.save(path)
        with open(path, "rb") as fh:
            head = fh.read(5)
        return head[3], head[4]

    # -- temp files -----------------------------------------------------------------------
    def _path(self) -> str:
        path: str | None = getattr(self._local, "path", None)
        if path is None:
            path = os.path.join(self._tmpdir, f"obj-{threading.get_ident()}")
            self._local.path = path
        return path

    def _load(self, obj: Any, ctx: Any, raw: bytes) -> Any:
        path = self._path()
        with open(path, "wb") as fh:
            fh.write(raw)
        try:
            obj.load(ctx, path)
        except (RuntimeError, ValueError) as exc:
            raise FormatError(f"SEAL refused the object: {exc}") from None
        return obj

    def save_bytes(self, obj: Any) -> bytes:
        """SEAL's own serialization of ``obj`` (zstd-compressed by this build)."""
        path = self._path()
        obj.save(path)
        with open(path, "rb") as fh:
            return fh.read()

    # -- levels -----------------------------------------------------------------------------
    # -- ciphertexts --------------------------------------------------------------------
    def bfv_ciphertext(self, data: U64Array) -> Any:
        """A SEAL BFV ciphertext (coefficient form) from ``data[poly, prime, coeff]``."""
        level = data.shape[1]
        raw = build_ciphertext(self.bfv_level_ids[level], data, self.version)
        return self._load(seal.Ciphertext(self.bfv), self.bfv, raw)

    def compute_ciphertext(self, data: U64Array) -> Any:
        """The same data as an NTT-form ciphertext of the compute context."""
        level = data.shape[1]
        raw = build_ciphertext(self.compute_level_ids[level], data, self.version)
        ct = self._load(seal.Ciphertext(self.compute), self.compute, raw)
        self.compute_evaluator.transform_to_ntt_inplace(ct)
        return ct

    def load_compute_raw(self, raw: bytes) -> Any:
        """A compute-context ciphertext from SEAL bytes, as stored (no NTT transform)."""
        return self._load(seal.Ciphertext(self.compute), self.compute, raw)

    def load_compute_plaintext(self, raw: bytes) -> Any:
        """A compute-context plaintext (NTT form when its parms_id is set) from SEAL bytes."""
        return self._load(seal.Plaintext(), self.compute, raw)

    def encrypt_zero_seeded(self, public_key: Any, seed: bytes, level: int) -> U64Array:
        """A BFV encryption of zero at ``level`` whose randomness is expanded from ``seed``
        by SEAL's Blake2xb PRNG — deterministic, so anyone with the seed recomputes it."""
        if len(seed) != 32:
            raise ComputationError("seed must be 32 bytes")
        expanded = hashlib.shake_256(b"cryptoscore/encrypt-zero/v1|" + seed).digest(64)
        words = [int.from_bytes(expanded[i : i + 8], "little") for i in range(0, 64, 8)]
        parms = seal.EncryptionParameters(seal.SCHEME_TYPE.BFV)
        parms.set_poly_modulus_degree(self.n)
        parms.set_coeff_modulus(
            [seal.Modulus(q) for q in (*self.params.DATA_PRIMES, self.params.SPECIAL_PRIME)]
        )
        parms.set_plain_modulus(seal.Modulus(self.t))
        parms.set_random_generator(seal.Blake2xbPRNGFactory(words))
        ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
        pk = self._load(seal.PublicKey(), ctx, self.save_bytes(public_key))
        encryptor = seal.Encryptor(ctx, pk)
        ct = seal.Ciphertext()
        encryptor.encrypt_zero(list(self.bfv_level_ids[level]), ct)
        return self.export(ct).data

    def export(self, ct: Any) -> SealCiphertext:
        return parse_ciphertext(self.save_bytes(ct))

    def compute_to_bfv(self, ct: Any) -> Any:
        """Convert a compute-context accumulator (NTT form) to a BFV ciphertext."""
        tmp = seal.Ciphertext()
        self.compute_evaluator.transform_from_ntt(ct, tmp)
        return self.bfv_ciphertext(self.export(tmp).data)

    def constant(self, value: int) -> Any:
        """An NTT-form constant plaintext of the compute context (for scalar products)."""
        if abs(value) >= 1 << 52:
            raise ComputationError("scalar too large for an exact constant")
        pt = seal.Plaintext()
        self._ckks_encoder.encode(
            float(value), list(self.compute_level_ids[self.params.fresh_level()]), 1.0, pt
        )
        return pt

    def monomial(self, exponent: int, coefficient: int = 1) -> Any:
        """The BFV plaintext ``coefficient · x^exponent`` (coefficient form)."""
        if not (0 <= exponent < self.n and 0 <= coefficient < self.t):
            raise ComputationError("monomial out of range")
        coeffs = np.zeros(self.n, dtype=np.uint64)
        coeffs[exponent] = coefficient
        return self.plaintext_from_coefficients(coeffs)

    def plaintext_from_coefficients(self, coeffs: U64Array) -> Any:
        raw = build_plaintext((0, 0, 0, 0), coeffs, self.version)
        return self._load(seal.Plaintext(), self.bfv, raw)

    def batch_plaintext(self, values: np.ndarray[Any, Any]) -> Any:
        """Batch-encode one value per slot (``len(values) <= N``; the rest are zero)."""
        pt = seal.Plaintext()
        self.batch_encoder.encode([int(v) for v in values], pt)
        return pt

    def batch_decode(self, pt: Any) -> U64Array:
        """Slot values of a coefficient-form plaintext (BatchEncoder order)."""
        return np.asarray(self.batch_encoder.decode_uint64(pt), dtype=np.uint64)

    def plaintext_coefficients(self, pt: Any) -> U64Array:
        coeffs = parse_plaintext(self.save_bytes(pt)).coefficients
        out = np.zeros(self.n, dtype=np.uint64)
        out[: coeffs.size] = coeffs
        return out

    # -- keys -------------------------------------------------------------------------------
    def load_public_key(self, raw: bytes) -> Any:
        return self._load(seal.PublicKey(), self.bfv, raw)

    def load_relin_keys(self, raw: bytes) -> Any:
        return self._load(seal.RelinKeys(), self.bfv, raw)

    def load_galois_keys(self, raw: bytes) -> Any:
        return self._load(seal.GaloisKeys(), self.bfv, raw)

    def load_secret_key(self, raw: bytes) -> Any:
        """Load a SEAL secret key; the bytes touch disk only in a 0600 file unlinked at once."""
        fd, path = tempfile.mkstemp(dir=self._tmpdir)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
            sk = seal.SecretKey()
            try:
                sk.load(self.bfv, path)
            except (RuntimeError, ValueError):
                raise FormatError("SEAL refused the secret key") from None
            return sk
        finally:
            os.unlink(path)

    def secret_key_bytes(self, sk: Any) -> bytes:
        fd, path = tempfile.mkstemp(dir=self._tmpdir)
        os.close(fd)
        try:
            sk.save(path)
            with open(path, "rb") as fh:
                return fh.read()
        finally:
            os.unlink(path)


_ENGINES: dict[str, SealEngine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(params: type[ParameterSet]) -> SealEngine:
    """The (process-wide, cached) engine of a parameter set."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(params.ID)
        if engine is None:
            engine = _ENGINES[params.ID] = SealEngine(params)
        return engine
