"""Client-side encryption: class indices → an encrypted bundle, streamed.

:func:`encrypt_predictions` (participant) and :func:`encrypt_labels` (organizer) are the
recipes; both validate the indices, encode them (``encoding.py``), encrypt each slot vector,
and write the canonical bundle record chunk by chunk, so memory stays flat in n. Two ways to
encrypt:

* with ``pads=`` (threshold challenges; required there): trustee-assisted encryption
  (``scoring/pad_request.py``, ``threshold/pad_shares.py``). Ciphertext i is
  (pad_i + ⌊Q·m_i/t⌉ + e_i, a_i) with a_i expanded from the pad request's public seed and e_i
  centered binomial from ``rng`` (``os.urandom`` by default); the bundle stores c0 and the pad
  request (whose digest seeds c1). The submitter never chooses c1.
* without: SEAL's BFV public-key encryption (fresh randomness per ciphertext, from SEAL's own
  PRNG: ``rng`` does not reach it) — for single-key use (examples, benchmarks, tests of the
  circuits).

:func:`raw_encrypt_vectors` encrypts arbitrary slot values. You probably want one of the
recipes: the raw function exists so tests can act as a malicious participant (non-binary or
weighted encodings) and must never be used to prepare an honest submission.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tenseal.sealapi as seal

from cryptoscore.errors import InputError, MismatchError
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.modmath import addmod, centered_binomial, mulmod, reduce_signed
from cryptoscore.hazmat.seal_engine import SealEngine, engine_for
from cryptoscore.randomness import Rng
from cryptoscore.scoring.bundle import BundleHeader, BundleKind, BundleWriter, EncryptedBundle
from cryptoscore.scoring.encoding import Layout, slot_vectors
from cryptoscore.scoring.keys import PublicContext
from cryptoscore.scoring.pad_request import PadRequest, Pads

__all__ = ["encrypt_labels", "encrypt_predictions", "encrypt_slots", "raw_encrypt_vectors"]

Progress = Callable[[int], None]
"""Called with the number of ciphertexts finished so far."""


class _Encryptor:
    """SEAL public-key encryption of one slot vector into canonical ciphertext bytes."""

    pad_request: PadRequest | None = None

    def __init__(self, public: PublicContext) -> None:
        self.engine: SealEngine = engine_for(public.params)
        self.params = public.params
        self._encryptor = seal.Encryptor(self.engine.bfv, public.seal_public_key())
        self._moduli = public.params.moduli(public.params.fresh_level())

    def encrypt(self, index: int, values: npt.NDArray[np.uint64]) -> bytes:
        ct = seal.Ciphertext()
        self._encryptor.encrypt(self.engine.batch_plaintext(values), ct)
        return encode_ciphertext(self.engine.export(ct).data, self._moduli)


_ENCRYPTORS: dict[str, _Encryptor] = {}


def _encryptor(public: PublicContext) -> _Encryptor:
    enc = _ENCRYPTORS.get(public.key_id)
    if enc is None:
        enc = _ENCRYPTORS[public.key_id] = _Encryptor(public)
    return enc


def encrypt_slots(public: PublicContext, values: npt.NDArray[np.uint64]) -> bytes:
    """Encrypt one slot vector (values mod t, at most N of them) to canonical bytes."""
    if values.size > public.params.slot_count():
        raise InputError("more values than slots")
    return _encryptor(public).encrypt(0, values)


class _PadEncryptor:
    """Trustee-assisted encryption of slot vector ``index`` with that pad: c0 only."""

    def __init__(
        self, public: PublicContext, pads: Pads, kind: BundleKind, challenge: str, rng: Rng
    ):
        request = pads.request
        if request.params is not public.params or request.key_id != public.key_id:
            raise MismatchError("the pads were made for another key or parameter set")
        if request.kind != kind or request.challenge_id != challenge:
            raise MismatchError(
                f"the pads were made for {request.kind} of challenge {request.challenge_id!r}"
            )
        self.engine: SealEngine = engine_for(public.params)
        self.params = public.params
        self.pad_request: PadRequest | None = request
        self.count = request.count
        self._moduli = public.params.moduli(public.params.fresh_level())
        t = public.params.PLAIN_MODULUS
        q_full = math.prod(self._moduli)
        self._delta = [((q_full - 1) // t) % q for q in self._moduli]  # Q ≡ 1 (mod t)
        self._half = (t + 1) // 2
        self._pads = pads.take()
        self._rng = rng

    def encrypt(self, index: int, values: npt.NDArray[np.uint64]) -> bytes:
        m = self.engine.plaintext_coefficients(self.engine.batch_plaintext(values))
        # ⌊Q·m/t⌉ = Δ·m + [m ≥ t/2] because Q = Δ·t + 1 (what SEAL's encryptor adds)
        carry = (m >= np.uint64(self._half)).astype(np.uint64)
        error = centered_binomial(m.size, rng=self._rng)
        c0 = np.empty((1, len(self._moduli), m.size), dtype=np.uint64)
        for i, q in enumerate(self._moduli):
            scaled = addmod(mulmod(m % np.uint64(q), self._delta[i], q), carry, q)
            c0[0, i] = addmod(addmod(self._pads[index, i], scaled, q), reduce_signed(error, q), q)
        error.fill(0)
        self._pads[index].fill(0)  # single use
        return encode_ciphertext(c0, self._moduli)


_AnyEncryptor = _Encryptor | _PadEncryptor


def _encryptor_for(
    public: PublicContext,
    pads: Pads | None,
    kind: BundleKind,
    challenge: str,
    count: int,
    rng: Rng,
) -> _AnyEncryptor:
    if pads is None:
        return _encryptor(public)
    if pads.request.count != count:
        raise MismatchError(
            f"the pads are for {pads.request.count} ciphertexts, this bundle has {count}"
        )
    return _PadEncryptor(public, pads, kind, challenge, rng)


def _write(
    enc: _AnyEncryptor,
    header: BundleHeader,
    vectors: Iterable[tuple[int, npt.NDArray[np.uint64]]],
    out: str | os.PathLike[str] | None,
    progress: Progress | None,
) -> EncryptedBundle:
    if out is None:
        buf = io.BytesIO()
        writer = BundleWriter(header, buf)
        _fill(writer, enc, vectors, progress)
        return EncryptedBundle.from_bytes(buf.getvalue())
    path = Path(out)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as fh:
        writer = BundleWriter(header, fh)
        _fill(writer, enc, vectors, progress)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return EncryptedBundle.open(path)


def _fill(
    writer: BundleWriter,
    enc: _AnyEncryptor,
    vectors: Iterable[tuple[int, npt.NDArray[np.uint64]]],
    progress: Progress | None,
) -> None:
    for done, (index, vec) in enumerate(vectors, start=1):
        writer.add(enc.encrypt(index, vec))
        if progress is not None:
            progress(done)
    writer.finish()


def _encrypt(
    kind: BundleKind,
    indices: object,
    public: PublicContext,
    *,
    classes: int,
    challenge: str,
    out: str | os.PathLike[str] | None,
    progress: Progress | None,
    pads: Pads | None,
    rng: Rng,
) -> EncryptedBundle:
    layout, vectors = slot_vectors(indices, public.params, classes)
    enc = _encryptor_for(public, pads, kind, challenge, layout.ciphertexts, rng)
    header = BundleHeader(
        kind, public.params, public.key_id, challenge, classes, layout.n, enc.pad_request
    )
    return _write(enc, header, vectors, out, progress)


def encrypt_predictions(
    predictions: object,
    public: PublicContext,
    *,
    classes: int,
    challenge: str,
    out: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    pads: Pads | None = None,
    rng: Rng = os.urandom,
) -> EncryptedBundle:
    """Participant: encrypt predicted class indices (``0..classes-1``) for ``challenge``.

    With ``out`` the bundle is streamed to that file (written atomically) and returned
    memory-mapped; otherwise it is built in memory. ``pads`` (from
    :func:`cryptoscore.threshold.pad_shares.open_pads`) selects trustee-assisted encryption,
    which threshold challenges require; they are used up. ``rng`` draws the errors e_i of
    trustee-assisted encryption (without pads SEAL draws its own).
    """
    return _encrypt(
        "predictions",
        predictions,
        public,
        classes=classes,
        challenge=challenge,
        out=out,
        progress=progress,
        pads=pads,
        rng=rng,
    )


def encrypt_labels(
    labels: object,
    public: PublicContext,
    *,
    classes: int,
    challenge: str,
    out: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    pads: Pads | None = None,
    rng: Rng = os.urandom,
) -> EncryptedBundle:
    """Organizer: encrypt the true class indices of the test set for ``challenge``
    (``pads`` and ``rng`` as for :func:`encrypt_predictions`)."""
    return _encrypt(
        "labels",
        labels,
        public,
        classes=classes,
        challenge=challenge,
        out=out,
        progress=progress,
        pads=pads,
        rng=rng,
    )


def raw_encrypt_vectors(
    kind: BundleKind,
    vectors: Iterable[npt.NDArray[Any]],
    public: PublicContext,
    *,
    classes: int,
    n: int,
    challenge: str,
    pads: Pads | None = None,
    rng: Rng = os.urandom,
) -> EncryptedBundle:
    """Hazmat: encrypt arbitrary slot vectors (values taken mod t) in bundle order.

    You probably want :func:`encrypt_predictions`. This builds bundles an honest client never
    would (weights 2^i, two classes in one row, non-zero padding) for adversarial tests.
    """
    layout = Layout.for_params(public.params, n, classes)
    t = public.params.PLAIN_MODULUS
    items: list[tuple[int, npt.NDArray[np.uint64]]] = []
    for i, vec in enumerate(vectors):
        arr = np.asarray(vec, dtype=object)
        full = np.zeros(layout.slots, dtype=np.uint64)
        full[: arr.size] = np.array([int(v) % t for v in arr], dtype=np.uint64)
        items.append((i, full))
    if len(items) != layout.ciphertexts:
        raise InputError(f"expected {layout.ciphertexts} vectors, got {len(items)}")
    enc = _encryptor_for(public, pads, kind, challenge, layout.ciphertexts, rng)
    header = BundleHeader(
        kind, public.params, public.key_id, challenge, classes, n, enc.pad_request
    )
    return _write(enc, header, items, None, None)
