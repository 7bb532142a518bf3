"""``cryptoscore leaderboard``: the service's leaderboard fetched page by page and printed as
a table — rank (ties equal), participant, accuracy with its 95% interval, correct and errors,
and with ``--confusion`` each row's confusion matrix as a K×K grid under it. A challenge
with differential-privacy noise says so under the title (which policy made the numbers, its
rho, budget and sigma) and adds each row's expected absolute error; its intervals are the
service's, widened by the noise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from cryptoscore_cli.api import Client

__all__ = ["fetch_leaderboard", "format_leaderboard"]

PAGE = 500
"""Rows asked per request: the service's largest page (``LEADERBOARD_MAX_LIMIT``)."""

_VIEW_TEXT = {
    "best": "each participant's best submission",
    "all": "every released submission",
}


def fetch_leaderboard(
    client: Client, challenge: str, view: str, part: str | None = None
) -> dict[str, Any]:
    """The response of ``GET /challenges/{challenge}/leaderboard?view=…`` (of one ``part`` of
    a split challenge, or the service's default) with the rows of every page joined
    (``next_offset`` then null)."""
    path = f"/challenges/{quote(challenge, safe='')}/leaderboard?"
    offset: int | None = 0
    board: dict[str, Any] = {}
    while offset is not None:
        query: dict[str, Any] = {"view": view, "limit": PAGE, "offset": offset}
        if part is not None:
            query["part"] = part
        page = client.get_json(path + urlencode(query))
        if board:
            board["rows"] += page["rows"]
        else:
            board = page
        offset = page["next_offset"]
    board["next_offset"] = None
    return board


def _accuracy(row: dict[str, Any]) -> str:
    if row["accuracy"] is None:
        return "-"
    return f"{row['accuracy']:.3f} [{row['accuracy_low']:.3f}, {row['accuracy_high']:.3f}]"


def _confusion(row: dict[str, Any], classes: int, indent: str) -> list[str]:
    """The confusion cells of ``row`` as a grid: one line per predicted class, one column per
    label."""
    cells = [
        [row["values"].get(f"confusion:{a}:{b}") for b in range(classes)] for a in range(classes)
    ]
    width = max(len(str(classes - 1)), *(len(str(c)) for line in cells for c in line))
    lines = [f"{indent}confusion (rows: predicted class, columns: label)"]
    lines.append(f"{indent}{'':>{width}}  " + " ".join(f"{b:>{width}}" for b in range(classes)))
    for a, line in enumerate(cells):
        lines.append(
            f"{indent}{a:>{width}}  "
            + " ".join(f"{'-' if c is None else c:>{width}}" for c in line)
        )
    return lines


def _ladder_text(rows: list[dict[str, Any]], n: int) -> str:
    """Under the Ladder (docs/design.md, "Ladder"): which release policy produced the counts."""
    margin = next((r.get("ladder_margin") for r in rows if r.get("release") == "ladder"), None)
    if margin is None:
        return ""
    return f"; release: ladder, margin {margin} of {n} (shown counts, not exact)"


def format_leaderboard(board: dict[str, Any], *, confusion: bool = False) -> str:
    """The table of a leaderboard response (``fetch_leaderboard``)."""
    policy = board["policy"]
    n = board["n_items"]
    rows = board["rows"]
    split = board.get("split")
    if split and board.get("part"):  # a split challenge: one part's scores, over its items
        n = split[f"{board['part']}_items"]
        when = "after the close" if split["closed"] else "until the close"
        scope = f"{board['part']} part, {n} of {board['n_items']} items ({when})"
    else:
        scope = f"{n} items"
    lines = [
        f"{board['challenge']}: {_VIEW_TEXT.get(board['view'], board['view'])} "
        f"({board['total']}), {scope}; policy: {', '.join(policy['metrics'])}"
        + _ladder_text(rows, n)
    ]
    release = board.get("release") or {"kind": "exact"}
    noised = release["kind"] == "dp"
    if noised:
        source = (
            f"shared by the t={release['trustees']} trustees over "
            f"{release['summed_draws']} PRSS sets"
            if release.get("answers") == "shamir"
            else f"from each of t={release['trustees']} trustees"
        )
        lines.append(
            f"release: dp noise {source} (discrete "
            f"Gaussian, sigma {release['sigma']:.3f} each), rho {release['rho']:g} per "
            f"release, budget {release['budget']:g} per participant; counts are noisy, "
            "intervals widened by the noise variance"
        )
    if not rows:
        lines.append("no released scores yet")
        return "\n".join(lines)
    name = max(len("participant"), *(len(r["participant"]) for r in rows))
    count = max(len("correct"), len(str(n)))
    accuracy = max(len("accuracy [95% interval]"), *(len(_accuracy(r)) for r in rows))
    lines.append(
        f"{'rank':>4}  {'participant':<{name}}  {'accuracy [95% interval]':<{accuracy}}  "
        f"{'correct':>{count}}  {'errors':>{count}}" + ("  expected |error|" if noised else "")
    )
    show_grid = confusion and "confusion" in policy["metrics"]
    for row in rows:
        correct = row["correct"]
        errors = "-" if correct is None else n - correct
        lines.append(
            f"{row['rank']:>4}  {row['participant']:<{name}}  {_accuracy(row):<{accuracy}}  "
            f"{'-' if correct is None else correct:>{count}}  {errors:>{count}}"
            + (f"  ±{row['expected_abs_error']:.2f}" if noised else "")
        )
        if show_grid:
            lines += _confusion(row, policy["classes"], " " * 6)
    if confusion and not show_grid:
        lines.append("(no confusion matrix: the policy does not release one)")
    return "\n".join(lines)
