"""Tests for cryptoscore.transparency.log: RFC 9162 Merkle hashing, proofs, signed tree heads,
wire records.

The expected values come from two independent sources: the Certificate Transparency test
vectors (RFC 6962 test data as published with the CT / transparency-dev code) and a direct,
recursive transcription of the RFC 9162 §2.1 definitions (MTH, PATH, PROOF/SUBPROOF) below.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoscore.errors import (
    CryptoScoreError,
    FormatError,
    MismatchError,
    ParameterError,
    VerificationError,
)
from cryptoscore.transparency.log import (
    EMPTY_ROOT,
    HASH_SIZE,
    MAX_PATH_LENGTH,
    STH_DOMAIN,
    ConsistencyProof,
    InclusionProof,
    MerkleLog,
    SignedTreeHead,
    consistency_proof_length,
    hash_children,
    hash_leaf,
    inclusion_proof_length,
    sign_tree_head,
    tree_head_message,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)

# --------------------------------------------------------------------------------------------
# Reference implementation: RFC 9162 §2.1, transcribed literally (recursive, slicing).
# --------------------------------------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_pow2_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth_hashes(leaves: list[bytes]) -> bytes:
    """MTH over already hashed leaves."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = largest_pow2_below(n)
    return sha256(b"\x01" + ref_mth_hashes(leaves[:k]) + ref_mth_hashes(leaves[k:]))


def ref_mth(entries: list[bytes]) -> bytes:
    return ref_mth_hashes([sha256(b"\x00" + e) for e in entries])


