"""The audit bundle as read from its zip, the records its blobs hold (parsed on first use),
and the typed findings that earlier checks hand to later ones."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cryptoscore.errors import CryptoScoreError
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.transparency.log import SignedTreeHead
from cryptoscore.transparency.transcript import sha256_hex
from cryptoscore.verify.report import CheckFailed

_T = TypeVar("_T")


def read_bundle(path: str | Path) -> AuditBundle:
    """The zip's members; an unreadable zip fails ``manifest``, a log line that is not JSON
    fails ``log-integrity``, before any check runs."""
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            raw_log = zf.read("log.jsonl")
            blobs = {
                name.removeprefix("blobs/"): zf.read(name)
                for name in zf.namelist()
                if name.startswith("blobs/") and name != "blobs/"
            }
            leaderboard = json.loads(zf.read("leaderboard.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise CheckFailed("manifest", f"not a readable audit bundle: {exc}") from None
    raw_entries = [line for line in raw_log.split(b"\n") if line]
    try:
        entries = [json.loads(line) for line in raw_entries]
    except json.JSONDecodeError:
        raise CheckFailed("log-integrity", "a log entry is not JSON") from None
    return AuditBundle(manifest, entries, raw_entries, blobs, leaderboard)


@dataclass(frozen=True)
class AuditBundle:
    """What the zip holds, unchecked. The parsed records are cached on first use: the check
    that first asks for them is the one a malformed record fails, as the checks run in order."""

    manifest: dict[str, Any]
    entries: list[dict[str, Any]]
    raw_entries: list[bytes]
    blobs: dict[str, bytes]
    leaderboard: list[dict[str, Any]]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e.get("type") == kind]

    def blob(self, digest: str, check: str) -> bytes:
        data = self.blobs.get(digest)
        if data is None or sha256_hex(data) != digest:
            raise CheckFailed(check, f"object {digest[:16]}… is missing or does not match its hash")
        return data

    @cached_property
    def bundles(self) -> dict[str, EncryptedBundle]:
        """Each logged encrypted bundle by its digest."""
        return {
            e["bundle"]: EncryptedBundle.from_bytes(self.blobs[e["bundle"]])
            for e in self.of_type("bundle")
        }

    @cached_property
    def requests(self) -> dict[str, tuple[DecryptionRequest, int]]:
        """Each logged decryption request by its id, with its round."""
        out: dict[str, tuple[DecryptionRequest, int]] = {}
        for e in self.of_type("request"):
            req = DecryptionRequest.from_bytes(self.blobs[e["request"]])
            out[req.request_id] = (req, int(e["round"]))
        return out

    @cached_property
    def partials_in_order(self) -> list[PartialDecryption]:
        """The logged partials in log order (share-exposure replays them as the trustees
        answered)."""
        return [
            PartialDecryption.from_bytes(self.blobs[e["partial"]]) for e in self.of_type("partial")
        ]

    @cached_property
    def partials(self) -> dict[str, list[PartialDecryption]]:
        """The logged partials by the request they answer."""
        out: dict[str, list[PartialDecryption]] = {}
        for p in self.partials_in_order:
            out.setdefault(p.request_id, []).append(p)
        return out

    def decided(self) -> dict[str, str]:
        """Bundles with a logged round-1 verdict (their round 1 must be complete)."""
        return {e["bundle"]: e["verdict"] for e in self.of_type("round1")}

    def released(self) -> set[str]:
        """Requests with a logged release (a split's ``part_release`` included) or dispute
        (their partials must be complete: a dispute is re-derived from them like a release)."""
        return {e["request_id"] for e in (*self.releases, *self.of_type("dispute"))}

    @property
    def releases(self) -> list[dict[str, Any]]:
        """The ``release`` and (a split challenge's) ``part_release`` entries, in log order."""
        return [e for e in self.entries if e.get("type") in ("release", "part_release")]

    def contributions(self, challenge_id: str, digest: str) -> list[Contribution]:
        """The round-1 contributions logged for bundle ``digest``; one that does not parse
        fails ``contributions-signed``, the first check to read them."""
        try:
            return [
                Contribution(
                    challenge_id,
                    e["bundle"],
                    e["trustee"],
                    bytes.fromhex(e["randomness"]),
                    bytes.fromhex(e["signature"]),
                )
                for e in self.of_type("contribution")
                if e["bundle"] == digest
            ]
        except (ValueError, TypeError, CryptoScoreError) as exc:
            raise CheckFailed("contributions-signed", f"malformed contribution: {exc}") from None


@dataclass(frozen=True, slots=True)
class Manifest:
    """The manifest's service key and signed tree heads, parsed by the ``manifest`` check."""

    service_key: Ed25519PublicKey
    heads: list[SignedTreeHead]


def established(value: _T | None, check: str) -> _T:
    """What ``check`` established. The run stops at the first failed check, so a later check
    always finds it; None here means a check ran out of order."""
    if value is None:
        raise RuntimeError(f"the {check} check has not passed")
    return value
