"""The leaderboard: released submissions ranked from the log, as the service and auditor do it.

Best first by the policy's primary aggregate, ties broken by log order (docs/design.md,
"Leaderboard").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptoscore.scoring.policy import ReleasePolicy


def _rank_key(policy: ReleasePolicy) -> Callable[[dict[str, Any]], tuple[int, int]]:
    """Best first: most correct, else fewest errors; ties by log order."""
    metric = "correct" if "correct" in policy.metrics else "errors"
    sign = -1 if metric == "correct" else 1

    def key(row: dict[str, Any]) -> tuple[int, int]:
        return sign * int(row["values"].get(metric, 0)), int(row["order"])

    return key


def leaderboard_from_entries(
    entries: list[dict[str, Any]], policy: ReleasePolicy
) -> list[dict[str, Any]]:
    owners = {e["bundle"]: e["owner"] for e in entries if e.get("type") == "bundle"}
    rows = [
        {
            "participant": owners.get(e["predictions"], "?"),
            "submission": e["predictions"],
            "values": e["values"],
            "order": i,
        }
        for i, e in enumerate(entries)
        if e.get("type") == "release"
    ]
    rows.sort(key=_rank_key(policy))
    return [
        {"rank": r + 1, **{k: v for k, v in row.items() if k != "order"}}
        for r, row in enumerate(rows)
    ]
