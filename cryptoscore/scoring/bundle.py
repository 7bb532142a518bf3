"""Encrypted bundles: a participant's predictions or the organizer's labels, on the wire.

Record layout (``envelope.py``, magic ``CSBUNDLE``, format version 3)::

    header (canonical JSON):
        kind       "predictions" | "labels"
        params     parameter-set id, e.g. "bfv-8192"
        key_id     hex SHA-256 of the public context the ciphertexts are encrypted under
        challenge  the challenge id the bundle is for (binds it to one challenge)
        classes    K (2 = binary task, one 0/1 vector)
        n          number of real items
        pad_request  null (public-key encryption: the body holds c0 and c1 of every
                   ciphertext) or the header object of the ``PadRequest`` whose pads encrypted
                   it (trustee-assisted encryption, ``scoring/pad_request.py`` and
                   ``threshold/pad_shares.py``: the body holds c0 only; c1 of ciphertext i
                   is ``hazmat/c1.expand_c1(params, request.c1_seed, i)``). It names
                   the pad's active set, which is the only set that may answer the bundle's
                   round 1 (``threshold/lineage.py``); its challenge, kind, key, parameters
                   and count must be the bundle's.
    body: ``chunks × vectors`` ciphertexts, chunk-major (``encoding.py``), each in the
          canonical fixed-length encoding of ``ciphertext.py`` at the fresh level (one
          polynomial each when seeded, two otherwise).

Threshold challenges accept seeded bundles only
(``protocol/challenge.ChallengeContext.check_bundle``): their submitters never choose c1, so
they cannot make the secret key part of a ciphertext's noise (SECURITY.md).

Because every ciphertext has the same length, the body length is known from the header and
checked before anything else; each ciphertext is validated (coefficients reduced, not
transparent) when it is read. Files are memory-mapped, so scoring a bundle of a million items
keeps only a chunk in memory.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

import numpy as np

from cryptoscore.envelope import Fields, header_length, record_prefix, unpack_record
from cryptoscore.errors import FormatError, InputError, MismatchError
from cryptoscore.hazmat.c1 import expand_c1
from cryptoscore.hazmat.ciphertext import ciphertext_nbytes, decode_ciphertext
from cryptoscore.hazmat.seal_format import U64Array
from cryptoscore.params import ParameterSet, get_parameter_set
from cryptoscore.scoring.encoding import Layout
from cryptoscore.scoring.pad_request import PadRequest

__all__ = ["BUNDLE_KINDS", "BundleHeader", "BundleWriter", "EncryptedBundle"]

MAGIC = b"CSBUNDLE"
FORMAT_VERSION = 3
BundleKind = Literal["predictions", "labels"]
BUNDLE_KINDS: tuple[BundleKind, ...] = ("predictions", "labels")
_FIELDS = {"kind", "params", "key_id", "challenge", "classes", "n", "pad_request"}


@dataclass(frozen=True, slots=True)
class BundleHeader:
    kind: BundleKind
    params: type[ParameterSet]
    key_id: str
    challenge: str
    classes: int
    n: int
    pad_request: PadRequest | None = None
    """The pad request whose pads encrypted the bundle (trustee-assisted encryption), or
    None (public-key)."""

    def __post_init__(self) -> None:
        if self.kind not in BUNDLE_KINDS:
            raise FormatError(f"bundle kind must be one of {BUNDLE_KINDS}, got {self.kind!r}")
        if not self.challenge or len(self.challenge) > 128:
            raise FormatError("bundle challenge id must be 1..128 characters")
        pad = self.pad_request
        if pad is not None and (
            pad.kind != self.kind
            or pad.challenge_id != self.challenge
            or pad.params is not self.params
            or pad.key_id != self.key_id
        ):
            raise FormatError(
                "bundle: its pad request is for another challenge, kind, key or parameter set"
            )
        if pad is not None and pad.count != self.layout.ciphertexts:
            raise FormatError(
                f"bundle: its pad request has {pad.count} pads for "
                f"{self.layout.ciphertexts} ciphertexts"
            )

    @property
    def c1_seed(self) -> bytes | None:
        """The public seed of every c1 (``PadRequest.c1_seed``), or None (public-key)."""
        return None if self.pad_request is None else self.pad_request.c1_seed

    @property
    def layout(self) -> Layout:
        return Layout.for_params(self.params, self.n, self.classes)

    @property
    def level(self) -> int:
        return self.params.fresh_level()

    @property
    def seeded(self) -> bool:
        return self.pad_request is not None

    @property
    def stored_polys(self) -> int:
        """Polynomials stored per ciphertext: c0 only when c1 comes from the seed."""
        return 1 if self.seeded else 2

    @property
    def ciphertext_bytes(self) -> int:
        return ciphertext_nbytes(
            self.params.moduli(self.level), self.params.POLY_MODULUS_DEGREE, self.stored_polys
        )

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "params": self.params.ID,
            "key_id": self.key_id,
            "challenge": self.challenge,
            "classes": self.classes,
            "n": self.n,
            "pad_request": None if self.pad_request is None else self.pad_request.header(),
        }

    def prefix(self) -> bytes:
        return record_prefix(MAGIC, FORMAT_VERSION, self.as_json())

    def record_length(self) -> int:
        return len(self.prefix()) + self.layout.ciphertexts * self.ciphertext_bytes

    @classmethod
    def parse(cls, header: dict[str, object]) -> BundleHeader:
        f = Fields(header, "encrypted bundle", _FIELDS)
        kind = f.string("kind")
        if kind not in BUNDLE_KINDS:
            raise FormatError(f"encrypted bundle: unknown kind {kind!r}")
        params = get_parameter_set(f.string("params"))
        raw_pad = header["pad_request"]
        try:
            pad = None if raw_pad is None else PadRequest.from_header(raw_pad)  # type: ignore[arg-type]
        except FormatError as exc:
            raise FormatError(f"encrypted bundle: {exc}") from None
        try:
            return cls(
                kind=kind,  # checked just above
                params=params,
                key_id=f.hex("key_id", 32).hex(),
                challenge=f.string("challenge", 128),
                classes=f.integer("classes", 2, 64),
                n=f.integer("n", 1, params.max_count()),
                pad_request=pad,
            )
        except InputError as exc:
            raise FormatError(f"encrypted bundle: {exc}") from None


class EncryptedBundle:
    """A parsed bundle; ciphertexts are decoded (and validated) lazily, one at a time."""

    __slots__ = ("_body", "_digest", "_keepalive", "header")

    def __init__(self, header: BundleHeader, body: memoryview, keepalive: object = None) -> None:
        self.header = header
        self._body = body
        self._keepalive = keepalive
        self._digest: str | None = None

    # -- parsing ------------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> EncryptedBundle:
        header_json, body = unpack_record(raw, MAGIC, FORMAT_VERSION, "encrypted bundle")
        header = BundleHeader.parse(header_json)
        expected = header.layout.ciphertexts * header.ciphertext_bytes
        if len(body) != expected:
            raise FormatError(
                f"encrypted bundle: body has {len(body)} bytes, expected {expected} "
                f"({header.layout.ciphertexts} ciphertexts of {header.ciphertext_bytes} bytes "
                f"for n={header.n}, K={header.classes}); truncated or padded upload"
            )
        return cls(header, body, raw)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> EncryptedBundle:
        """Memory-map a bundle file (read-only)."""
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                raise FormatError("encrypted bundle: empty file")
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return cls.from_bytes(memoryview(mapped))

    # -- access -------------------------------------------------------------------------------
    @property
    def layout(self) -> Layout:
        return self.header.layout

    def ciphertext(self, index: int) -> U64Array:
        """Decoded ciphertext ``index`` (``data[poly, prime, coeff]``), validated."""
        if not 0 <= index < self.layout.ciphertexts:
            raise IndexError(index)
        h = self.header
        size = h.ciphertext_bytes
        raw = self._body[index * size : (index + 1) * size]
        params = h.params
        try:
            stored = decode_ciphertext(
                raw, params.moduli(h.level), params.POLY_MODULUS_DEGREE, h.stored_polys
            )
        except FormatError as exc:
            raise FormatError(f"encrypted bundle, ciphertext {index}: {exc}") from None
        if h.c1_seed is None:
            return stored
        out: U64Array = np.stack([stored[0], expand_c1(params, h.c1_seed, index)])
        return out

    def chunk(self, k: int) -> list[U64Array]:
        """The ``vectors`` ciphertexts of chunk ``k`` (class order)."""
        v = self.layout.vectors
        return [self.ciphertext(k * v + c) for c in range(v)]

    def chunks(self) -> Iterator[list[U64Array]]:
        for k in range(self.layout.chunks):
            yield self.chunk(k)

    def validate(self) -> None:
        """Decode every ciphertext (raises :class:`FormatError` naming the first bad one)."""
        for i in range(self.layout.ciphertexts):
            self.ciphertext(i)

    def to_bytes(self) -> bytes:
        return self.header.prefix() + bytes(self._body)

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the record bytes: the bundle's identity in logs and requests."""
        if self._digest is None:
            h = hashlib.sha256(self.header.prefix())
            h.update(self._body)
            self._digest = h.hexdigest()
        return self._digest

    def expect(
        self,
        *,
        kind: BundleKind | None = None,
        params: type[ParameterSet] | None = None,
        key_id: str | None = None,
        challenge: str | None = None,
        classes: int | None = None,
        n: int | None = None,
    ) -> EncryptedBundle:
        """Check that the bundle is what the caller expects; raise :class:`MismatchError`."""
        h = self.header
        checks: list[tuple[str, object, object]] = [
            ("kind", kind, h.kind),
            ("parameter set", params.ID if params else None, h.params.ID),
            ("key id", key_id, h.key_id),
            ("challenge", challenge, h.challenge),
            ("number of classes", classes, h.classes),
            ("number of items", n, h.n),
        ]
        for what, want, got in checks:
            if want is not None and want != got:
                raise MismatchError(f"encrypted bundle: {what} is {got!r}, expected {want!r}")
        return self


