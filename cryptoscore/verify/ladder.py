"""The ``ladder`` check: every release of a Ladder challenge is the Ladder's decision
(docs/design.md, "Ladder"; A. Blum and M. Hardt, ICML 2015, Algorithm 1).

With the restricted bundle (``ladder.json``) it checks each commitment against its opening
and that each owner's shown counts are exactly the Ladder applied to its exact counts in log
order (the exact values themselves were checked against the partials by ``release-values``).
With the public bundle it checks what the shown counts alone show — each is on the Ladder's
grid, an owner's never decrease and each rise is at least the margin — and says what it could
not check."""

from __future__ import annotations

from typing import Any

from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.ladder import ladder_step
from cryptoscore.scoring.policy import correct_count
from cryptoscore.verify.audit_bundle import AuditBundle
from cryptoscore.verify.report import CheckFailed


def _shown(e: dict[str, Any]) -> int:
    values = e["values"]
    if (
        not isinstance(values, dict)
        or set(values) != {"correct"}
        or not isinstance(values["correct"], int)
        or isinstance(values["correct"], bool)
    ):
        raise CheckFailed("ladder", f"{e['request_id']}: a ladder release shows one count")
    return int(values["correct"])


def check_ladder(bundle: AuditBundle, context: ChallengeContext) -> str:
    """Each ladder release is the Ladder's decision (restricted bundle) or looks like one
    (public bundle); a Ladder challenge releases its round 2 only as ladder releases."""
    rule = context.ladder
    laddered = bundle.of_type("ladder_release")
    if rule is None:
        if laddered or bundle.ladder is not None:
            raise CheckFailed("ladder", "ladder releases in a challenge without the Ladder")
        return "the challenge releases exact values (no Ladder)"
    for e in bundle.of_type("release") + bundle.of_type("part_release"):
        if e.get("part") != "private":
            raise CheckFailed(
                "ladder", f"{e['request_id']}: exact values released under the Ladder"
            )
    n, margin = context.ladder_items, rule.margin
    owners = {e["bundle"]: str(e["owner"]) for e in bundle.of_type("bundle")}
    openings = bundle.openings if bundle.ladder is not None else None
    if openings is not None and set(openings) != {e["request_id"] for e in laddered}:
        raise CheckFailed("ladder", "ladder.json does not open exactly the ladder releases")
    previous: dict[str, int] = {}
    for e in laddered:
        shown, owner = _shown(e), owners.get(e["predictions"], "?")
        if e["part"] != ("public" if context.split is not None else None):
            raise CheckFailed("ladder", f"{e['request_id']}: a ladder release of another part")
        last = previous.get(owner)
        if openings is not None:
            opening = openings[e["request_id"]]
            if opening.commitment != e["commitment"]:
                raise CheckFailed("ladder", f"{e['request_id']}: the commitment does not open")
            exact = correct_count(opening.values, context.policy, n)
            if exact is None or ladder_step(last, exact, margin, n) != shown:
                raise CheckFailed(
                    "ladder",
                    f"{e['request_id']}: shows {shown}, the Ladder shows "
                    f"{None if exact is None else ladder_step(last, exact, margin, n)}",
                )
        elif not (shown == n or shown % margin == 0) or not 0 <= shown <= n:
            raise CheckFailed("ladder", f"{e['request_id']}: {shown} is off the Ladder's grid")
        elif last is not None and shown != last and shown < last + margin:
            raise CheckFailed(
                "ladder", f"{e['request_id']}: shows {shown} after {last}: not a Ladder step"
            )
        previous[owner] = shown
    if openings is not None:
        return (
            f"{len(laddered)} ladder releases: each commitment opens, each shown count is the "
            f"Ladder's (margin {margin} of {n} items) on its owner's exact counts in log order"
        )
    return (
        f"{len(laddered)} ladder releases: shown counts on the Ladder's grid (margin {margin} "
        f"of {n} items), never falling, each rise at least the margin; not checked without the "
        f"restricted bundle: the commitments, the exact values and the partials of "
        f"{len(bundle.withheld)} score requests"
    )
