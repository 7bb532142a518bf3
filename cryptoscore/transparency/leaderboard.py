"""The leaderboard: released submissions ranked, as the service, the audit bundle and the
auditor compute it.

Best first by the policy's primary aggregate, ties broken by log order (docs/design.md,
"Leaderboard"). The rows are a projection of the log kept as it grows (one row per release
entry, :func:`rows_from_entries`); :func:`rank` orders them. The verifier rebuilds the rows
from the log it was given and compares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from cryptoscore.scoring.policy import ReleasePolicy

__all__ = ["LeaderboardRow", "rank", "rows_from_entries"]


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    """One released submission: who uploaded it, its digest, its values, and the log index
    of its release entry (the tie-break)."""

    participant: str
    submission: str
    values: Mapping[str, int]
    order: int


def rows_from_entries(
    entries: Iterable[Mapping[str, Any]],
    owners: MutableMapping[str, str] | None = None,
    *,
    start: int = 0,
) -> list[LeaderboardRow]:
    """The rows of ``entries`` (log entries from index ``start`` on). ``owners`` maps bundle
    digests to uploaders; bundle entries seen here are added to it, so a caller that keeps
    it can feed the log a piece at a time."""
    owners = {} if owners is None else owners
    rows = []
    for i, entry in enumerate(entries, start):
        if entry.get("type") == "bundle":
            owners[str(entry["bundle"])] = str(entry["owner"])
        elif entry.get("type") == "release":
            rows.append(
                LeaderboardRow(
                    owners.get(str(entry["predictions"]), "?"),
                    str(entry["predictions"]),
                    dict(entry["values"]),
                    i,
                )
            )
    return rows


def rank(rows: Iterable[LeaderboardRow], policy: ReleasePolicy) -> list[dict[str, Any]]:
    """``[{"rank", "participant", "submission", "values"}]``, best first: most correct, else
    fewest errors (a policy of confusion cells only ranks by log order); ties by log order."""
    metric = "correct" if "correct" in policy.metrics else "errors"
    sign = -1 if metric == "correct" else 1
    ordered = sorted(rows, key=lambda r: (sign * int(r.values.get(metric, 0)), r.order))
    return [
        {
            "rank": place,
            "participant": row.participant,
            "submission": row.submission,
            "values": dict(row.values),
        }
        for place, row in enumerate(ordered, 1)
    ]
