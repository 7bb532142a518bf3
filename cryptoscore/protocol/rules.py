"""A challenge's participation rules: who signs the labels, who may submit, and how often.

Fixed when the challenge is created and part of its logged definition
(``ChallengeContext.definition``), so every trustee and auditor reads the same rules from the
log (docs/design.md, "Signed inputs and enrolment"):

* ``organizer`` — the Ed25519 key that signs the labels bundle and its pad requests;
* ``enrolment`` — ``"invite"`` (only the ``invited`` keys may enrol) or ``"open"`` (any key
  may enrol; each is held to the quotas);
* ``max_enrolled`` — for an open challenge, at most this many identities, the first to enrol
  in the log (``None``: no cap). Per-identity quotas bound what one identity learns of the
  labels; the cap, like an invite list, bounds how many identities there are
  (``protocol/leakage.py``). A definition without the member (written before the cap) means
  no cap, and its JSON, and so its digest, are unchanged;
* ``submissions_per_day`` and ``pad_requests_per_day`` — per enrolled identity, over any
  24 hours of the log's own times (``trustee/input_rules.py``);
* ``split`` — a public/private split (:class:`SplitRule`, docs/design.md, "Public/private
  split"): how many items are public (published; which ones is secret), when the challenge
  closes (Unix ms), and how many final submissions per identity have their private part
  released after the close. A definition without the member has no split, and its JSON, and
  so its digest, are unchanged;
* ``dp`` — differential-privacy noise added by the trustees inside the threshold decryption
  (:class:`DpRule`, docs/design.md, "Differential-privacy release"): the zCDP ρ of one release
  and each identity's budget. A definition without the member releases exact counts, and its
  JSON, and so its digest, are unchanged;
* ``ladder`` — the Ladder release policy (``protocol/ladder.py``, docs/design.md, "Ladder"):
  a participant's shown score changes only when it beats its previous shown score by
  ``margin`` counts (of the public part, or of every item without a split). A definition
  without the member releases exact counts, and its JSON, and so its digest, are unchanged;
* ``pad_sets`` — which pad sets a submitter may name (docs/design.md, "Checked pad sets"):
  ``"checked"`` (the default) — for Shamir answers at least
  ``threshold.active_set.checked_set_size`` trustees, so every bundle's round 1 and score are
  checked against lying trustees, as the trustees themselves enforce; ``"any"`` — availability
  first: any t trustees, and releases of a bundle whose pad set is smaller are not checked
  (:data:`PAD_SETS_ANY_WARNING`). A definition without the member is ``"checked"``, and its
  JSON, and so its digest, are unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptoscore.envelope import Fields
from cryptoscore.errors import FormatError, PolicyError
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.ladder import LadderRule

__all__ = [
    "DAY_MS",
    "DP_WITH_LADDER",
    "MAX_ENROLLED",
    "MAX_FINALS",
    "MAX_INVITED",
    "PAD_SETS",
    "PAD_SETS_ANY_WARNING",
    "ChallengeRules",
    "DpRule",
    "EnrolmentMode",
    "PadSets",
    "SplitRule",
]

EnrolmentMode = Literal["invite", "open"]
PadSets = Literal["checked", "any"]
PAD_SETS = ("checked", "any")
PAD_SETS_ANY_WARNING = (
    'warning: pad_sets "any": a submitter may name as few as t trustees for its pads; the '
    "round 1 and score of such a bundle rest on unchecked answers, so one lying trustee "
    "colluding with the submitter can shift its released score undetected"
)
"""What the rule ``pad_sets: "any"`` gives up (docs/design.md, "Checked pad sets"): stated
when the challenge is created and with the challenge wherever it is shown."""
MAX_INVITED = 10_000
"""Invited identities one challenge may list (its definition stays a small record)."""
MAX_ENROLLED = 1_000_000
"""The largest cap an open challenge may set on its enrolled identities."""
MAX_PER_DAY = 1_000
DAY_MS = 24 * 3600 * 1000
"""The quota window: any 24 hours of the log's times, in milliseconds."""
MAX_FINALS = 5
"""The most final submissions one identity may have released on the private part."""
MAX_TIME_MS = 1 << 53