def ref_mth_range(leaves: list[bytes], lo: int, hi: int) -> bytes:
    """The same recursion over index ranges (no copying), for large trees."""
    n = hi - lo
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[lo]
    k = largest_pow2_below(n)
    return sha256(b"\x01" + ref_mth_range(leaves, lo, lo + k) + ref_mth_range(leaves, lo + k, hi))


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1."""
    n = len(entries)
    if n == 1:
        return []
    k = largest_pow2_below(n)
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1."""
    n = len(entries)
    if m == n:
        return [] if b else [ref_mth(entries)]
    k = largest_pow2_below(n)
    if m <= k:
        return [*ref_subproof(m, entries[:k], b), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def ref_proof(m: int, entries: list[bytes]) -> list[bytes]:
    return ref_subproof(m, entries, True)


def flip(h: bytes, bit: int = 0) -> bytes:
    """``h`` with one bit flipped."""
    b = bytearray(h)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


def entries_for(n: int, tag: bytes = b"entry") -> list[bytes]:
    return [tag + b"-" + str(i).encode() for i in range(n)]


def build(entries: list[bytes]) -> MerkleLog:
    log = MerkleLog()
    for e in entries:
        log.append(e)
    return log


# --------------------------------------------------------------------------------------------
# Certificate Transparency known answers (RFC 6962 test data; same hashing as RFC 9162)
# --------------------------------------------------------------------------------------------

CT_ENTRIES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (index, size, path)
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [  # (old_size, new_size, path)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def test_hash_primitives() -> None:
    assert sha256(b"") == EMPTY_ROOT
    assert hash_leaf(b"abc") == sha256(b"\x00abc")
    assert hash_leaf(bytearray(b"abc")) == hash_leaf(memoryview(b"abc")) == hash_leaf(b"abc")
    left, right = sha256(b"l"), sha256(b"r")
    assert hash_children(left, right) == sha256(b"\x01" + left + right)
    assert hash_children(left, right) != hash_children(right, left)
    # domain separation: a leaf whose entry is two hashes is not the node of those hashes
    assert hash_leaf(left + right) != hash_children(left, right)


def test_ct_roots() -> None:
    log = build(CT_ENTRIES)
    for size, expected in enumerate(CT_ROOTS):
        assert log.root(size).hex() == expected
    assert log.root().hex() == CT_ROOTS[-1]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    log = build(CT_ENTRIES)
    assert [h.hex() for h in log.inclusion_proof(index, size)] == path
    verify_inclusion(
        hash_leaf(CT_ENTRIES[index]),
        index,
        size,
        [bytes.fromhex(h) for h in path],
        bytes.fromhex(CT_ROOTS[size]),
    )


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_ct_consistency_vectors(old: int, new: int, path: list[str]) -> None:
    log = build(CT_ENTRIES)
    assert [h.hex() for h in log.consistency_proof(old, new)] == path
    verify_consistency(
        old,
        new,
        bytes.fromhex(CT_ROOTS[old]),
        bytes.fromhex(CT_ROOTS[new]),
        [bytes.fromhex(h) for h in path],
    )


# --------------------------------------------------------------------------------------------
# Known answers against the recursive reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(41))
def test_root_matches_reference(n: int) -> None:
    entries = entries_for(n)
    log = build(entries)
    assert log.size == len(log) == n
    assert log.root() == ref_mth(entries)
    assert log.root(n) == log.root()


def test_past_roots_and_incremental_roots() -> None:
    entries = entries_for(40)
    log = MerkleLog()
    seen = [log.root()]
    for i, e in enumerate(entries):
        assert log.append(e) == i
        seen.append(log.root())
    for size in range(41):
        assert log.root(size) == seen[size] == ref_mth(entries[:size])


def test_loading_from_leaf_hashes() -> None:
    entries = entries_for(37)
    appended = build(entries)
    hashes = [hash_leaf(e) for e in entries]
    loaded = MerkleLog(hashes)
    one_by_one = MerkleLog()
    for i, h in enumerate(hashes):
        assert one_by_one.append_leaf_hash(h) == i
    for log in (loaded, one_by_one):
        assert log.size == 37
        assert [log.leaf_hash(i) for i in range(37)] == hashes
        for size in range(38):
            assert log.root(size) == appended.root(size)
        assert log.inclusion_proof(5, 30) == appended.inclusion_proof(5, 30)
        assert log.consistency_proof(7, 37) == appended.consistency_proof(7, 37)


def test_proofs_match_rfc_definitions() -> None:
    entries = entries_for(33)
    log = build(entries)
    for n in range(1, 34):
        for m in range(n):
            path = log.inclusion_proof(m, n)
            assert path == ref_path(m, entries[:n]), (m, n)
            assert len(path) == inclusion_proof_length(m, n)
        for m in range(n + 1):
            proof = log.consistency_proof(m, n)
            expected = ref_proof(m, entries[:n]) if 0 < m < n else []
            assert proof == expected, (m, n)
            assert len(proof) == consistency_proof_length(m, n)
    assert log.inclusion_proof(3) == log.inclusion_proof(3, 33)
    assert log.consistency_proof(3) == log.consistency_proof(3, 33)


# --------------------------------------------------------------------------------------------
# Inclusion: every proof verifies, every alteration fails
# --------------------------------------------------------------------------------------------

N_SMALL = 33


@pytest.fixture(scope="module")
def small_log() -> tuple[MerkleLog, list[bytes]]:
    log = build(entries_for(N_SMALL))
    roots = [log.root(n) for n in range(N_SMALL + 1)]
    return log, roots


def rejects_inclusion(leaf: bytes, index: int, size: int, proof: Any, root: bytes) -> bool:
    try:
        verify_inclusion(leaf, index, size, proof, root)
    except VerificationError:
        return True
    return False


def test_every_inclusion_proof_verifies_and_tampering_fails(
    small_log: tuple[MerkleLog, list[bytes]],
) -> None:
    log, roots = small_log
    for size in range(1, N_SMALL + 1):
        root = roots[size]
        for index in range(size):
            leaf = log.leaf_hash(index)
            proof = log.inclusion_proof(index, size)
            verify_inclusion(leaf, index, size, proof, root)
            verify_inclusion(leaf, index, size, tuple(proof), root)
            InclusionProof(index, size, tuple(proof)).verify(leaf, root)
            # altered leaf
            assert rejects_inclusion(flip(leaf), index, size, proof, root)
            assert rejects_inclusion(log.leaf_hash((index + 1) % N_SMALL), index, size, proof, root)
            # altered index (every other index of the tree, and out of range)
            for other in range(size):
                if other != index:
                    assert rejects_inclusion(leaf, other, size, proof, root), (index, other, size)
            assert rejects_inclusion(leaf, size, size, proof, root)
            assert rejects_inclusion(leaf, -1, size, proof, root)
            # altered proof element (every element, two different bits)
            for j in range(len(proof)):
                for bit in (0, 255):
                    bad = list(proof)
                    bad[j] = flip(bad[j], bit)
                    assert rejects_inclusion(leaf, index, size, bad, root)
            # altered root
            assert rejects_inclusion(leaf, index, size, proof, flip(root))
            assert rejects_inclusion(leaf, index, size, proof, EMPTY_ROOT)
            # truncated / extended / reordered proofs
            if proof:
                assert rejects_inclusion(leaf, index, size, proof[:-1], root)
                assert rejects_inclusion(leaf, index, size, proof[1:], root)
            assert rejects_inclusion(leaf, index, size, [*proof, root], root)
            assert rejects_inclusion(leaf, index, size, [root, *proof], root)
            if len(proof) >= 2 and proof[0] != proof[1]:
                assert rejects_inclusion(leaf, index, size, [proof[1], proof[0], *proof[2:]], root)
            # another size with that size's real root: only an identical proof may pass
            for other_size in range(index + 1, N_SMALL + 1):
                if other_size != size and not rejects_inclusion(
                    leaf, index, other_size, proof, roots[other_size]
                ):
                    assert proof == log.inclusion_proof(index, other_size)


def test_inclusion_argument_errors(small_log: tuple[MerkleLog, list[bytes]]) -> None:
    log, roots = small_log
    leaf, proof, root = log.leaf_hash(2), log.inclusion_proof(2, 10), roots[10]
    bad_calls: list[tuple[Any, Any, Any, Any, Any]] = [
        (leaf, 10, 10, proof, root),  # index == size
        (leaf, 0, 0, [], EMPTY_ROOT),  # empty tree has no leaves
        (leaf, True, 10, proof, root),  # bool is not an index
        (leaf, 2, 10, b"".join(proof), root),  # bytes is not a list of hashes
        (leaf, 2, 10, [*proof[:-1], proof[-1][:31]], root),  # short element
        (leaf[:31], 2, 10, proof, root),
        (leaf, 2, 10, proof, root + b"\x00"),
        (leaf, 2, 10, proof, root.hex()),
        (leaf, 2, 2**64, proof, root),
        (leaf, 2, 10, [*proof, *proof, *proof], root),
    ]
    for args in bad_calls:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
    # a single-leaf tree: the root is the leaf hash and the proof is empty
    one = MerkleLog()
    one.append(b"only")
    verify_inclusion(one.leaf_hash(0), 0, 1, one.inclusion_proof(0, 1), one.root())
    assert one.root() == one.leaf_hash(0)
    assert rejects_inclusion(one.leaf_hash(0), 0, 1, [EMPTY_ROOT], one.root())


# --------------------------------------------------------------------------------------------
# Consistency: every proof verifies, every alteration fails
# --------------------------------------------------------------------------------------------


def rejects_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Any) -> bool:
    try:
        verify_consistency(old, new, old_root, new_root, proof)
    except VerificationError:
        return True
    return False


def test_every_consistency_proof_verifies_and_tampering_fails(
    small_log: tuple[MerkleLog, list[bytes]],
) -> None:
    log, roots = small_log
    junk = sha256(b"junk")
    for new in range(N_SMALL + 1):
        for old in range(new + 1):
            proof = log.consistency_proof(old, new)
            r1, r2 = roots[old], roots[new]
            verify_consistency(old, new, r1, r2, proof)
            verify_consistency(old, new, r1, r2, tuple(proof))
            ConsistencyProof(old, new, tuple(proof)).verify(r1, r2)
            # a non-empty proof is never accepted where an empty one is expected, and vice versa
            assert rejects_consistency(old, new, r1, r2, [*proof, junk])
            assert rejects_consistency(old, new, r1, r2, [junk, *proof])
            if not proof:
                # trivial cases allowed by the RFC convention: only the roots can be wrong
                assert old in (0, new)
                if old == new:
                    assert rejects_consistency(old, new, r1, flip(r2), [])
                    assert rejects_consistency(old, new, flip(r1), r2, [])
                else:
                    assert rejects_consistency(0, new, flip(EMPTY_ROOT), r2, [])
                    assert rejects_consistency(0, new, r2, r2, [])
                continue
            assert 0 < old < new
            for j in range(len(proof)):
                for bit in (0, 131):
                    bad = list(proof)
                    bad[j] = flip(bad[j], bit)
                    assert rejects_consistency(old, new, r1, r2, bad), (old, new, j)
            assert rejects_consistency(old, new, flip(r1), r2, proof)
            assert rejects_consistency(old, new, r1, flip(r2), proof)
            assert rejects_consistency(old, new, r2, r1, proof)
            assert rejects_consistency(old, new, r1, r2, [])
            assert rejects_consistency(old, new, r1, r2, proof[:-1])
            assert rejects_consistency(old, new, r1, r2, proof[1:])
            assert rejects_consistency(old, new, r1, r2, [*proof, r1])
            assert rejects_consistency(old, new, r1, r2, [*proof, r2])
            assert rejects_consistency(old, new, r1, r2, [r1, *proof])
            assert rejects_consistency(old, new, r1, r2, [proof[0], *proof])
            assert rejects_consistency(new, old, r2, r1, proof)
            if len(proof) >= 2 and proof[0] != proof[1]:
                assert rejects_consistency(old, new, r1, r2, [proof[1], proof[0], *proof[2:]])
            # other sizes with their real roots: only an identical proof may pass
            for other_old in range(new + 1):
                if other_old != old and not rejects_consistency(
                    other_old, new, roots[other_old], r2, proof
                ):
                    assert proof == log.consistency_proof(other_old, new)
            for other_new in range(old, N_SMALL + 1):
                if other_new != new and not rejects_consistency(
                    old, other_new, r1, roots[other_new], proof
                ):
                    assert proof == log.consistency_proof(old, other_new)


def test_consistency_trivial_cases() -> None:
    some = sha256(b"some root")
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, some, [])
    verify_consistency(5, 5, some, some, [])
    assert rejects_consistency(0, 0, EMPTY_ROOT, some, [])
    assert rejects_consistency(0, 5, some, some, [])  # size 0 has exactly one root
    assert rejects_consistency(5, 5, some, EMPTY_ROOT, [])
    assert rejects_consistency(5, 5, some, some, [some])
    assert rejects_consistency(0, 5, EMPTY_ROOT, some, [some])
    assert rejects_consistency(1, 2, some, some, [])  # RFC step 1: empty path fails
    assert rejects_consistency(5, 4, some, some, [some])


