"""A follower's own verified copy of one challenge's log (what a trustee decides by).

A trustee does not take the service's word for what happened in a challenge: it keeps every
entry of the challenge's log itself, append-only on disk, and accepts a new signed tree head
only if the head's signature verifies under the challenge's log key and the root of its own
copy, at the head's size, is the head's root (RFC 9162 §2.1.1, ``transparency/log.py``). The
copy only grows, so every head it ever accepted is a prefix of every later one: a service that
shows it a forked log (a head no extension of what it already holds can reach) is refused, and
it needs no consistency proof — it has the entries (docs/design.md, "Following the log").

The log's times (``time`` of pad requests and bundles, ``transparency/entries.py``) must never
decrease and never pass the timestamp of the head that first covers them, and that head must not
be from the follower's future: so a service cannot spread one identity's submissions over
invented days to get past its quota (``trustee/input_rules.py``).

Why entries rather than inclusion proofs: the trustee's rules are about what the log does
*not* hold as much as what it holds (no second labels bundle, no other score request for a
submission), and inclusion proofs cannot show absence.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cryptoscore.durable import fsync_dir
from cryptoscore.errors import FormatError, RefusedError
from cryptoscore.transparency.entries import parse_entry
from cryptoscore.transparency.log import MerkleLog, SignedTreeHead, verify_tree_head

__all__ = [
    "CLOCK_SKEW_MS",
    "ForkedLogError",
    "LogReplica",
    "LoggedBundle",
    "LoggedPadRequest",
    "LoggedSelection",
]

CLOCK_SKEW_MS = 10 * 60 * 1000
"""How far a head's timestamp may run ahead of the follower's own clock."""


@dataclass(frozen=True, slots=True)
class LoggedBundle:
    """A bundle's first ``bundle`` entry: its owner's signature and the log's time
    (``signer``/``signature`` empty, ``time`` -1, for a bundle logged before signed inputs)."""

    index: int
    kind: str
    signer: str
    signature: str
    time: int


@dataclass(frozen=True, slots=True)
class LoggedPadRequest:
    """A pad request's first ``pad_request`` entry."""

    index: int
    requester: str
    signature: str
    time: int


@dataclass(frozen=True, slots=True)
class LoggedSelection:
    """A ``selection`` entry: an identity's signed choice of its final submissions."""

    index: int
    identity: str
    sequence: int
    submissions: tuple[str, ...]
    signature: str
    time: int


class ForkedLogError(RefusedError):
    """The service showed a log head that is not an extension of the log this follower holds."""


