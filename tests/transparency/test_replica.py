"""A follower's copy of a log: grows only by heads it verified, survives restarts and crashes."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore.errors import FormatError, VerificationError
from cryptoscore.transparency.entries import entry_bytes
from cryptoscore.transparency.log import MerkleLog, sign_tree_head
from cryptoscore.transparency.replica import ForkedLogError, LogReplica

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
LOG_ID = "cryptoscore/replica-test"


def _entry(i: int) -> bytes:
    return entry_bytes({"type": "round1", "bundle": f"{i:064x}", "verdict": "valid", "reason": ""})


def _head(entries: list[bytes], key: Ed25519PrivateKey = KEY, log_id: str = LOG_ID):
    tree = MerkleLog()
    for raw in entries:
        tree.append(raw)
    return sign_tree_head(key, log_id, tree.size, tree.root(), 1000 + tree.size)


def test_grows_by_verified_heads_and_reopens(tmp_path):
    entries = [_entry(i) for i in range(7)]
    replica = LogReplica(tmp_path, LOG_ID, PUBLIC)
    replica.accept(_head(entries[:3]), entries[:3])
    replica.accept(_head(entries), entries[3:])
    assert replica.size == 7 and [e["bundle"] for e in replica.entries("round1")] == [
        f"{i:064x}" for i in range(7)
    ]
    replica.accept(_head(entries[:5]), [])  # an older head of the same log: fine, kept as is
    assert replica.size == 7
    again = LogReplica(tmp_path, LOG_ID, PUBLIC)
    assert again.size == 7 and again.head == replica.head


def test_refuses_forks_foreign_heads_and_bad_signatures(tmp_path):
    entries = [_entry(i) for i in range(5)]
    replica = LogReplica(tmp_path, LOG_ID, PUBLIC)
    replica.accept(_head(entries[:3]), entries[:3])
    rewritten = [entries[0], _entry(99), entries[2], entries[3]]
    with pytest.raises(ForkedLogError, match="forked log"):
        replica.accept(_head(rewritten), rewritten[3:])
    with pytest.raises(ForkedLogError, match="not a prefix"):
        replica.accept(_head(rewritten[:2]), [])
    with pytest.raises(ForkedLogError, match="a tree head of log"):
        replica.accept(_head(entries, log_id="cryptoscore/other"), entries[3:])
    with pytest.raises(VerificationError):
        replica.accept(_head(entries, key=Ed25519PrivateKey.generate()), entries[3:])
    with pytest.raises(FormatError, match="needs 2 new entries"):
        replica.accept(_head(entries), entries[3:4])
    assert replica.size == 3  # nothing refused was kept, in memory or on disk
    assert LogReplica(tmp_path, LOG_ID, PUBLIC).size == 3
    replica.accept(_head(entries), entries[3:])  # the honest extension still goes through
    assert replica.size == 5
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(ForkedLogError, match="another log id or log key"):
        LogReplica(tmp_path, LOG_ID, other)


def test_a_crash_between_entries_and_head_keeps_the_old_head(tmp_path):
    """Entries appended and synced, then a crash before the head was replaced: reopening
    drops the uncovered entries, and the next head brings them again."""
    entries = [_entry(i) for i in range(4)]
    replica = LogReplica(tmp_path, LOG_ID, PUBLIC)
    replica.accept(_head(entries[:2]), entries[:2])
    with open(tmp_path / "entries.jsonl", "ab") as f:
        f.write(entries[2] + b"\n" + entries[3][:10])  # one whole line, one torn
    again = LogReplica(tmp_path, LOG_ID, PUBLIC)
    assert again.size == 2
    again.accept(_head(entries), entries[2:])
    assert LogReplica(tmp_path, LOG_ID, PUBLIC).size == 4


def test_a_changed_copy_on_disk_is_detected(tmp_path):
    entries = [_entry(i) for i in range(3)]
    LogReplica(tmp_path, LOG_ID, PUBLIC).accept(_head(entries), entries)
    lines = (tmp_path / "entries.jsonl").read_bytes().split(b"\n")
    lines[1] = _entry(42)
    (tmp_path / "entries.jsonl").write_bytes(b"\n".join(lines))
    with pytest.raises(FormatError, match="does not match its head"):
        LogReplica(tmp_path, LOG_ID, PUBLIC)
    assert json.loads((tmp_path / "log.json").read_text())["log_key"] == PUBLIC.hex()
