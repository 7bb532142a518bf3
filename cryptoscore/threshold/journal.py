"""The partial journal: a trustee's durable, append-only record of everything it answered.

It is what makes partial decryptions single use and keeps every lineage under one active set
within its budget (docs/design.md, "Threshold decryption" and "Lineages"): a claim is
written and synced before the share is read, so a crash can lose an answer but never allow
a second one.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable
from pathlib import Path

from cryptoscore.durable import fsync_dir
from cryptoscore.errors import FormatError, RefusedError
from cryptoscore.threshold.lineage import LineageClaim, LineageRecord, check_claim

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CONTRIBUTION = re.compile(r"^[0-9a-f]{64} [0-9a-f]{64}$")
"""A contribution line: bundle digest, 32 bytes of randomness (a torn line never matches)."""


def check_request_id(request_id: str) -> None:
    if not _REQUEST_ID.match(request_id):
        raise FormatError("request id must be 1-128 characters of [A-Za-z0-9._:-]")


class PartialJournal:
    """A trustee's durable record of answered ciphertexts (append-only, fsync'ed, locked).

    Three kinds of line: ``<c1 sha256 or pad seed digest> <request id>`` (single use),
    ``lineage <lineage> <slot> <active set> <request id>`` (``threshold/lineage.py``: one active set
    per lineage, each slot once, within the lineage's budget), and ``contribution <bundle
    digest> <randomness>`` (the trustee's one round-1 contribution to a bundle,
    :meth:`contribution`). The first two are checked together and written and synced *before*
    the share is read and the answer leaves the trustee, so a crash can lose an answer but
    never allow a second one, and a refused request leaves the journal as it was.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        # What has been read so far: the journal only grows, so each check reads only the
        # lines appended since (by this or another process), not the whole file again.
        self._offset = 0
        self._digests: set[str] = set()
        self._lineages: dict[str, list[LineageRecord]] = {}
        self._contributions: dict[str, bytes] = {}

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> PartialJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _catch_up(self) -> None:
        """Read complete lines appended since the last call (caller holds the lock). A torn
        last line (a crash mid-write, before the fsync: that answer never left) is skipped."""
        size = os.fstat(self._fd).st_size
        if size <= self._offset:
            return
        data = os.pread(self._fd, size - self._offset, self._offset)
        end = data.rfind(b"\n") + 1
        for raw in data[:end].split(b"\n"):
            parts = raw.decode("ascii", errors="replace").split()
            if not parts:
                continue
            if parts[0] == "lineage":
                try:
                    record = LineageRecord.parse(parts)
                except FormatError:
                    # only a line torn by a crash mid-write looks like this; the digest line
                    # written before it still blocks that ciphertext
                    continue
                self._lineages.setdefault(record.lineage, []).append(record)
            elif parts[0] == "contribution":
                if len(parts) == 3 and _CONTRIBUTION.match(parts[1] + " " + parts[2]):
                    self._contributions.setdefault(parts[1], bytes.fromhex(parts[2]))
            else:
                self._digests.add(parts[0])
        self._offset += end

    def _locked(self, mode: int) -> _JournalLock:
        return _JournalLock(self._fd, mode)

    def lineage_records(self) -> list[LineageRecord]:
        """Every lineage answer this trustee gave."""
        with self._locked(fcntl.LOCK_SH):
            self._catch_up()
            return [r for records in self._lineages.values() for r in records]

    def check(self, lineage: LineageClaim) -> None:
        """Read-only: raise RefusedError if ``lineage`` would be refused (a trustee calls it
        before expensive work; :meth:`claim` checks again atomically)."""
        with self._locked(fcntl.LOCK_SH):
            self._catch_up()
            check_claim(lineage, self._lineages.get(lineage.lineage, []))

    def answered(self, digest: str) -> bool:
        with self._locked(fcntl.LOCK_SH):
            self._catch_up()
            return digest in self._digests

    def contribution(self, bundle_digest: str, fresh: Callable[[], bytes]) -> bytes:
        """This trustee's round-1 randomness for ``bundle_digest``: what it contributed
        before, or ``fresh()`` — written and synced before it is returned, so it is the only
        one ever given (docs/design.md, "Signed contributions"). A service asking again gets
        the same bytes, so it cannot ask until it likes the seed; a crash after the write
        re-sends the same contribution."""
        if not re.fullmatch(r"[0-9a-f]{64}", bundle_digest):
            raise FormatError("a bundle digest is 64 lower-case hex characters")
        with self._locked(fcntl.LOCK_EX):
            self._catch_up()
            kept = self._contributions.get(bundle_digest)
            if kept is not None:
                return kept
            randomness = fresh()
            if len(randomness) != 32:
                raise FormatError("a round-1 contribution is 32 bytes of randomness")
            size = os.fstat(self._fd).st_size
            torn = size > self._offset
            text = ("\n" if torn else "") + f"contribution {bundle_digest} {randomness.hex()}\n"
            os.write(self._fd, text.encode("ascii"))
            os.fsync(self._fd)
            self._catch_up()
        fsync_dir(self.path.parent)
        return randomness

    def contributed(self, bundle_digest: str) -> bytes | None:
        """The randomness this trustee contributed to ``bundle_digest``, if it did."""
        with self._locked(fcntl.LOCK_SH):
            self._catch_up()
            return self._contributions.get(bundle_digest)

    def claim(
        self,
        digest: str,
        request_id: str,
        *,
        lineage: LineageClaim,
        refusal: str | None = None,
    ) -> None:
        """Record ``digest`` and the ``lineage`` slot as answered; refuse, writing nothing, if
        the digest is already there or the lineage rules forbid the slot (atomic under the
        lock)."""
        check_request_id(request_id)
        with self._locked(fcntl.LOCK_EX):
            self._catch_up()
            if digest in self._digests:
                raise RefusedError(
                    refusal
                    or "this trustee already produced a partial decryption of this ciphertext"
                )
            check_claim(lineage, self._lineages.get(lineage.lineage, []))
            record = LineageRecord(lineage.lineage, lineage.slot, lineage.active_set, request_id)
            size = os.fstat(self._fd).st_size
            torn = size > self._offset  # an unterminated last line: end it first
            text = ("\n" if torn else "") + f"{digest} {request_id}\n{record.line()}"
            os.write(self._fd, text.encode("ascii"))
            os.fsync(self._fd)
            self._catch_up()
        fsync_dir(self.path.parent)


class _JournalLock:
    """``flock`` held for a ``with`` block."""

    def __init__(self, fd: int, mode: int) -> None:
        self._fd = fd
        self._mode = mode

    def __enter__(self) -> None:
        fcntl.flock(self._fd, self._mode)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
