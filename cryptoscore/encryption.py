"""Client-side encryption: class indices → an encrypted bundle, streamed.

:func:`encrypt_predictions` (participant) and :func:`encrypt_labels` (organizer) are the
recipes; both validate the indices, encode them (``encoding.py``), encrypt each slot vector
under the public key with SEAL's BFV public-key encryption (fresh randomness per ciphertext),
and write the canonical bundle record chunk by chunk, so memory stays flat in n.

:func:`raw_encrypt_vectors` encrypts arbitrary slot values. You probably want one of the
recipes: the raw function exists so tests can act as a malicious participant (non-binary or
weighted encodings) and must never be used to prepare an honest submission.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tenseal.sealapi as seal

from ._seal.engine import SealEngine, engine_for
from .bundle import BundleHeader, BundleKind, BundleWriter, EncryptedBundle
from .ciphertext import encode_ciphertext
from .encoding import Layout, slot_vectors
from .errors import InputError
from .keys import PublicContext

__all__ = ["encrypt_labels", "encrypt_predictions", "encrypt_slots", "raw_encrypt_vectors"]

Progress = Callable[[int], None]
"""Called with the number of ciphertexts finished so far."""


class _Encryptor:
    """SEAL public-key encryption of one slot vector into canonical ciphertext bytes."""

    def __init__(self, public: PublicContext) -> None:
        self.engine: SealEngine = engine_for(public.params)
        self.params = public.params
        self._encryptor = seal.Encryptor(self.engine.bfv, public.seal_public_key())
        self._moduli = public.params.moduli(public.params.fresh_level())

    def encrypt(self, values: npt.NDArray[np.uint64]) -> bytes:
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
    return _encryptor(public).encrypt(values)


def _write(
    public: PublicContext,
    header: BundleHeader,
    vectors: Iterable[tuple[int, npt.NDArray[np.uint64]]],
    out: str | os.PathLike[str] | None,
    progress: Progress | None,
) -> EncryptedBundle:
    enc = _encryptor(public)
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
    enc: _Encryptor,
    vectors: Iterable[tuple[int, npt.NDArray[np.uint64]]],
    progress: Progress | None,
) -> None:
    for done, (_, vec) in enumerate(vectors, start=1):
        writer.add(enc.encrypt(vec))
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
) -> EncryptedBundle:
    layout, vectors = slot_vectors(indices, public.params, classes)
    header = BundleHeader(kind, public.params, public.key_id, challenge, classes, layout.n)
    return _write(public, header, vectors, out, progress)


def encrypt_predictions(
    predictions: object,
    public: PublicContext,
    *,
    classes: int,
    challenge: str,
    out: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> EncryptedBundle:
    """Participant: encrypt predicted class indices (``0..classes-1``) for ``challenge``.

    With ``out`` the bundle is streamed to that file (written atomically) and returned
    memory-mapped; otherwise it is built in memory.
    """
    return _encrypt(
        "predictions",
        predictions,
        public,
        classes=classes,
        challenge=challenge,
        out=out,
        progress=progress,
    )


def encrypt_labels(
    labels: object,
    public: PublicContext,
    *,
    classes: int,
    challenge: str,
    out: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> EncryptedBundle:
    """Organizer: encrypt the true class indices of the test set for ``challenge``."""
    return _encrypt(
        "labels", labels, public, classes=classes, challenge=challenge, out=out, progress=progress
    )


def raw_encrypt_vectors(
    kind: BundleKind,
    vectors: Iterable[npt.NDArray[Any]],
    public: PublicContext,
    *,
    classes: int,
    n: int,
    challenge: str,
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
    header = BundleHeader(kind, public.params, public.key_id, challenge, classes, n)
    return _write(public, header, items, None, None)