def test_consistency_argument_errors() -> None:
    h = sha256(b"x")
    bad_calls: list[tuple[Any, Any, Any, Any, Any]] = [
        (3, 2, h, h, [h]),
        (-1, 2, h, h, [h]),
        (1, 2**64, h, h, [h]),
        (1, 2, h[:31], h, [h]),
        (1, 2, h, None, [h]),
        (1, 2, h, h, h),
        (1, 2, h, h, [h[:-1]]),
        (1.0, 2, h, h, [h]),
        (False, True, h, h, []),
    ]
    for args in bad_calls:
        with pytest.raises(VerificationError):
            verify_consistency(*args)


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

entry_lists = st.lists(st.binary(max_size=48), min_size=1, max_size=90)


@settings(deadline=None, max_examples=60)
@given(entries=entry_lists, data=st.data())
def test_random_logs(entries: list[bytes], data: st.DataObject) -> None:
    log = build(entries)
    n = len(entries)
    assert log.root() == ref_mth(entries)
    size = data.draw(st.integers(1, n), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(0, size), label="old")
    root = log.root(size)
    assert root == ref_mth(entries[:size])
    proof = log.inclusion_proof(index, size)
    assert proof == ref_path(index, entries[:size])
    verify_inclusion(hash_leaf(entries[index]), index, size, proof, root)
    cproof = log.consistency_proof(old, size)
    verify_consistency(old, size, log.root(old), root, cproof)
    if 0 < old < size:
        assert cproof == ref_proof(old, entries[:size])
    # the wire records round-trip through real JSON
    rec = InclusionProof(index, size, tuple(proof))
    assert InclusionProof.from_json(json.loads(json.dumps(rec.to_json()))) == rec
    crec = ConsistencyProof(old, size, tuple(cproof))
    assert ConsistencyProof.from_json(json.loads(json.dumps(crec.to_json()))) == crec