def header_of(raw: bytes | memoryview) -> BundleHeader:
    """Parse only the header of a bundle (cheap; for upload checks before storing)."""
    header_json, _ = unpack_record(
        memoryview(raw)[: header_length(raw)], MAGIC, FORMAT_VERSION, "encrypted bundle"
    )
    return BundleHeader.parse(header_json)


class BundleWriter:
    """Write a bundle to a binary stream one ciphertext at a time (memory flat in n)."""

    def __init__(self, header: BundleHeader, out: IO[bytes]) -> None:
        self.header = header
        self._out = out
        self._hash = hashlib.sha256()
        self._written = 0
        self._expected = header.layout.ciphertexts
        self._write(header.prefix())

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._hash.update(data)

    def add(self, encoded_ciphertext: bytes) -> None:
        if len(encoded_ciphertext) != self.header.ciphertext_bytes:
            raise FormatError("ciphertext of the wrong length for this bundle")
        if self._written >= self._expected:
            raise FormatError("more ciphertexts than the bundle header announces")
        self._write(encoded_ciphertext)
        self._written += 1

    def finish(self) -> str:
        """Check completeness; return the bundle digest."""
        if self._written != self._expected:
            raise FormatError(
                f"bundle incomplete: {self._written} of {self._expected} ciphertexts written"
            )
        return self._hash.hexdigest()
