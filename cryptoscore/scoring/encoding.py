"""From class indices to the slot vectors that get encrypted.

Layout (docs/design.md, "BFV lane"). ``n`` items with class indices in ``0..K-1``:

* binary task (K = 2): one 0/1 vector ``v[i] = index[i]``;
* K ≥ 3: the one-hot matrix P (n × K) class-major, i.e. K vectors ``P_c[i] = [index[i] == c]``.

Each vector is cut into chunks of N slots (N = ring degree: every slot of the ciphertext is
used — both rows of SEAL's 2 × N/2 batching matrix) and the last chunk is zero-padded.
Ciphertexts are ordered chunk-major: chunk 0 of every vector, then chunk 1, ..., so a stream
can be scored chunk by chunk with memory flat in n.

Slot i of chunk k holds item k·N + i; batching slot order is SEAL's ``BatchEncoder`` order,
which the aggregates do not depend on (they are sums over all slots).

A public/private split (docs/design.md, "Public/private split") travels inside the labels: the
organizer draws a secret public set (:func:`draw_public_mask`) and encrypts the labels as one-hot
over 2K classes, class ``label`` for a public item and ``K + label`` for a private one
(:func:`split_label_indices`): the vectors ``Y_pub = Y ⊙ M`` then ``Y_priv = Y ⊙ (1 − M)``,
a zero row wherever the item is in the other part. Round 1's validity check of a one-hot
bundle then proves the mask well-formed: every real item has exactly one 1 among the 2K
vectors, so it is in exactly one part, with one label.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cryptoscore.errors import InputError
from cryptoscore.params import ParameterSet
from cryptoscore.randomness import Rng

__all__ = [
    "Layout",
    "draw_public_mask",
    "load_class_indices",
    "slot_vectors",
    "split_label_indices",
]

IntArray = npt.NDArray[np.int64]
MAX_CLASSES = 64
MAX_ITEMS = 1 << 30


@dataclass(frozen=True, slots=True)
class Layout:
    """Shape of an encoded vector set: how many items, classes, vectors and chunks."""

    n: int
    classes: int
    slots: int

    def __post_init__(self) -> None:
        if not 2 <= self.classes <= MAX_CLASSES:
            raise InputError(f"number of classes must be in 2..{MAX_CLASSES}, got {self.classes}")
        if not 1 <= self.n <= MAX_ITEMS:
            raise InputError(f"number of items must be in 1..{MAX_ITEMS}, got {self.n}")

    @classmethod
    def for_params(cls, params: type[ParameterSet], n: int, classes: int) -> Layout:
        layout = cls(n, classes, params.slot_count())
        params.check_count(n, "number of items")
        return layout

    @property
    def binary(self) -> bool:
        return self.classes == 2

    @property
    def vectors(self) -> int:
        """Ciphertexts per chunk: 1 for a binary task, K for one-hot."""
        return 1 if self.binary else self.classes

    @property
    def chunks(self) -> int:
        return -(-self.n // self.slots)

    @property
    def ciphertexts(self) -> int:
        return self.chunks * self.vectors

    def rows_in_chunk(self, chunk: int) -> int:
        """Real (non-padding) items in ``chunk``."""
        return min(self.slots, self.n - chunk * self.slots)


def _as_indices(values: object, classes: int) -> IntArray:
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InputError(f"class indices must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError("no items: the array of class indices is empty")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)):
            if not np.all(arr == np.round(arr)):
                raise InputError("class indices must be whole numbers")
            arr = arr.astype(np.int64)
        else:
            raise InputError(f"class indices must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= classes:
        bad = int(np.argmax((arr < 0) | (arr >= classes)))
        raise InputError(  # items counted from 1, as a CSV's lines are
            f"class index {int(arr[bad])} at item {bad + 1} is outside 0..{classes - 1}"
        )
    return arr


def slot_vectors(
    indices: object, params: type[ParameterSet], classes: int
) -> tuple[Layout, Iterator[tuple[int, npt.NDArray[np.uint64]]]]:
    """Validate ``indices`` and yield ``(ciphertext position, N slot values)`` in bundle order.

    Values are 0/1; the generator holds one chunk of slots at a time.
    """
    arr = _as_indices(indices, classes)
    layout = Layout.for_params(params, int(arr.size), classes)

    def gen() -> Iterator[tuple[int, npt.NDArray[np.uint64]]]:
        pos = 0
        for k in range(layout.chunks):
            part = arr[k * layout.slots : (k + 1) * layout.slots]
            for c in range(layout.vectors):
                vec = np.zeros(layout.slots, dtype=np.uint64)
                target = 1 if layout.binary else c
                vec[: part.size] = part == target
                yield pos, vec
                pos += 1

    return layout, gen()


def draw_public_mask(n: int, public_items: int, *, rng: Rng = os.urandom) -> npt.NDArray[np.bool_]:
    """Organizer: a secret public part of exactly ``public_items`` of ``n`` items, uniform
    among all such sets (a Fisher–Yates shuffle; each index drawn by rejection from ``rng``,
    the OS CSPRNG by default). ``True`` marks a public item."""
    if not 1 <= public_items < n:
        raise InputError(f"the public part has 1..{n - 1} items, not {public_items}")
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        bound = i + 1
        nbytes = (bound.bit_length() + 7) // 8
        limit = (256**nbytes // bound) * bound  # rejection: every j in 0..i equally likely
        while True:
            value = int.from_bytes(rng(nbytes), "big")
            if value < limit:
                break
        j = value % bound
        order[i], order[j] = order[j], order[i]
    mask = np.zeros(n, dtype=np.bool_)
    mask[order[:public_items]] = True
    return mask


def split_label_indices(labels: object, public: object, classes: int) -> IntArray:
    """Organizer: the labels of a split challenge as class indices over ``2·classes``:
    ``label`` for a public item, ``classes + label`` for a private one (``public``: one bool
    per item, from :func:`draw_public_mask`). Encrypt them with ``classes=2·classes``."""
    arr = _as_indices(labels, classes)
    mask = np.asarray(public)
    if mask.dtype != np.bool_ or mask.shape != arr.shape:
        raise InputError(f"the public mask must be {arr.size} booleans, one per item")
    if not mask.any() or mask.all():
        raise InputError("a split has at least one public and one private item")
    out: IntArray = np.where(mask, arr, arr + classes).astype(np.int64)
    return out


def load_class_indices(path: str | os.PathLike[str]) -> IntArray:
    """Read class indices from a ``.npy`` file or a CSV file with one column.

    A CSV may have one header line (a non-numeric first row is skipped).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"{p}: not a readable .npy array ({exc})") from None
        return np.asarray(arr)
    values: list[int] = []
    with p.open(newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 1:
                raise InputError(f"{p}:{lineno}: expected one column, got {len(row)}")
            cell = row[0].strip()
            try:
                values.append(int(cell))
            except ValueError:
                if lineno == 1 and not values:
                    continue  # header line
                raise InputError(f"{p}:{lineno}: {cell!r} is not an integer class index") from None
    if not values:
        raise InputError(f"{p}: no class indices found")
    return np.asarray(values, dtype=np.int64)