@dataclass(frozen=True, slots=True)
class SplitRule:
    """A public/private split of the test items (docs/design.md, "Public/private split").

    * ``public_items`` — how many items are public: published (as Kaggle publishes "public =
      30%"), while which items they are stays secret, inside the labels' encryption;
    * ``closes_ms`` — the close (Unix ms, log and trustee time): before it only public-part
      scores are decrypted; after it, the private part of each identity's final submissions;
    * ``finals`` — how many submissions per identity are final: the ones its latest signed
      selection logged before the close names, or, without one, its last valid submission.
    """

    public_items: int
    closes_ms: int
    finals: int = 1

    def __post_init__(self) -> None:
        for name, value, lo, hi in (
            ("public_items", self.public_items, 1, 1 << 30),
            ("closes_ms", self.closes_ms, 1, MAX_TIME_MS - 1),
            ("finals", self.finals, 1, MAX_FINALS),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise FormatError(f"split: {name} must be in {lo}..{hi}, got {value!r}")

    def private_items(self, n: int) -> int:
        return n - self.public_items

    def part_size(self, part: str, n: int) -> int:
        return self.public_items if part == "public" else self.private_items(n)

    def to_json(self) -> dict[str, Any]:
        return {"public_items": self.public_items, "closes": self.closes_ms, "finals": self.finals}

    @classmethod
    def from_json(cls, obj: Any) -> SplitRule:
        if not isinstance(obj, Mapping):
            raise FormatError("challenge rules: split is an object")
        f = Fields(obj, "split", {"public_items", "closes", "finals"})
        return cls(
            public_items=f.integer("public_items", 1, 1 << 30),
            closes_ms=f.integer("closes", 1, MAX_TIME_MS - 1),
            finals=f.integer("finals", 1, MAX_FINALS),
        )


MIN_RHO = 1e-6
MAX_RHO = 100.0


def _positive_real(name: str, value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormatError(f"dp: {name} is a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not lo <= number <= hi:
        raise FormatError(f"dp: {name} must be in {lo:g}..{hi:g}, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class DpRule:
    """Differential-privacy noise on every score release (docs/design.md,
    "Differential-privacy release"), in zero-concentrated DP (Bun & Steinke, TCC 2016):

    * ``rho`` — ρ of one release against one item's label changed, given by any one honest
      trustee's noise alone (``threshold/dp_noise.py``);
    * ``budget`` — ρ_total, what one identity's releases may add up to (zCDP composes by
      adding ρ): at most ⌊budget/rho⌋ releases per identity and part, enforced by every trustee
      from the log (``trustee/log_rules.check_dp_budget``).
    """

    rho: float
    budget: float

    def __post_init__(self) -> None:
        rho = _positive_real("rho", self.rho, MIN_RHO, MAX_RHO)
        budget = _positive_real("budget", self.budget, MIN_RHO, 1000 * MAX_RHO)
        if budget < rho:
            raise FormatError(
                f"dp: the budget {budget:g} is below one release's rho {rho:g}: nothing could "
                "ever be released"
            )

    @property
    def releases(self) -> int:
        """How many releases one identity's budget pays for (per part of a split)."""
        return int(self.budget / self.rho * (1 + 1e-12))

    def to_json(self) -> dict[str, Any]:
        return {"rho": self.rho, "budget": self.budget}

    @classmethod
    def from_json(cls, obj: Any) -> DpRule:
        if not isinstance(obj, Mapping) or set(obj) != {"rho", "budget"}:
            raise FormatError("challenge rules: dp is an object with rho and budget")
        return cls(
            rho=_positive_real("rho", obj["rho"], MIN_RHO, MAX_RHO),
            budget=_positive_real("budget", obj["budget"], MIN_RHO, 1000 * MAX_RHO),
        )


DP_WITH_LADDER = (
    "dp and the Ladder cannot be combined: choose differential-privacy noise or the Ladder"
)
"""Why rules with both ``dp`` and ``ladder`` are refused (docs/design.md, "Ladder"): each
policy's statement, audit and leaderboard are built for its own releases only."""


@dataclass(frozen=True, slots=True)
class ChallengeRules:
    """Who signs the labels, who may enrol, and each enrolled identity's daily quotas."""

    organizer: PublicKey
    enrolment: EnrolmentMode
    invited: tuple[PublicKey, ...] = ()
    submissions_per_day: int = 5
    pad_requests_per_day: int = 10
    max_enrolled: int | None = None
    split: SplitRule | None = None
    dp: DpRule | None = None
    ladder: LadderRule | None = None
    pad_sets: PadSets = "checked"

    def __post_init__(self) -> None:
        if self.pad_sets not in PAD_SETS:
            raise FormatError(f"pad_sets is 'checked' or 'any', not {self.pad_sets!r}")
        if self.enrolment not in ("invite", "open"):
            raise FormatError(f"enrolment is 'invite' or 'open', not {self.enrolment!r}")
        if self.enrolment == "open" and self.invited:
            raise FormatError("an open challenge lists no invited identities")
        if self.enrolment == "invite" and not self.invited:
            raise FormatError("an invite-only challenge lists at least one invited identity")
        if len(self.invited) > MAX_INVITED:
            raise FormatError(f"at most {MAX_INVITED} invited identities")
        if len({k.raw for k in self.invited}) != len(self.invited):
            raise FormatError("an identity is invited twice")
        for name, value in (
            ("submissions_per_day", self.submissions_per_day),
            ("pad_requests_per_day", self.pad_requests_per_day),
        ):
            if isinstance(value, bool) or not 1 <= value <= MAX_PER_DAY:
                raise FormatError(f"{name} must be in 1..{MAX_PER_DAY}, got {value!r}")
        if self.max_enrolled is not None:
            if self.enrolment != "open":
                raise FormatError(
                    "max_enrolled caps an open challenge; an invite list is its own cap"
                )
            if isinstance(self.max_enrolled, bool) or not 1 <= self.max_enrolled <= MAX_ENROLLED:
                raise FormatError(
                    f"max_enrolled must be in 1..{MAX_ENROLLED}, got {self.max_enrolled!r}"
                )
        if self.dp is not None and self.ladder is not None:
            raise PolicyError(DP_WITH_LADDER)

    @property
    def enrolment_limit(self) -> int | None:
        """How many identities may ever enrol: the invite list's size, the open challenge's
        cap, or ``None`` (open without a cap: unbounded)."""
        return len(self.invited) if self.enrolment == "invite" else self.max_enrolled

    def may_enrol(self, identity: PublicKey) -> bool:
        """Whether ``identity`` may enrol: anyone in an open challenge, the invited otherwise."""
        return self.enrolment == "open" or any(k.raw == identity.raw for k in self.invited)

    def to_json(self) -> dict[str, Any]:
        """The rules as JSON; ``max_enrolled``, ``split``, ``dp``, ``ladder`` and ``pad_sets``
        only when set (``pad_sets`` when not ``"checked"``), so a definition
        without them reads (and digests) as it did before they existed."""
        out: dict[str, Any] = {
            "organizer": self.organizer.hex(),
            "enrolment": self.enrolment,
            "invited": [k.hex() for k in self.invited],
            "submissions_per_day": self.submissions_per_day,
            "pad_requests_per_day": self.pad_requests_per_day,
        }
        if self.max_enrolled is not None:
            out["max_enrolled"] = self.max_enrolled
        if self.split is not None:
            out["split"] = self.split.to_json()
        if self.dp is not None:
            out["dp"] = self.dp.to_json()
        if self.ladder is not None:
            out["ladder"] = self.ladder.to_json()
        if self.pad_sets != "checked":
            out["pad_sets"] = self.pad_sets
        return out

    @classmethod
    def from_json(cls, obj: Any) -> ChallengeRules:
        """Parse :meth:`to_json`'s object; every member checked."""
        if not isinstance(obj, Mapping):
            raise FormatError("challenge rules: expected an object")
        members = {"organizer", "enrolment", "invited", "submissions_per_day"}
        members |= {"pad_requests_per_day"}
        members |= {"max_enrolled", "split", "dp", "ladder", "pad_sets"} & set(obj)
        f = Fields(obj, "challenge rules", members)
        invited = obj["invited"]
        if not isinstance(invited, list) or not all(isinstance(k, str) for k in invited):
            raise FormatError("challenge rules: invited is a list of hex keys")
        if len(invited) > MAX_INVITED:
            raise FormatError(f"challenge rules: at most {MAX_INVITED} invited identities")
        enrolment = f.string("enrolment", 8)
        if enrolment not in ("invite", "open"):
            raise FormatError(f"challenge rules: enrolment {enrolment!r} is not invite or open")
        pad_sets = f.string("pad_sets", 8) if "pad_sets" in obj else "checked"
        if pad_sets not in PAD_SETS or ("pad_sets" in obj and pad_sets == "checked"):
            # the default is never written, so one rule set has one JSON (and one digest)
            raise FormatError(f"challenge rules: pad_sets {pad_sets!r} is not 'any'")
        return cls(
            organizer=PublicKey.from_hex(f.string("organizer", 64)),
            enrolment=enrolment,  # type: ignore[arg-type]
            invited=tuple(PublicKey.from_hex(k) for k in invited),
            submissions_per_day=f.integer("submissions_per_day", 1, MAX_PER_DAY),
            pad_requests_per_day=f.integer("pad_requests_per_day", 1, MAX_PER_DAY),
            max_enrolled=(
                f.integer("max_enrolled", 1, MAX_ENROLLED) if "max_enrolled" in obj else None
            ),
            split=SplitRule.from_json(obj["split"]) if "split" in obj else None,
            dp=DpRule.from_json(obj["dp"]) if "dp" in obj else None,
            ladder=LadderRule.from_json(obj["ladder"]) if "ladder" in obj else None,
            pad_sets=pad_sets,  # type: ignore[arg-type]
        )