@settings(deadline=None, max_examples=60)
@given(entries=entry_lists, data=st.data())
def test_forked_log_is_detected(entries: list[bytes], data: st.DataObject) -> None:
    """A log that rewrote entry ``p`` cannot prove consistency with a head that covered it,
    and cannot prove the old entry's inclusion in its new tree."""
    n = len(entries)
    old = data.draw(st.integers(1, n), label="old")
    p = data.draw(st.integers(0, old - 1), label="rewritten")
    new = data.draw(st.integers(old, n), label="new")
    honest = build(entries)
    forked_entries = list(entries)
    forked_entries[p] = entries[p] + b"\xff"
    forked = build(forked_entries)
    old_root = honest.root(old)
    for log in (forked, honest):
        proof = log.consistency_proof(old, new)
        assert rejects_consistency(old, new, old_root, forked.root(new), proof)
    assert rejects_inclusion(
        hash_leaf(entries[p]), p, new, forked.inclusion_proof(p, new), forked.root(new)
    )


@settings(deadline=None, max_examples=40)
@given(entries=entry_lists)
def test_heads_along_history_are_consistent(entries: list[bytes]) -> None:
    log = MerkleLog()
    heads: list[tuple[int, bytes]] = [(0, log.root())]
    for e in entries:
        log.append(e)
        heads.append((log.size, log.root()))
    for old, old_root in heads[:: max(1, len(heads) // 6)]:
        for new, new_root in heads[old:]:
            verify_consistency(old, new, old_root, new_root, log.consistency_proof(old, new))


# --------------------------------------------------------------------------------------------
# Large log
# --------------------------------------------------------------------------------------------


def test_hundred_thousand_leaves() -> None:
    n = 100_000
    t0 = time.perf_counter()
    log = MerkleLog()
    for i in range(n):
        log.append(i.to_bytes(8, "big"))
    root = log.root()
    hashes = [log.leaf_hash(i) for i in range(n)]
    for size in (1, 2, 3, 1000, 1023, 1024, 1025, 65_535, 65_536, 65_537, 99_999, n):
        assert log.root(size) == ref_mth_range(hashes, 0, size), size
    for index in (0, 1, 2, 4095, 65_535, 65_536, 77_777, 99_998, 99_999):
        proof = log.inclusion_proof(index)
        assert len(proof) == inclusion_proof_length(index, n) <= 17
        verify_inclusion(hash_leaf(index.to_bytes(8, "big")), index, n, proof, root)
        assert rejects_inclusion(hash_leaf(b"other"), index, n, proof, root)
    for old in (1, 3, 4096, 65_536, 65_537, 99_999):
        verify_consistency(old, n, log.root(old), root, log.consistency_proof(old))
    loaded = MerkleLog(hashes)
    assert loaded.root() == root
    assert time.perf_counter() - t0 < 60  # typically ~1-2 s; generous for slow CI machines


# --------------------------------------------------------------------------------------------
# MerkleLog argument validation
# --------------------------------------------------------------------------------------------


def test_log_argument_errors() -> None:
    log = build(entries_for(5))
    with pytest.raises(MismatchError, match="out of range"):
        log.leaf_hash(5)
    with pytest.raises(MismatchError):
        log.leaf_hash(-1)
    with pytest.raises(MismatchError):
        log.leaf_hash(True)
    with pytest.raises(MismatchError, match="tree size 6"):
        log.root(6)
    with pytest.raises(MismatchError):
        log.root(-1)
    with pytest.raises(MismatchError):
        log.inclusion_proof(5, 5)
    with pytest.raises(MismatchError):
        log.inclusion_proof(0, 0)
    with pytest.raises(MismatchError):
        log.inclusion_proof(0, 6)
    with pytest.raises(MismatchError):
        log.consistency_proof(4, 3)
    with pytest.raises(MismatchError):
        log.consistency_proof(1, 6)
    with pytest.raises(MismatchError):
        log.consistency_proof(-1, 3)
    with pytest.raises(FormatError):
        log.append("text")  # type: ignore[arg-type]
    with pytest.raises(FormatError):
        log.append_leaf_hash(b"\x00" * 31)
    with pytest.raises(FormatError):
        log.append_leaf_hash(bytearray(32))  # type: ignore[arg-type]
    with pytest.raises(FormatError):
        MerkleLog([b"short"])
    assert log.size == 5  # failed appends changed nothing
    # every error is a CryptoScoreError and none is a ValueError
    for call in (lambda: log.root(9), lambda: log.append_leaf_hash(b"")):
        with pytest.raises(CryptoScoreError) as info:
            call()
        assert not isinstance(info.value, ValueError)
    empty = MerkleLog()
    assert empty.root() == EMPTY_ROOT
    assert empty.consistency_proof(0) == []


# --------------------------------------------------------------------------------------------
# Signed tree heads
# --------------------------------------------------------------------------------------------

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ROOT = sha256(b"root")


def test_signed_message_layout() -> None:
    msg = tree_head_message("log/\u00e9t\u00e9", 258, ROOT, 1_700_000_000_123)
    log_id = "log/\u00e9t\u00e9".encode()
    assert msg == (
        b"cryptoscore-sth-v1\x00"
        + len(log_id).to_bytes(2, "big")
        + log_id
        + (258).to_bytes(8, "big")
        + ROOT
        + (1_700_000_000_123).to_bytes(8, "big")
    )
    assert msg.startswith(STH_DOMAIN)
    assert len(msg) == 19 + 2 + len(log_id) + 8 + 32 + 8
    sth = sign_tree_head(KEY, "log/\u00e9t\u00e9", 258, ROOT, 1_700_000_000_123)
    assert sth.signed_message() == msg
    assert struct.unpack(">Q", msg[-8:])[0] == sth.timestamp_ms
    # deterministic Ed25519: same inputs, same signature
    assert sign_tree_head(KEY, "log/\u00e9t\u00e9", 258, ROOT, 1_700_000_000_123) == sth


def test_sign_and_verify_tree_head() -> None:
    sth = sign_tree_head(KEY, "cryptoscore-test", 7, ROOT, 1234)
    assert SignedTreeHead.FORMAT_VERSION == 1
    assert len(sth.signature) == 64
    verify_tree_head(sth, KEY.public_key())
    with pytest.raises(VerificationError, match="does not verify"):
        verify_tree_head(sth, OTHER_KEY.public_key())
    tampered = [
        dataclasses.replace(sth, log_id="cryptoscore-tesT"),
        dataclasses.replace(sth, size=8),
        dataclasses.replace(sth, size=0),
        dataclasses.replace(sth, root=flip(ROOT)),
        dataclasses.replace(sth, timestamp_ms=1235),
        dataclasses.replace(sth, signature=flip(sth.signature, 100)),
        dataclasses.replace(sth, signature=bytes(64)),
    ]
    for bad in tampered:
        with pytest.raises(VerificationError):
            verify_tree_head(bad, KEY.public_key())
    with pytest.raises(dataclasses.FrozenInstanceError):
        sth.size = 9  # type: ignore[misc]
    with pytest.raises(ParameterError):
        verify_tree_head(sth, KEY)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        sign_tree_head(KEY.public_key(), "x", 1, ROOT, 1)  # type: ignore[arg-type]


def test_merkle_log_sign_head() -> None:
    log = build(entries_for(11))
    sth = log.sign_head(KEY, "log-1", now_ms=42)
    assert (sth.log_id, sth.size, sth.root, sth.timestamp_ms) == ("log-1", 11, log.root(), 42)
    verify_tree_head(sth, KEY.public_key())
    before = time.time_ns() // 1_000_000
    live = log.sign_head(KEY, "log-1")
    after = time.time_ns() // 1_000_000
    assert before <= live.timestamp_ms <= after
    verify_tree_head(live, KEY.public_key())
    # a later head is consistent with the earlier one
    log.append(b"more")
    later = log.sign_head(KEY, "log-1", now_ms=43)
    verify_consistency(
        sth.size, later.size, sth.root, later.root, log.consistency_proof(sth.size, later.size)
    )


def test_tree_head_field_validation() -> None:
    sig = bytes(64)
    bad_fields: list[tuple[Any, Any, Any, Any, Any]] = [
        ("", 1, ROOT, 1, sig),
        ("x" * 65_536, 1, ROOT, 1, sig),
        ("\ud800", 1, ROOT, 1, sig),
        (b"log", 1, ROOT, 1, sig),
        ("log", -1, ROOT, 1, sig),
        ("log", 2**64, ROOT, 1, sig),
        ("log", True, ROOT, 1, sig),
        ("log", 1, ROOT[:31], 1, sig),
        ("log", 1, ROOT, -1, sig),
        ("log", 1, ROOT, 1.5, sig),
        ("log", 1, ROOT, 1, sig[:63]),
        ("log", 1, ROOT, 1, sig.hex()),
    ]
    for fields in bad_fields:
        with pytest.raises(FormatError):
            SignedTreeHead(*fields)
    with pytest.raises(FormatError):
        sign_tree_head(KEY, "", 1, ROOT, 1)
    SignedTreeHead("x" * 65_535, 2**64 - 1, ROOT, 2**64 - 1, sig)  # the extremes are fine


def good_sth_json() -> dict[str, Any]:
    return sign_tree_head(KEY, "log-1", 99, ROOT, 1_700_000_000_000).to_json()


def test_tree_head_json_round_trip() -> None:
    sth = sign_tree_head(KEY, "log-1", 99, ROOT, 1_700_000_000_000)
    obj = sth.to_json()
    assert obj == {
        "version": 1,
        "log_id": "log-1",
        "size": 99,
        "root": ROOT.hex(),
        "timestamp_ms": 1_700_000_000_000,
        "signature": sth.signature.hex(),
    }
    again = SignedTreeHead.from_json(json.loads(json.dumps(obj)))
    assert again == sth
    verify_tree_head(again, KEY.public_key())


def _without(obj: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != key}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: _without(o, "root"),
        lambda o: _without(o, "version"),
        lambda o: _without(o, "signature"),
        lambda o: {**o, "extra": 1},
        lambda o: {**o, "version": 2},
        lambda o: {**o, "version": "1"},
        lambda o: {**o, "version": True},
        lambda o: {**o, "size": -1},
        lambda o: {**o, "size": 2**64},
        lambda o: {**o, "size": 99.0},
        lambda o: {**o, "size": "99"},
        lambda o: {**o, "size": None},
        lambda o: {**o, "timestamp_ms": -5},
        lambda o: {**o, "root": o["root"][:-2]},
        lambda o: {**o, "root": o["root"] + "00"},
        lambda o: {**o, "root": o["root"].upper()},
        lambda o: {**o, "root": "zz" + o["root"][2:]},
        lambda o: {**o, "root": " " + o["root"][1:]},
        lambda o: {**o, "root": None},
        lambda o: {**o, "signature": o["signature"][:-2]},
        lambda o: {**o, "log_id": ""},
        lambda o: {**o, "log_id": 5},
        lambda o: [o],
        lambda o: json.dumps(o),
    ],
)
def test_tree_head_json_malformed(mutate: Any) -> None:
    with pytest.raises(FormatError):
        SignedTreeHead.from_json(mutate(good_sth_json()))


