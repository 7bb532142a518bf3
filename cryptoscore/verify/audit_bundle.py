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
from cryptoscore.protocol.ladder import LadderOpening
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
            ladder = json.loads(zf.read("ladder.json")) if "ladder.json" in zf.namelist() else None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise CheckFailed("manifest", f"not a readable audit bundle: {exc}") from None
    raw_entries = [line for line in raw_log.split(b"\n") if line]
    try:
        entries = [json.loads(line) for line in raw_entries]
    except json.JSONDecodeError:
        raise CheckFailed("log-integrity", "a log entry is not JSON") from None
    return AuditBundle(manifest, entries, raw_entries, blobs, leaderboard, ladder)


@dataclass(frozen=True)
class AuditBundle:
    """What the zip holds, unchecked. The parsed records are cached on first use: the check
    that first asks for them is the one a malformed record fails, as the checks run in order."""

    manifest: dict[str, Any]
    entries: list[dict[str, Any]]
    raw_entries: list[bytes]
    blobs: dict[str, bytes]
    leaderboard: list[dict[str, Any]]
    ladder: Any = None
    """``ladder.json``, the openings of the ladder releases' commitments: in the restricted
    bundle only (``None``: a public bundle, or a challenge without the Ladder)."""

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
    def laddered(self) -> bool:
        """Whether the challenge's logged definition has the Ladder (docs/design.md,
        "Ladder"); a definition that does not parse is ``ceremony-record``'s to fail."""
        for e in self.of_type("challenge"):
            try:
                definition = json.loads(self.blobs[e["definition"]])
                return "ladder" in (definition.get("rules") or {})
            except (KeyError, ValueError, AttributeError, TypeError):
                return False
        return False

    @cached_property
    def withheld(self) -> set[str]:
        """Requests whose partials a public bundle of a Ladder challenge leaves out (they
        combine to exact values): its round-2 requests. Empty for a restricted bundle."""
        if not self.laddered or self.ladder is not None:
            return set()
        return {req.request_id for req, rnd in self.requests.values() if rnd == 2}

    def withheld_blob(self, entry: dict[str, Any]) -> bool:
        """Whether ``entry`` is a partial the public bundle leaves out (and does not hold)."""
        return (
            entry.get("type") == "partial"
            and entry.get("request_id") in self.withheld
            and entry.get("partial") not in self.blobs
        )

    @cached_property
    def partials_in_order(self) -> list[PartialDecryption]:
        """The logged partials in log order (share-exposure replays them as the trustees
        answered); a public Ladder bundle's withheld ones left out."""
        return [
            PartialDecryption.from_bytes(self.blobs[e["partial"]])
            for e in self.of_type("partial")
            if not self.withheld_blob(e)
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
        (their partials must be complete: a dispute is re-derived from them like a release);
        a public Ladder bundle's withheld requests left out."""
        return {e["request_id"] for e in self.outcomes} - self.withheld

    @cached_property
    def openings(self) -> dict[str, LadderOpening]:
        """The restricted bundle's openings by request id; one that does not parse, or two
        for one request, fails ``ladder``."""
        if self.ladder is None:
            return {}
        if not isinstance(self.ladder, list):
            raise CheckFailed("ladder", "ladder.json is a list of openings")
        out: dict[str, LadderOpening] = {}
        for obj in self.ladder:
            try:
                opening = LadderOpening.from_json(obj)
            except CryptoScoreError as exc:
                raise CheckFailed("ladder", f"ladder.json: {exc}") from None
            if opening.request_id in out:
                raise CheckFailed("ladder", f"{opening.request_id}: opened twice")
            out[opening.request_id] = opening
        return out

    def _exact(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """A ``ladder_release`` as the release of its exact values (the restricted bundle's
        opening), or ``None`` (a public bundle: they are not in it); other entries as they are."""
        if entry.get("type") != "ladder_release":
            return entry
        opening = self.openings.get(entry["request_id"])
        if opening is None:
            return None
        kind = "release" if entry["part"] is None else "part_release"
        exact = {k: v for k, v in entry.items() if k not in ("commitment", "part")}
        exact.update(type=kind, values=dict(opening.values))
        return exact if kind == "release" else {**exact, "part": entry["part"]}

    @property
    def outcomes(self) -> list[dict[str, Any]]:
        """The releases (:attr:`releases`) and disputes, in log order."""
        out = []
        for e in self.entries:
            if e.get("type") in ("release", "part_release", "ladder_release", "dispute"):
                exact = self._exact(e)
                if exact is not None:
                    out.append(exact)
        return out

    @property
    def releases(self) -> list[dict[str, Any]]:
        """The ``release`` and (a split challenge's) ``part_release`` entries, in log order,
        with each ``ladder_release`` whose opening the bundle holds as the release of its exact
        values (a public bundle's are left out: ``ladder`` checks what it can of them)."""
        return [e for e in self.outcomes if e["type"] != "dispute"]

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