class LogReplica:
    """One challenge's log as this follower verified it: entries, the last head accepted.

    Stored in ``directory``: ``entries.jsonl`` (one canonical entry per line, appended and
    synced) and ``head.json`` (the last accepted head, replaced atomically after the entries
    it covers are on disk). Opening re-verifies the stored entries against the stored head.
    """

    def __init__(self, directory: Path, log_id: str, log_key: bytes) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_id = log_id
        try:
            self._key = Ed25519PublicKey.from_public_bytes(log_key)
        except ValueError:
            raise FormatError("a log key is a 32-byte Ed25519 public key") from None
        self._pin(log_key)
        self._tree = MerkleLog()
        self._head: SignedTreeHead | None = None
        # what followers look up, kept as entries arrive (so a rule costs O(1), not O(n))
        self._bundle_kinds: dict[str, str] = {}
        self._bundles: dict[str, LoggedBundle] = {}
        self._bundles_by_kind: dict[str, list[str]] = {}
        self._submission_times: dict[str, list[tuple[int, int]]] = {}
        self._pad_requests: dict[str, LoggedPadRequest] = {}
        self._pad_request_times: dict[str, list[tuple[int, int]]] = {}
        self._enrolled: dict[str, int] = {}
        """Each enrolled identity's rank: 1 for the first identity the log enrols, and so on."""
        self._definition: str | None = None
        self._last_time = -1
        self._requests: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {}
        self._scores_of: dict[str, set[str]] = {}
        self._circuit_scores: dict[tuple[str, str], set[str]] = {}
        """(predictions, score circuit) → digests of the logged requests."""
        self._submitted: dict[str, list[tuple[str, int]]] = {}
        """Each signer's predictions bundles (digest, log time), in log order."""
        self._verdicts: dict[str, str] = {}
        """Each bundle's first round-1 verdict."""
        self._selections: dict[str, list[LoggedSelection]] = {}
        self._request_index: dict[str, int] = {}
        """Each request record's first ``request`` entry."""
        self._closes: list[tuple[int, int]] = []
        """Every ``close`` entry: (index, time), in log order."""
        self._liars: dict[str, int] = {}
        """Each trustee a ``liar`` entry names: the index of its first such entry."""
        self._load()

    # -- storage ---------------------------------------------------------------------------
    def _pin(self, log_key: bytes) -> None:
        """The log id and key are fixed on first use: a later change is a forked log."""
        pinned = self.directory / "log.json"
        want = {"log_id": self.log_id, "log_key": log_key.hex()}
        if pinned.exists():
            if json.loads(pinned.read_text()) != want:
                raise ForkedLogError(
                    f"the service now names another log id or log key for {self.log_id!r} than "
                    "the one this trustee has followed"
                )
            return
        _write_atomically(pinned, json.dumps(want, sort_keys=True).encode())

    def _load(self) -> None:
        head_path, entries_path = self.directory / "head.json", self.directory / "entries.jsonl"
        head = None
        if head_path.exists():
            head = SignedTreeHead.from_json(json.loads(head_path.read_text()))
        kept = 0  # bytes of entries.jsonl the head covers
        if entries_path.exists():
            with open(entries_path, "rb") as f:
                for line in f:
                    if head is None or self.size >= head.size or not line.endswith(b"\n"):
                        break  # appended, but the head covering them was never written
                    self._add(line[:-1])
                    kept += len(line)
            if entries_path.stat().st_size > kept:
                os.truncate(entries_path, kept)
        if head is not None and (self.size != head.size or self._tree.root() != head.root):
            raise FormatError(f"the stored copy of {self.log_id!r} does not match its head")
        self._head = head

    def _add(self, raw: bytes) -> None:
        self._tree.append(raw)
        self._index(parse_entry(raw), self.size - 1)

    def _index(self, entry: dict[str, Any], index: int) -> None:
        kind = entry["type"]
        if "time" in entry:
            self._last_time = max(self._last_time, int(entry["time"]))
        if kind == "challenge" and self._definition is None:
            self._definition = str(entry["definition"])
        elif kind == "enrolment":
            self._enrolled.setdefault(str(entry["identity"]), len(self._enrolled) + 1)
        elif kind == "pad_request" and entry["request"] not in self._pad_requests:
            pad = LoggedPadRequest(
                index, str(entry["requester"]), str(entry["signature"]), int(entry["time"])
            )
            self._pad_requests[entry["request"]] = pad
            self._pad_request_times.setdefault(pad.requester, []).append((index, pad.time))
        elif kind == "bundle" and entry["bundle"] not in self._bundle_kinds:
            self._bundle_kinds[entry["bundle"]] = entry["kind"]
            self._bundles_by_kind.setdefault(entry["kind"], []).append(entry["bundle"])
            logged = LoggedBundle(
                index,
                str(entry["kind"]),
                str(entry.get("signer", "")),
                str(entry.get("signature", "")),
                int(entry.get("time", -1)),
            )
            self._bundles[entry["bundle"]] = logged
            if logged.kind == "predictions" and logged.signer:
                self._submission_times.setdefault(logged.signer, []).append((index, logged.time))
                self._submitted.setdefault(logged.signer, []).append((entry["bundle"], logged.time))
        elif kind == "request":
            inputs = tuple(entry["inputs"])
            found = (int(entry["round"]), str(entry["circuit"]), inputs)
            self._requests.setdefault(entry["request"], []).append(found)
            self._request_index.setdefault(str(entry["request"]), index)
            if entry["circuit"] == "score/v1" and inputs:
                self._scores_of.setdefault(inputs[0], set()).add(entry["request"])
            if inputs:
                key = (inputs[0], str(entry["circuit"]))
                self._circuit_scores.setdefault(key, set()).add(entry["request"])
        elif kind == "close":
            self._closes.append((index, int(entry["time"])))
        elif kind == "round1":
            self._verdicts.setdefault(str(entry["bundle"]), str(entry["verdict"]))
        elif kind == "liar":
            self._liars.setdefault(str(entry["trustee"]), index)
        elif kind == "selection":
            selection = LoggedSelection(
                index,
                str(entry["identity"]),
                int(entry["sequence"]),
                tuple(str(d) for d in entry["submissions"]),
                str(entry["signature"]),
                int(entry["time"]),
            )
            self._selections.setdefault(selection.identity, []).append(selection)

    # -- reading ---------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self._tree.size

    @property
    def head(self) -> SignedTreeHead | None:
        """The last head accepted (None before the first)."""
        return self._head

    def entries(self, entry_type: str | None = None) -> Iterator[dict[str, Any]]:
        """Entries in log order (of one type, if given), read from disk: the copy keeps only
        its indexes in memory."""
        path = self.directory / "entries.jsonl"
        if not self.size:
            return
        with open(path, "rb") as f:
            for _, line in zip(range(self.size), f, strict=False):
                entry = parse_entry(line.rstrip(b"\n"))
                if entry_type is None or entry["type"] == entry_type:
                    yield entry

    def bundle_kind(self, digest: str) -> str | None:
        """The kind of the bundle logged under ``digest`` (its first entry), if logged."""
        return self._bundle_kinds.get(digest)

    def bundle(self, digest: str) -> LoggedBundle | None:
        """The first ``bundle`` entry of ``digest``, if logged."""
        return self._bundles.get(digest)

    def pad_request(self, digest: str) -> LoggedPadRequest | None:
        """The first ``pad_request`` entry of the request record ``digest``, if logged."""
        return self._pad_requests.get(digest)

    @property
    def definition(self) -> str | None:
        """The digest of the challenge definition the log's first ``challenge`` entry names."""
        return self._definition

    def enrolled(self, identity: str) -> bool:
        """Whether the log holds an enrolment of ``identity`` (hex Ed25519 key)."""
        return identity in self._enrolled

    def enrolment_rank(self, identity: str) -> int | None:
        """``identity``'s place among the distinct identities the log enrols, in log order
        (1 for the first), or ``None`` if the log holds no enrolment of it."""
        return self._enrolled.get(identity)

    def submissions_by(self, signer: str, since: int, upto: int) -> int:
        """Predictions bundles ``signer`` signed, logged after time ``since`` and at index
        ``upto`` or before."""
        return _count_since(self._submission_times.get(signer, []), since, upto)

    def pad_requests_by(self, requester: str, since: int, upto: int) -> int:
        """Pad requests ``requester`` signed, logged after time ``since`` and at index
        ``upto`` or before."""
        return _count_since(self._pad_request_times.get(requester, []), since, upto)

    def liars_before(self, upto: int) -> set[str]:
        """The trustees ``liar`` entries before index ``upto`` name (proven liars:
        docs/design.md, "Liar reports")."""
        return {tid for tid, index in self._liars.items() if index < upto}

    def bundles_of_kind(self, kind: str) -> list[str]:
        """Digests of the logged bundles of ``kind``, in log order."""
        return list(self._bundles_by_kind.get(kind, ()))

    def request_logged(self, digest: str, round_: int, circuit: str, inputs: Sequence[str]) -> bool:
        """The log holds a ``request`` entry for the record ``digest`` with these members."""
        return (round_, circuit, tuple(inputs)) in self._requests.get(digest, [])

    def score_requests_of(self, predictions: str) -> set[str]:
        """Digests of every logged score request whose predictions are ``predictions``."""
        return set(self._scores_of.get(predictions, ()))

    def requests_of(self, predictions: str, circuit: str) -> set[str]:
        """Digests of every logged ``circuit`` request whose first input is ``predictions``."""
        return set(self._circuit_scores.get((predictions, circuit), ()))

    def request_index(self, digest: str) -> int | None:
        """Where the log first holds the request record ``digest``."""
        return self._request_index.get(digest)

    def closed_at(self, closes_ms: int) -> tuple[int, int] | None:
        """The log's first ``close`` entry at or after time ``closes_ms``, as (index, time)."""
        return next(((i, t) for i, t in self._closes if t >= closes_ms), None)

    def submissions_of(self, signer: str) -> list[tuple[str, int]]:
        """``signer``'s predictions bundles as (digest, log time), in log order."""
        return list(self._submitted.get(signer, ()))

    def verdict(self, digest: str) -> str | None:
        """The bundle's round-1 verdict as first logged (``valid``, ``invalid``), if any."""
        return self._verdicts.get(digest)

    def selections_by(self, identity: str) -> list[LoggedSelection]:
        """``identity``'s final selections, in log order (signatures not yet checked)."""
        return list(self._selections.get(identity, ()))

    # -- growing ---------------------------------------------------------------------------
    def accept(
        self, head: SignedTreeHead, new_entries: Sequence[bytes], now_ms: int | None = None
    ) -> None:
        """Accept ``head`` with the entries between this copy's size and the head's.

        Refused (nothing stored) unless the head is this log's, signed by its key, not from
        more than :data:`CLOCK_SKEW_MS` after ``now_ms`` (the follower's clock, if given), and
        the copy extended by exactly ``new_entries`` has the head's root at its size, with
        times that never decrease nor pass the head's. A head older than the copy must match
        the copy's root at that size (and is not stored)."""
        if head.log_id != self.log_id:
            raise ForkedLogError(f"a tree head of log {head.log_id!r}, not {self.log_id!r}")
        verify_tree_head(head, self._key)
        if now_ms is not None and head.timestamp_ms > now_ms + CLOCK_SKEW_MS:
            raise ForkedLogError(
                f"the service's head is signed {head.timestamp_ms - now_ms} ms in this "
                "follower's future: refused"
            )
        if head.size < self.size:
            if new_entries or self._tree.root(head.size) != head.root:
                raise ForkedLogError(
                    f"the service's head at size {head.size} is not a prefix of the log this "
                    f"trustee holds (size {self.size}): a forked log"
                )
            return
        if len(new_entries) != head.size - self.size:
            raise FormatError(
                f"a head of size {head.size} over a copy of {self.size} needs "
                f"{head.size - self.size} new entries, not {len(new_entries)}"
            )
        parsed = [parse_entry(raw) for raw in new_entries]  # all well-formed, or nothing
        _check_times(parsed, self._last_time, head)
        old_size = self.size
        for raw in new_entries:
            self._tree.append(raw)
        if self._tree.root() != head.root:
            # put the tree back as it was (only ever on a refused head: O(n) is fine)
            self._tree = MerkleLog([self._tree.leaf_hash(i) for i in range(old_size)])
            raise ForkedLogError(
                f"the service's head at size {head.size} does not extend the log this trustee "
                f"holds (size {self.size}): a forked log, refused"
            )
        try:
            if new_entries:
                path = self.directory / "entries.jsonl"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, b"".join(bytes(raw) + b"\n" for raw in new_entries))
                    os.fsync(fd)
                finally:
                    os.close(fd)
            _write_atomically(self.directory / "head.json", json.dumps(head.to_json()).encode())
        except OSError:
            # not on disk: not accepted (reopening drops entries no stored head covers)
            self._tree = MerkleLog([self._tree.leaf_hash(i) for i in range(old_size)])
            raise
        for offset, entry in enumerate(parsed):
            self._index(entry, old_size + offset)
        self._head = head