# --------------------------------------------------------------------------------------------
# Proof wire records
# --------------------------------------------------------------------------------------------


def test_proof_records_round_trip(small_log: tuple[MerkleLog, list[bytes]]) -> None:
    log, roots = small_log
    assert InclusionProof.FORMAT_VERSION == ConsistencyProof.FORMAT_VERSION == 1
    rec = InclusionProof(5, 21, tuple(log.inclusion_proof(5, 21)))
    obj = rec.to_json()
    assert obj == {
        "version": 1,
        "index": 5,
        "size": 21,
        "path": [h.hex() for h in log.inclusion_proof(5, 21)],
    }
    assert InclusionProof.from_json(json.loads(json.dumps(obj))) == rec
    rec.verify(log.leaf_hash(5), roots[21])
    with pytest.raises(VerificationError):
        rec.verify(log.leaf_hash(6), roots[21])

    crec = ConsistencyProof(6, 21, tuple(log.consistency_proof(6, 21)))
    cobj = crec.to_json()
    assert set(cobj) == {"version", "old_size", "new_size", "path"}
    assert ConsistencyProof.from_json(json.loads(json.dumps(cobj))) == crec
    crec.verify(roots[6], roots[21])
    with pytest.raises(VerificationError):
        crec.verify(roots[7], roots[21])

    # lists are accepted and stored as tuples; trivial proofs are empty
    assert InclusionProof(0, 1, []).path == ()  # type: ignore[arg-type]
    assert ConsistencyProof(0, 9, ()).to_json()["path"] == []
    assert ConsistencyProof.from_json(ConsistencyProof(4, 4, ()).to_json()).path == ()


