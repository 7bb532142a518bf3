"""The content-addressed blob store: names, atomicity, idempotency, size limit, durability."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from pathlib import Path

import pytest

from cryptoscore_server.blobs import BlobError, BlobStore, BlobTooLarge


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_names_by_sha256_with_fan_out(store: BlobStore) -> None:
    data = b"ciphertext bytes" * 1000
    stored = store.put(io.BytesIO(data))
    digest = hashlib.sha256(data).hexdigest()
    assert (stored.sha256, stored.size, stored.created) == (digest, len(data), True)
    assert store.path(digest) == store.root / digest[:2] / digest[2:4] / digest
    assert store.exists(digest)
    assert store.read(digest) == data
    assert store.size(digest) == len(data)
    with store.open(digest) as fh:
        assert fh.read(10) == data[:10]
    assert list(store) == [digest]
    assert _all_files(store.root) == [store.path(digest)]


def test_put_is_idempotent(store: BlobStore) -> None:
    first = store.put_bytes(b"same")
    second = store.put(io.BytesIO(b"same"))
    assert first.sha256 == second.sha256
    assert (first.created, second.created) == (True, False)
    assert _all_files(store.root) == [store.path(first.sha256)]


def test_empty_and_multi_chunk_blobs(store: BlobStore) -> None:
    empty = store.put_bytes(b"")
    assert empty.sha256 == hashlib.sha256(b"").hexdigest() and store.read(empty.sha256) == b""
    big = os.urandom((1 << 20) * 2 + 123)  # crosses the 1 MiB chunk boundary
    assert store.read(store.put_bytes(big).sha256) == big


def test_size_limit(store: BlobStore) -> None:
    data = b"x" * 5000
    with pytest.raises(BlobTooLarge):
        store.put(io.BytesIO(data), max_bytes=4999)
    assert _all_files(store.root) == []  # no blob, no temp file
    stored = store.put(io.BytesIO(data), max_bytes=5000)  # exactly at the limit is fine
    assert stored.size == 5000


class _FailingStream(io.RawIOBase):
    """Yields some bytes, then fails as a dropped connection would."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError("connection reset")
        n = min(self.left, size if size > 0 else self.left)
        self.left -= n
        return b"y" * n


def test_failed_stream_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(OSError, match="connection reset"):
        store.put(_FailingStream(3 << 20))  # type: ignore[arg-type]
    assert _all_files(store.root) == []


def test_blob_never_visible_half_written(store: BlobStore) -> None:
    data = b"z" * (3 << 20)
    digest = hashlib.sha256(data).hexdigest()
    seen: list[bool] = []

    class Watching(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            seen.append(store.exists(digest))
            return super().read(size)

    store.put(Watching(data))
    assert seen and not any(seen)
    assert store.read(digest) == data


def test_write_is_fsynced_before_rename_and_dir_after(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store.put_bytes(b"durable")
    assert events[0] == "fsync-file"
    assert events.index("rename") > 0
    assert events[-1] == "fsync-dir"


def test_concurrent_writers_of_the_same_bytes(store: BlobStore) -> None:
    data = os.urandom(1 << 20)
    results: list[str] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            results.append(store.put_bytes(data).sha256)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert _all_files(store.root) == [store.path(results[0])]
    assert store.read(results[0]) == data


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "ABCDEF" + "0" * 58, "0" * 63, "0" * 65, "", "g" * 64]
)
def test_bad_names_are_refused(store: BlobStore, name: str) -> None:
    with pytest.raises(BlobError):
        store.path(name)
    with pytest.raises(BlobError):
        store.exists(name)


def test_missing_blob(store: BlobStore) -> None:
    with pytest.raises(BlobError, match="not in the store"):
        store.read("0" * 64)
    with pytest.raises(BlobError, match="not in the store"):
        store.size("0" * 64)


def test_discard_and_sweep(store: BlobStore) -> None:
    stored = store.put_bytes(b"undo me")
    store.discard(stored.sha256)
    assert not store.exists(stored.sha256)
    store.discard(stored.sha256)  # idempotent

    old = store.root / ".tmp" / "put-crashed"
    old.write_bytes(b"partial")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    fresh = store.root / ".tmp" / "put-in-progress"
    fresh.write_bytes(b"partial")
    assert store.sweep_temp() == 1
    assert not old.exists() and fresh.exists()
    assert list(store) == []  # temp files are never blobs