def _count_since(logged: list[tuple[int, int]], since: int, upto: int) -> int:
    """How many ``(index, time)`` pairs (in log order, so times non-decreasing) have
    ``index <= upto`` and ``time > since``: O(log n)."""
    end = bisect.bisect_right(logged, upto, key=lambda pair: pair[0])
    start = bisect.bisect_right(logged, since, hi=end, key=lambda pair: pair[1])
    return end - start


def _check_times(entries: Sequence[dict[str, Any]], last: int, head: SignedTreeHead) -> None:
    """New entries' times never decrease and never pass the head that covers them."""
    for entry in entries:
        if "time" not in entry:
            continue
        time_ms = int(entry["time"])
        if time_ms < last:
            raise ForkedLogError(
                f"a {entry['type']} entry is logged at {time_ms} ms, before an earlier entry "
                f"({last} ms): the log's times never decrease"
            )
        if time_ms > head.timestamp_ms:
            raise ForkedLogError(
                f"a {entry['type']} entry is logged at {time_ms} ms, after the head that covers "
                f"it was signed ({head.timestamp_ms} ms)"
            )
        last = time_ms


def replica_directory(base: Path, challenge_id: str) -> Path:
    """Where a follower keeps the copy of ``challenge_id``'s log under ``base``."""
    return base / hashlib.sha256(challenge_id.encode()).hexdigest()[:32]


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)