def good_inclusion_json() -> dict[str, Any]:
    log = build(entries_for(21))
    return InclusionProof(5, 21, tuple(log.inclusion_proof(5, 21))).to_json()


def good_consistency_json() -> dict[str, Any]:
    log = build(entries_for(21))
    return ConsistencyProof(6, 21, tuple(log.consistency_proof(6, 21))).to_json()


H64 = "ab" * HASH_SIZE

COMMON_PROOF_MUTATIONS = [
    lambda o: _without(o, "path"),
    lambda o: _without(o, "version"),
    lambda o: {**o, "version": 0},
    lambda o: {**o, "version": 2},
    lambda o: {**o, "unknown": None},
    lambda o: {**o, "path": [*o["path"][:-1], o["path"][-1][:-2]]},  # 31-byte hash
    lambda o: {**o, "path": [*o["path"][:-1], o["path"][-1] + "ab"]},  # 33-byte hash
    lambda o: {**o, "path": [*o["path"][:-1], o["path"][-1].upper()]},
    lambda o: {**o, "path": [*o["path"][:-1], 7]},
    lambda o: {**o, "path": o["path"][:-1]},  # length inconsistent with the sizes
    lambda o: {**o, "path": [*o["path"], H64]},
    lambda o: {**o, "path": [H64] * (MAX_PATH_LENGTH + 1)},
    lambda o: {**o, "path": "".join(o["path"])},
    lambda o: None,
]


