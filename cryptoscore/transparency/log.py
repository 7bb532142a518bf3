"""Append-only transparency log: RFC 9162 Merkle tree hashing, proofs and signed tree heads.

Everything CryptoScore publishes (ciphertext hashes, releases, audit events) is appended to a
log whose Merkle tree is computed exactly as Certificate Transparency v2 specifies, so any
RFC 9162 / RFC 6962 verifier can check our proofs:

* Hashing (RFC 9162 §2.1.1): ``HASH`` is SHA-256. The hash of the empty tree is
  ``MTH({}) = HASH()``; a leaf is ``MTH({d}) = HASH(0x00 || d)``; for ``n > 1`` with ``k`` the
  largest power of two *strictly* smaller than ``n``,
  ``MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))``. (Splitting at ``k`` rather than
  at the midpoint is what makes the tree append-only and interoperable.)
* Inclusion proofs (§2.1.3): :meth:`MerkleLog.inclusion_proof` returns ``PATH(m, D[n])``
  (§2.1.3.1), ordered from the leaf's sibling up to the child of the root;
  :func:`verify_inclusion` is the verification algorithm of §2.1.3.2.
* Consistency proofs (§2.1.4): :meth:`MerkleLog.consistency_proof` returns ``PROOF(m, D[n])``
  built from ``SUBPROOF`` (§2.1.4.1); :func:`verify_consistency` is the algorithm of §2.1.4.2.
  RFC 9162 defines proofs only for ``0 < m < n``. For the two trivial cases we follow the
  usual convention (transparency-dev, Sigsum): the proof is *empty*, and it verifies iff
  ``m == n`` and both roots are equal, or ``m == 0`` and the old root is ``MTH({}) = HASH()``
  (the empty tree is a prefix of every tree).

Signed tree heads are our own format (RFC 9162's ``TreeHeadDataV2`` / ``signed_tree_head_v2``,
§4.9-§4.10, are TLS-encoded TransItems tied to CT's log-id OIDs). :func:`tree_head_message`
gives the exact bytes that are signed with Ed25519 (RFC 8032)::

    b"cryptoscore-sth-v1\\x00"       19-byte domain separator (ASCII, NUL-terminated)
    u16  len(log_id_utf8)            big-endian, 1..65535
    log_id_utf8                      the log id, UTF-8
    u64  size                        tree size, big-endian
    root                             32 bytes, MTH of the first ``size`` leaves
    u64  timestamp_ms                milliseconds since the Unix epoch, big-endian

The JSON forms (:meth:`SignedTreeHead.to_json`, :meth:`InclusionProof.to_json`,
:meth:`ConsistencyProof.to_json`) carry ``"version"`` and write every byte string as lowercase
hex; parsing is strict (exact key set, exact types, exact lengths) and raises
:class:`~cryptoscore.errors.FormatError`.

:class:`MerkleLog` holds the leaf hashes in memory (the service persists them and reloads them
with :meth:`MerkleLog.append_leaf_hash`) together with the hash of every *complete* subtree
(aligned, power-of-two sized). Appending costs O(1) amortized hashes; roots of any past size
and both kinds of proof cost O(log n) hashes, because every node of the RFC tree is either a
complete subtree (a cache lookup) or lies on the right edge of a tree of at most ``n`` leaves.

Errors: verification failures raise :class:`~cryptoscore.errors.VerificationError`; bad
arguments to :class:`MerkleLog` (index or size out of range) raise
:class:`~cryptoscore.errors.MismatchError`; malformed hashes, entries and records raise
:class:`~cryptoscore.errors.FormatError`. Nothing here raises ``ValueError`` on purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from cryptoscore.errors import (
    CryptoScoreError,
    FormatError,
    MismatchError,
    ParameterError,
    VerificationError,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_PATH_LENGTH",
    "MAX_TREE_SIZE",
    "SIGNATURE_SIZE",
    "STH_DOMAIN",
    "CollectingNodes",
    "ConsistencyProof",
    "InclusionProof",
    "MemoryNodes",
    "MerkleLog",
    "NodeStore",
    "SignedTreeHead",
    "consistency_proof_length",
    "hash_children",
    "hash_leaf",
    "inclusion_proof_length",
    "sign_tree_head",
    "tree_head_message",
    "verify_consistency",
    "verify_inclusion",
    "verify_tree_head",
]

HASH_SIZE = 32
"""Bytes in a SHA-256 digest: every leaf hash, node hash, root and proof element."""
MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size (and timestamp) representable in the u64 fields of a signed tree head."""
MAX_PATH_LENGTH = 64
"""Most hashes a proof record may carry. A tree of at most 2**64 - 1 leaves has depth at most
64, so every inclusion proof fits; a consistency proof can need one hash more than the depth,
which only matters for trees of more than 2**63 leaves."""
SIGNATURE_SIZE = 64
"""Bytes in an Ed25519 signature."""
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""``MTH({}) = HASH()``, the root of the empty tree (RFC 9162 §2.1.1)."""
STH_DOMAIN = b"cryptoscore-sth-v1\x00"
"""Domain separator that starts every signed tree-head message."""

_T = TypeVar("_T")
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_MAX_LOG_ID_BYTES = 0xFFFF
_HEX = re.compile(r"[0-9a-f]*")


# --------------------------------------------------------------------------------------------
# Hashing (RFC 9162 §2.1.1)
# --------------------------------------------------------------------------------------------


def hash_leaf(entry: bytes | bytearray | memoryview) -> bytes:
    """``HASH(0x00 || entry)``: the leaf hash of one log entry."""
    if not isinstance(entry, bytes | bytearray | memoryview):
        raise FormatError(f"a log entry must be bytes, not {type(entry).__name__}")
    return hashlib.sha256(_LEAF_PREFIX + bytes(entry)).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """``HASH(0x01 || left || right)``: the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof_length(index: int, size: int) -> int:
    """Number of hashes in ``PATH(index, D[size])`` (the depth of leaf ``index``).

    Requires ``0 <= index < size``; callers validate.
    """
    length = 0
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            end = mid
        else:
            start = mid
        length += 1
    return length


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """Number of hashes in ``PROOF(old_size, D[new_size])``; 0 for the trivial cases
    ``old_size == 0`` and ``old_size == new_size``.

    Requires ``0 <= old_size <= new_size``; callers validate.
    """
    if old_size in (0, new_size):
        return 0
    length = 0
    m, width = old_size, new_size  # m is relative to the current subtree, width its size
    complete = True
    while m != width:
        k = _split(width)
        if m <= k:
            width = k
        else:
            m -= k
            width -= k
            complete = False
        length += 1
    return length + (0 if complete else 1)


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _check_int(value: object, what: str, lo: int, hi: int, error: type[CryptoScoreError]) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise error(f"{what} must be an integer, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise error(f"{what} {value} is out of range {lo}..{hi}")
    return value


def _check_hash(value: object, what: str, error: type[CryptoScoreError]) -> bytes:
    if not isinstance(value, bytes):
        raise error(f"{what} must be bytes, not {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise error(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


def _check_path(value: object, what: str, error: type[CryptoScoreError]) -> list[bytes]:
    if not isinstance(value, list | tuple):
        raise error(f"{what} must be a list of hashes, not {type(value).__name__}")
    return [_check_hash(h, f"{what} element {i}", error) for i, h in enumerate(value)]


def _encode_log_id(log_id: object, error: type[CryptoScoreError]) -> bytes:
    if not isinstance(log_id, str):
        raise error(f"log id must be a str, not {type(log_id).__name__}")
    try:
        raw = log_id.encode("utf-8")
    except UnicodeEncodeError:
        raise error("log id is not encodable as UTF-8") from None
    if not 1 <= len(raw) <= _MAX_LOG_ID_BYTES:
        raise error(f"log id must be 1..{_MAX_LOG_ID_BYTES} UTF-8 bytes, got {len(raw)}")
    return raw


# --------------------------------------------------------------------------------------------
# The log
# --------------------------------------------------------------------------------------------


class NodeStore(Protocol):
    """Where a :class:`MerkleLog` keeps its hashes, so that a log held in a database grows
    without being rebuilt: node ``(level, position)`` is the hash of the complete subtree of
    ``2**level`` leaves starting at leaf ``position * 2**level`` (level 0: the leaf hashes).
    A store holds exactly the complete subtrees of its leaves; an append adds one leaf and
    the nodes it completes (one on average, at most the depth), so appending, a root and a
    proof each read or write O(log size) nodes."""

    def leaf_count(self) -> int:
        """Number of leaves stored."""
        ...

    def node(self, level: int, position: int) -> bytes:
        """The hash of node ``(level, position)``, which the store holds."""
        ...

    def add_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        """Store one append's new nodes ``(level, position, hash)``: the leaf first."""
        ...


# A store may also offer ``prefetch(keys: list[tuple[int, int]]) -> None``: the nodes a root
# or proof is about to read, so that a database serves them in one query (``MerkleLog``
# looks for it; the in-memory store has no need).


class MemoryNodes:
    """A :class:`NodeStore` in memory: one list of hashes per level."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    def leaf_count(self) -> int:
        return len(self._levels[0])

    def node(self, level: int, position: int) -> bytes:
        return self._levels[level][position]

    def add_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        for level, position, h in nodes:
            while level >= len(self._levels):
                self._levels.append([])
            if position != len(self._levels[level]):
                raise MismatchError(f"node ({level}, {position}) is not the next on its level")
            self._levels[level].append(h)


class CollectingNodes(MemoryNodes):
    """A :class:`MemoryNodes` that also lists every node written, in order: for loading a
    log into a database in bulk (a migration, a benchmark's fixture)."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[int, int, bytes]] = []

    def add_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        super().add_nodes(nodes)
        self.written.extend(nodes)


class _NodeRecorder:
    """Stands in for a store while a computation's node reads are recorded."""

    __slots__ = ("_store", "wanted")

    def __init__(self, store: NodeStore) -> None:
        self._store = store
        self.wanted: list[tuple[int, int]] = []

    def leaf_count(self) -> int:
        return self._store.leaf_count()

    def node(self, level: int, position: int) -> bytes:
        self.wanted.append((level, position))
        return bytes(HASH_SIZE)

    def add_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        raise RuntimeError("a recorded computation only reads")


class MerkleLog:
    """An append-only Merkle tree over leaf hashes (RFC 9162 §2.1), kept in a
    :class:`NodeStore` (in memory by default).

    Every complete subtree is a node of the RFC tree of any size that contains it, so roots
    and proofs for *past* sizes are served from the same nodes.
    """

    __slots__ = ("_nodes",)

    def __init__(
        self, leaf_hashes: Iterable[bytes] = (), *, nodes: NodeStore | None = None
    ) -> None:
        self._nodes: NodeStore = nodes if nodes is not None else MemoryNodes()
        for h in leaf_hashes:
            self.append_leaf_hash(h)

    # -- growing -----------------------------------------------------------------------------

    def append(self, entry: bytes | bytearray | memoryview) -> int:
        """Append one entry (hashed as a leaf) and return its index."""
        return self.append_leaf_hash(hash_leaf(entry))

    def append_leaf_hash(self, h: bytes) -> int:
        """Append an already computed leaf hash ``HASH(0x00 || entry)`` and return its index.
        Writes the leaf and every complete subtree it closes (RFC 9162 §2.1.1: a right child
        completes its parent)."""
        _check_hash(h, "leaf hash", FormatError)
        index = self.size
        if index >= MAX_TREE_SIZE:
            raise MismatchError(f"the log is full ({MAX_TREE_SIZE} leaves)")
        new = [(0, index, h)]
        level, position, current = 0, index, h
        while position % 2 == 1:
            current = hash_children(self._nodes.node(level, position - 1), current)
            level, position = level + 1, position // 2
            new.append((level, position, current))
        self._nodes.add_nodes(new)
        return index

    # -- reading -----------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of leaves in the log."""
        return self._nodes.leaf_count()

    def __len__(self) -> int:
        return self.size

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash stored at ``index``."""
        self._check_index(index, self.size)
        return self._nodes.node(0, index)

    def root(self, size: int | None = None) -> bytes:
        """``MTH(D[0:size])``: the root of the first ``size`` leaves (default: all)."""
        size = self._check_size(size, "tree size")
        return self._prefetched(lambda: self._range_hash(0, size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """``PATH(index, D[0:size])`` (RFC 9162 §2.1.3.1), leaf's sibling first."""
        return self._prefetched(lambda: self._inclusion_proof(index, size))

    def _inclusion_proof(self, index: int, size: int | None) -> list[bytes]:
        size = self._check_size(size, "tree size")
        self._check_index(index, size)
        path: list[bytes] = []  # collected from the root down, returned reversed
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            mid = start + k
            if index < mid:
                path.append(self._range_hash(mid, end))
                end = mid
            else:
                path.append(self._complete_hash(start, k))
                start = mid
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """``PROOF(old_size, D[0:new_size])`` (RFC 9162 §2.1.4.1); empty when
        ``old_size == 0`` or ``old_size == new_size``."""
        return self._prefetched(lambda: self._consistency_proof(old_size, new_size))

    def _consistency_proof(self, old_size: int, new_size: int | None) -> list[bytes]:
        new_size = self._check_size(new_size, "new tree size")
        old_size = _check_int(old_size, "old tree size", 0, new_size, MismatchError)
        if old_size in (0, new_size):
            return []
        path: list[bytes] = []  # SUBPROOF appends on the way back up: collect, then reverse
        m, start, end = old_size, 0, new_size  # m counts old leaves inside [start, end)
        complete = True  # the b flag of SUBPROOF: still on the left edge of the old tree
        while m != end - start:
            k = _split(end - start)
            mid = start + k
            if m <= k:
                path.append(self._range_hash(mid, end))
                end = mid
            else:
                path.append(self._complete_hash(start, k))
                m -= k
                start = mid
                complete = False
        if not complete:
            path.append(self._range_hash(start, end))
        path.reverse()
        return path

    def sign_head(
        self, private_key: Ed25519PrivateKey, log_id: str, now_ms: int | None = None
    ) -> SignedTreeHead:
        """Sign the current size and root. ``now_ms`` defaults to the wall clock."""
        if now_ms is None:
            now_ms = time.time_ns() // 1_000_000
        return sign_tree_head(private_key, log_id, self.size, self.root(), now_ms)

    # -- internals ---------------------------------------------------------------------------

    def _prefetched(self, compute: Callable[[], _T]) -> _T:
        """Run ``compute`` once against a recorder to learn which nodes it reads (which nodes
        a root or proof needs depends on sizes and indices only, never on hash values), let
        a store that fetches remotely read them in one go (``prefetch``), then compute."""
        prefetch = getattr(self._nodes, "prefetch", None)
        if prefetch is None:
            return compute()
        real, recorder = self._nodes, _NodeRecorder(self._nodes)
        self._nodes = recorder
        try:
            compute()
        finally:
            self._nodes = real
        prefetch(recorder.wanted)
        return compute()

    def _check_size(self, size: int | None, what: str) -> int:
        if size is None:
            return self.size
        return _check_int(size, what, 0, self.size, MismatchError)

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not isinstance(index, int) or isinstance(index, bool):
            raise MismatchError(f"leaf index must be an integer, not {type(index).__name__}")
        if not 0 <= index < size:
            raise MismatchError(f"leaf index {index} is out of range for a tree of size {size}")

    def _complete_hash(self, start: int, width: int) -> bytes:
        """Hash of the complete subtree of ``width = 2**h`` leaves starting at ``start``
        (a multiple of ``width``)."""
        level = width.bit_length() - 1
        return self._nodes.node(level, start >> level)

    def _range_hash(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for a node of the RFC tree (``start`` is a multiple of the
        largest power of two not exceeding ``end - start``, which holds for every node)."""
        width = end - start
        if width == 0:
            return EMPTY_ROOT
        lefts: list[bytes] = []
        while width & (width - 1):  # not a power of two: split, descend to the right
            k = _split(width)
            lefts.append(self._complete_hash(start, k))
            start += k
            width -= k
        h = self._complete_hash(start, width)
        for left in reversed(lefts):
            h = hash_children(left, h)
        return h


# --------------------------------------------------------------------------------------------
# Verification (pure)
# --------------------------------------------------------------------------------------------


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves whose root is
    ``root`` (RFC 9162 §2.1.3.2). Returns None or raises :class:`VerificationError`."""
    leaf_hash = _check_hash(leaf_hash, "leaf hash", VerificationError)
    root = _check_hash(root, "root", VerificationError)
    size = _check_int(size, "tree size", 0, MAX_TREE_SIZE, VerificationError)
    index = _check_int(index, "leaf index", 0, MAX_TREE_SIZE, VerificationError)
    # 1. leaf_index must be below tree_size.
    if index >= size:
        raise VerificationError(f"leaf index {index} is not below tree size {size}")
    path = _check_path(proof, "inclusion proof", VerificationError)
    expected = inclusion_proof_length(index, size)
    if len(path) != expected:
        raise VerificationError(
            f"inclusion proof for leaf {index} of a tree of size {size} must have "
            f"{expected} hashes, got {len(path)}"
        )
    # 2.-3.
    fn, sn = index, size - 1
    r = leaf_hash
    # 4.
    for p in path:
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    # 5.
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree is deep")
    if not hmac.compare_digest(r, root):
        raise VerificationError(
            f"inclusion proof for leaf {index} of a tree of size {size} does not lead to "
            f"the given root"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` leaves with root ``new_root`` extends the tree of
    ``old_size`` leaves with root ``old_root`` (RFC 9162 §2.1.4.2; trivial cases as in the
    module docstring). Returns None or raises :class:`VerificationError`."""
    old_root = _check_hash(old_root, "old root", VerificationError)
    new_root = _check_hash(new_root, "new root", VerificationError)
    new_size = _check_int(new_size, "new tree size", 0, MAX_TREE_SIZE, VerificationError)
    old_size = _check_int(old_size, "old tree size", 0, MAX_TREE_SIZE, VerificationError)
    if old_size > new_size:
        raise VerificationError(f"old tree size {old_size} exceeds new tree size {new_size}")
    path = _check_path(proof, "consistency proof", VerificationError)
    if old_size == new_size:
        if path:
            raise VerificationError("consistency proof between equal sizes must be empty")
        if not hmac.compare_digest(old_root, new_root):
            raise VerificationError(f"two different roots for the same tree size {old_size}")
        return
    if old_size == 0:
        if path:
            raise VerificationError("consistency proof from the empty tree must be empty")
        if not hmac.compare_digest(old_root, EMPTY_ROOT):
            raise VerificationError("old root of size 0 is not the empty-tree hash")
        return
    # 1. If consistency_path is an empty array, fail.
    if not path:
        raise VerificationError(
            f"consistency proof from size {old_size} to size {new_size} must not be empty"
        )
    # Not in the RFC: the exact length is known, so check it up front (bounds the work too).
    expected = consistency_proof_length(old_size, new_size)
    if len(path) != expected:
        raise VerificationError(
            f"consistency proof from size {old_size} to size {new_size} must have "
            f"{expected} hashes, got {len(path)}"
        )
    # 2. If first is an exact power of 2, prepend first_hash.
    if old_size & (old_size - 1) == 0:
        path = [old_root, *path]
    # 3.
    fn, sn = old_size - 1, new_size - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than the new tree is deep")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    if sn != 0:
        raise VerificationError("consistency proof is shorter than the new tree is deep")
    if not hmac.compare_digest(fr, old_root):
        raise VerificationError(
            f"consistency proof does not lead to the given root of size {old_size}"
        )
    if not hmac.compare_digest(sr, new_root):
        raise VerificationError(
            f"consistency proof does not lead to the given root of size {new_size}"
        )


# --------------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------------


def _fields(obj: object, what: str, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise FormatError(f"{what} must be a JSON object, not {type(obj).__name__}")
    missing = sorted(keys.difference(obj))
    if missing:
        raise FormatError(f"{what} is missing key(s) {', '.join(map(repr, missing))}")
    extra = sorted(repr(k) for k in obj if k not in keys)
    if extra:
        raise FormatError(f"{what} has unknown key(s) {', '.join(extra)}")
    return obj


def _check_version(value: object, what: str, version: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value != version:
        raise FormatError(f"unsupported {what} version {value!r} (expected {version})")


def _from_hex(value: object, what: str, nbytes: int) -> bytes:
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a hex string, not {type(value).__name__}")
    if len(value) != 2 * nbytes or not _HEX.fullmatch(value):
        raise FormatError(f"{what} must be {2 * nbytes} lowercase hex digits")
    return bytes.fromhex(value)


def _path_from_json(value: object, what: str) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise FormatError(f"{what} must be a JSON array, not {type(value).__name__}")
    if len(value) > MAX_PATH_LENGTH:
        raise FormatError(f"{what} has {len(value)} hashes, at most {MAX_PATH_LENGTH} allowed")
    return tuple(_from_hex(h, f"{what} element {i}", HASH_SIZE) for i, h in enumerate(value))


def _check_record_path(path: object, what: str, expected: int) -> tuple[bytes, ...]:
    if not isinstance(path, tuple):
        raise FormatError(f"{what} must be a tuple of hashes, not {type(path).__name__}")
    if len(path) > MAX_PATH_LENGTH:
        raise FormatError(f"{what} has {len(path)} hashes, at most {MAX_PATH_LENGTH} allowed")
    for i, h in enumerate(path):
        _check_hash(h, f"{what} element {i}", FormatError)
    if len(path) != expected:
        raise FormatError(f"{what} must have {expected} hashes for its sizes, got {len(path)}")
    return path


# --------------------------------------------------------------------------------------------
# Signed tree heads
# --------------------------------------------------------------------------------------------


def tree_head_message(log_id: str, size: int, root: bytes, timestamp_ms: int) -> bytes:
    """The exact bytes signed for a tree head (layout in the module docstring)."""
    raw_id = _encode_log_id(log_id, FormatError)
    _check_int(size, "tree size", 0, MAX_TREE_SIZE, FormatError)
    _check_hash(root, "root", FormatError)
    _check_int(timestamp_ms, "timestamp_ms", 0, MAX_TREE_SIZE, FormatError)
    return b"".join(
        (
            STH_DOMAIN,
            struct.pack(">H", len(raw_id)),
            raw_id,
            struct.pack(">Q", size),
            root,
            struct.pack(">Q", timestamp_ms),
        )
    )


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A log's signed statement "my first ``size`` leaves have root ``root``".

    JSON form: ``{"version": 1, "log_id": str, "size": int, "root": hex(32),
    "timestamp_ms": int, "signature": hex(64)}``.
    """

    FORMAT_VERSION: ClassVar[int] = 1
    _KEYS: ClassVar[frozenset[str]] = frozenset(
        {"version", "log_id", "size", "root", "timestamp_ms", "signature"}
    )

    log_id: str
    size: int
    root: bytes
    timestamp_ms: int
    signature: bytes

    def __post_init__(self) -> None:
        tree_head_message(self.log_id, self.size, self.root, self.timestamp_ms)
        if not isinstance(self.signature, bytes):
            raise FormatError(f"signature must be bytes, not {type(self.signature).__name__}")
        if len(self.signature) != SIGNATURE_SIZE:
            raise FormatError(
                f"signature must be {SIGNATURE_SIZE} bytes, got {len(self.signature)}"
            )

    def signed_message(self) -> bytes:
        """The bytes covered by :attr:`signature` (see :func:`tree_head_message`)."""
        return tree_head_message(self.log_id, self.size, self.root, self.timestamp_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.FORMAT_VERSION,
            "log_id": self.log_id,
            "size": self.size,
            "root": self.root.hex(),
            "timestamp_ms": self.timestamp_ms,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, obj: object) -> SignedTreeHead:
        f = _fields(obj, "signed tree head", cls._KEYS)
        _check_version(f["version"], "signed tree head", cls.FORMAT_VERSION)
        if not isinstance(f["log_id"], str):
            raise FormatError(f"log id must be a string, not {type(f['log_id']).__name__}")
        return cls(
            log_id=f["log_id"],
            size=_check_int(f["size"], "tree size", 0, MAX_TREE_SIZE, FormatError),
            root=_from_hex(f["root"], "root", HASH_SIZE),
            timestamp_ms=_check_int(
                f["timestamp_ms"], "timestamp_ms", 0, MAX_TREE_SIZE, FormatError
            ),
            signature=_from_hex(f["signature"], "signature", SIGNATURE_SIZE),
        )


def sign_tree_head(
    private_key: Ed25519PrivateKey, log_id: str, size: int, root: bytes, timestamp_ms: int
) -> SignedTreeHead:
    """Sign ``(log_id, size, root, timestamp_ms)`` with Ed25519."""
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ParameterError(
            f"tree heads are signed with an Ed25519PrivateKey, not {type(private_key).__name__}"
        )
    message = tree_head_message(log_id, size, root, timestamp_ms)
    return SignedTreeHead(log_id, size, root, timestamp_ms, private_key.sign(message))


def verify_tree_head(sth: SignedTreeHead, public_key: Ed25519PublicKey) -> None:
    """Check the Ed25519 signature of ``sth``. Returns None or raises
    :class:`VerificationError`."""
    if not isinstance(sth, SignedTreeHead):
        raise FormatError(f"expected a SignedTreeHead, not {type(sth).__name__}")
    if not isinstance(public_key, Ed25519PublicKey):
        raise ParameterError(
            f"tree heads are verified with an Ed25519PublicKey, not {type(public_key).__name__}"
        )
    try:
        public_key.verify(sth.signature, sth.signed_message())
    except InvalidSignature:
        raise VerificationError(
            f"signature on the tree head of log {sth.log_id!r} at size {sth.size} does not "
            f"verify under the given key"
        ) from None


# --------------------------------------------------------------------------------------------
# Proof wire records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """``PATH(index, D[size])`` as a wire record; ``path`` is leaf's sibling first.

    JSON form: ``{"version": 1, "index": int, "size": int, "path": [hex(32), ...]}``.
    A list given as ``path`` is converted to a tuple.
    """

    FORMAT_VERSION: ClassVar[int] = 1
    _KEYS: ClassVar[frozenset[str]] = frozenset({"version", "index", "size", "path"})

    index: int
    size: int
    path: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if isinstance(self.path, list):
            object.__setattr__(self, "path", tuple(self.path))
        _check_int(self.size, "tree size", 1, MAX_TREE_SIZE, FormatError)
        _check_int(self.index, "leaf index", 0, self.size - 1, FormatError)
        _check_record_path(
            self.path, "inclusion proof", inclusion_proof_length(self.index, self.size)
        )

    def verify(self, leaf_hash: bytes, root: bytes) -> None:
        """:func:`verify_inclusion` with this record's index, size and path."""
        verify_inclusion(leaf_hash, self.index, self.size, self.path, root)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.FORMAT_VERSION,
            "index": self.index,
            "size": self.size,
            "path": [h.hex() for h in self.path],
        }

    @classmethod
    def from_json(cls, obj: object) -> InclusionProof:
        f = _fields(obj, "inclusion proof", cls._KEYS)
        _check_version(f["version"], "inclusion proof", cls.FORMAT_VERSION)
        return cls(
            index=_check_int(f["index"], "leaf index", 0, MAX_TREE_SIZE, FormatError),
            size=_check_int(f["size"], "tree size", 0, MAX_TREE_SIZE, FormatError),
            path=_path_from_json(f["path"], "inclusion proof path"),
        )


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """``PROOF(old_size, D[new_size])`` as a wire record (empty for the trivial cases).

    JSON form: ``{"version": 1, "old_size": int, "new_size": int, "path": [hex(32), ...]}``.
    A list given as ``path`` is converted to a tuple.
    """

    FORMAT_VERSION: ClassVar[int] = 1
    _KEYS: ClassVar[frozenset[str]] = frozenset({"version", "old_size", "new_size", "path"})

    old_size: int
    new_size: int
    path: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if isinstance(self.path, list):
            object.__setattr__(self, "path", tuple(self.path))
        _check_int(self.new_size, "new tree size", 0, MAX_TREE_SIZE, FormatError)
        _check_int(self.old_size, "old tree size", 0, self.new_size, FormatError)
        _check_record_path(
            self.path,
            "consistency proof",
            consistency_proof_length(self.old_size, self.new_size),
        )

    def verify(self, old_root: bytes, new_root: bytes) -> None:
        """:func:`verify_consistency` with this record's sizes and path."""
        verify_consistency(self.old_size, self.new_size, old_root, new_root, self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.FORMAT_VERSION,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "path": [h.hex() for h in self.path],
        }

    @classmethod
    def from_json(cls, obj: object) -> ConsistencyProof:
        f = _fields(obj, "consistency proof", cls._KEYS)
        _check_version(f["version"], "consistency proof", cls.FORMAT_VERSION)
        return cls(
            old_size=_check_int(f["old_size"], "old tree size", 0, MAX_TREE_SIZE, FormatError),
            new_size=_check_int(f["new_size"], "new tree size", 0, MAX_TREE_SIZE, FormatError),
            path=_path_from_json(f["path"], "consistency proof path"),
        )
