"""The log's entry types, each named once with its members and the blobs it names.

Every event of a challenge is one canonical JSON object in the RFC 9162 log
(docs/design.md, "Transcript and audit bundle"). This module is the only place that spells
an entry's shape: the transcript builds entries here, the service stores the blobs
:func:`blob_digests` names, and the verifier and the leaderboard parse with
:func:`parse_entry`.

    type          members                                   blobs named (SHA-256 hex)
    ceremony      record, public, evaluation                record, public, evaluation
    challenge     challenge, definition                     definition
    enrolment     identity, name, signature                 —
    pad_request   request, requester, signature, time       request
    bundle        kind, bundle, owner, signer, signature,   bundle
                  time
    contribution  bundle, trustee, randomness, signature    —
    request       request, round, circuit, inputs           request
    partial       request_id, partial, trustee              partial
    round1        bundle, verdict, reason                   —
    release       predictions, labels, request_id, values   —
    selection     identity, sequence, submissions,          —
                  signature, time
    close         time                                      —
    part_release  predictions, labels, request_id, part,    —
                  values
    dispute       predictions, labels, request_id,          —
                  invariant, reason
    ladder_release  predictions, labels, request_id, part,  —
                  values, commitment

A ``selection`` is a participant's signed choice of its final submissions in a challenge
with a public/private split (``protocol/signed_inputs.selection_message``); ``close`` is the
service's word that such a challenge has closed, logged once at or after its close time: every
entry after it is after the close (the log's times never decrease). A split challenge's
releases are ``part_release`` entries naming their part (``public`` or ``private``); a
challenge without a split logs ``release`` entries as before. A ``dispute`` names no part:
its request's circuit (``score-public/v1`` or ``score-private/v1``) says which it is.

``time`` is the service's clock when it logged the entry (Unix milliseconds): the log's times
never decrease and never pass the head that first covers them, and the quotas are counted in
them (``trustee/input_rules.py``). Signatures are hex; what each signs is
``protocol/signed_inputs.py``. Logs written before signed inputs hold ``bundle`` entries of
kind, bundle and owner only: they still parse, and every rule that needs a signature refuses
them.

A ``dispute`` is logged in place of a release whose combined values broke a release
invariant (``protocol/invariants.py``): it names the invariant and why, never the values.

A ``ladder_release`` is the release of a challenge under the Ladder (``protocol/ladder.py``,
docs/design.md "Ladder"): ``values`` is the shown count only (``{"correct": s}``), ``part``
``"public"`` in a split challenge (``null`` without one), and ``commitment`` the SHA-256
commitment to the exact values, which only the restricted audit bundle opens.

A contribution, a round-1 verdict, a release and a dispute name bundles that their own ``bundle``
entries already carry; ``request_id`` names a request by its id, not by a blob.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptoscore.envelope import canonical_json
from cryptoscore.errors import FormatError

__all__ = ["ENTRY_TYPES", "EntryType", "blob_digests", "entry_bytes", "parse_entry"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CEREMONY_BLOBS = ("record", "public", "evaluation")


@dataclass(frozen=True, slots=True)
class EntryType:
    """One kind of log entry: its ``type``, its other members, and which of them name a
    blob the audit bundle must carry."""

    name: str
    members: tuple[str, ...]
    blobs: tuple[str, ...] = ()
    legacy: tuple[str, ...] | None = None
    """The members of this type's entries in logs written before it gained its others
    (parsed, never made)."""

    def make(self, **members: Any) -> dict[str, Any]:
        """An entry of this type; every member given, nothing else."""
        if set(members) != set(self.members):
            raise FormatError(
                f"a {self.name} entry has exactly {', '.join(self.members)}; got "
                f"{', '.join(sorted(members))}"
            )
        entry = {"type": self.name, **members}
        self.check(entry)
        return entry

    def check(self, entry: Mapping[str, Any], *, legacy: bool = False) -> None:
        shapes = [self.members] + ([self.legacy] if legacy and self.legacy else [])
        if not any(set(entry) == {"type", *shape} for shape in shapes):
            raise FormatError(f"a {self.name} entry has exactly type, {', '.join(self.members)}")
        if "time" in entry and (
            not isinstance(entry["time"], int)
            or isinstance(entry["time"], bool)
            or not 0 <= entry["time"] < 1 << 53
        ):
            raise FormatError(f"{self.name} entry: time is Unix milliseconds")
        for member in self.blobs:
            value = entry[member]
            if not isinstance(value, str) or not _SHA256.fullmatch(value):
                raise FormatError(f"{self.name} entry: {member} is not a SHA-256 hex digest")


ENTRY_TYPES: dict[str, EntryType] = {
    t.name: t
    for t in (
        EntryType("ceremony", _CEREMONY_BLOBS, _CEREMONY_BLOBS),
        EntryType("challenge", ("challenge", "definition"), ("definition",)),
        EntryType("enrolment", ("identity", "name", "signature")),
        EntryType("pad_request", ("request", "requester", "signature", "time"), ("request",)),
        EntryType(
            "bundle",
            ("kind", "bundle", "owner", "signer", "signature", "time"),
            ("bundle",),
            legacy=("kind", "bundle", "owner"),
        ),
        EntryType("contribution", ("bundle", "trustee", "randomness", "signature")),
        EntryType("request", ("request", "round", "circuit", "inputs"), ("request",)),
        EntryType("partial", ("request_id", "partial", "trustee"), ("partial",)),
        EntryType("round1", ("bundle", "verdict", "reason")),
        EntryType("release", ("predictions", "labels", "request_id", "values")),
        EntryType("selection", ("identity", "sequence", "submissions", "signature", "time")),
        EntryType("close", ("time",)),
        EntryType("part_release", ("predictions", "labels", "request_id", "part", "values")),
        EntryType("dispute", ("predictions", "labels", "request_id", "invariant", "reason")),
        EntryType(
            "ladder_release",
            ("predictions", "labels", "request_id", "part", "values", "commitment"),
        ),
        EntryType(
            "liar",
            ("trustee", "request_id", "finding", "report", "partial"),
            ("report", "partial"),
        ),
    )
}
"""Every entry type, by name."""


def entry_bytes(entry: Mapping[str, Any], *, legacy: bool = False) -> bytes:
    """The entry as the log stores it (canonical JSON), after checking its shape (``legacy``:
    a shape older logs hold is allowed too)."""
    kind = ENTRY_TYPES.get(str(entry.get("type")))
    if kind is None:
        raise FormatError(f"no log entry type {entry.get('type')!r}")
    kind.check(entry, legacy=legacy)
    return canonical_json(dict(entry))


def parse_entry(raw: bytes) -> dict[str, Any]:
    """A stored entry: canonical JSON of a known type with exactly its members."""
    try:
        entry = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise FormatError("a log entry is not JSON") from None
    if not isinstance(entry, dict):
        raise FormatError("a log entry is a JSON object")
    if entry_bytes(entry, legacy=True) != bytes(raw):
        raise FormatError("a log entry is not canonical JSON")
    return entry


def blob_digests(entry: Mapping[str, Any]) -> list[str]:
    """The blobs ``entry`` names (what the audit bundle and the service's store must hold)."""
    kind = ENTRY_TYPES.get(str(entry.get("type")))
    if kind is None:
        raise FormatError(f"no log entry type {entry.get('type')!r}")
    return [str(entry[member]) for member in kind.blobs]