@pytest.mark.parametrize(
    "mutate",
    [
        *COMMON_PROOF_MUTATIONS,
        lambda o: _without(o, "index"),
        lambda o: {**o, "index": -1},
        lambda o: {**o, "size": -1},
        lambda o: {**o, "size": 0},
        lambda o: {**o, "index": 21},  # index == size
        lambda o: {**o, "index": 5.0},
        lambda o: {**o, "size": False},
        lambda o: {**o, "size": 2**64},
    ],
)
def test_inclusion_json_malformed(mutate: Any) -> None:
    with pytest.raises(FormatError):
        InclusionProof.from_json(mutate(good_inclusion_json()))


@pytest.mark.parametrize(
    "mutate",
    [
        *COMMON_PROOF_MUTATIONS,
        lambda o: _without(o, "old_size"),
        lambda o: {**o, "old_size": -1},
        lambda o: {**o, "new_size": -21},
        lambda o: {**o, "old_size": 22},  # old > new
        lambda o: {**o, "old_size": 0},  # trivial case needs an empty path
        lambda o: {**o, "old_size": 21},
        lambda o: {**o, "new_size": "21"},
    ],
)
def test_consistency_json_malformed(mutate: Any) -> None:
    with pytest.raises(FormatError):
        ConsistencyProof.from_json(mutate(good_consistency_json()))


def test_proof_record_field_validation() -> None:
    h = sha256(b"x")
    with pytest.raises(FormatError):
        InclusionProof(0, 2, (h[:31],))
    with pytest.raises(FormatError):
        InclusionProof(0, 2, (h, h))
    with pytest.raises(FormatError):
        InclusionProof(2, 2, (h,))
    with pytest.raises(FormatError):
        InclusionProof(0, 2, h)  # type: ignore[arg-type]
    with pytest.raises(FormatError):
        ConsistencyProof(3, 2, (h,))
    with pytest.raises(FormatError):
        ConsistencyProof(2, 2, (h,))
    with pytest.raises(FormatError):
        ConsistencyProof(1, 2, ())
    ConsistencyProof(1, 2, (h,))  # well-formed (whether it verifies is another matter)
