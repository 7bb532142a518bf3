"""Release policies: which aggregates of a challenge may ever be decrypted.

A policy is part of the challenge definition, fixed before any upload. It names metrics; each
metric expands to named aggregates, in a fixed order:

* ``correct``   — number of items whose predicted class equals the label;
* ``errors``    — number of items where they differ (n − correct);
* ``confusion`` — every cell ``confusion:a:b`` = number of items predicted ``a`` with label
  ``b``, for a, b in 0..K−1, row-major (prediction a major).

The score circuit (``scoring/circuits.py``) builds one ciphertext holding exactly these
aggregates and nothing else; a trustee refuses to decrypt a ciphertext for any other list.

A challenge with a public/private split (``protocol/rules.SplitRule``) scores each part with
its own circuit (:data:`SCORE_CIRCUITS`): the same aggregates, over that part's items only
(docs/design.md, "Public/private split").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptoscore.errors import PolicyError

__all__ = [
    "METRICS",
    "PARTS",
    "SCORE_CIRCUITS",
    "Part",
    "ReleasePolicy",
    "confusion_cell_name",
    "correct_count",
    "part_of_circuit",
    "score_circuit",
]

METRICS = ("correct", "errors", "confusion")
MAX_AGGREGATES = 256

Part = Literal["public", "private"]
PARTS: tuple[Part, ...] = ("public", "private")
"""A split challenge's parts, in the order its labels bundle holds them (part 0: public)."""
SCORE_CIRCUITS = ("score/v1", "score-public/v1", "score-private/v1")
"""The score circuits: every item (a challenge without a split), or one part of a split."""


def score_circuit(part: Part | None) -> str:
    """The score circuit over every item (``None``) or over one part of a split."""
    return "score/v1" if part is None else f"score-{part}/v1"


def part_of_circuit(circuit: str) -> Part | None:
    """The part a score circuit covers (``None``: every item); :class:`PolicyError` for a
    circuit that is not a score circuit."""
    if circuit not in SCORE_CIRCUITS:
        raise PolicyError(f"{circuit!r} is not a score circuit")
    if circuit == "score/v1":
        return None
    return "public" if circuit == "score-public/v1" else "private"


def confusion_cell_name(predicted: int, label: int) -> str:
    return f"confusion:{predicted}:{label}"


@dataclass(frozen=True, slots=True)
class ReleasePolicy:
    """The metrics a challenge releases for a task with ``classes`` classes."""

    classes: int
    metrics: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.classes, int) or not 2 <= self.classes <= 64:
            raise PolicyError(f"a policy needs 2..64 classes, got {self.classes!r}")
        if not self.metrics:
            raise PolicyError("a release policy must name at least one metric")
        for m in self.metrics:
            if m not in METRICS:
                raise PolicyError(f"unknown metric {m!r} (known: {', '.join(METRICS)})")
        if len(set(self.metrics)) != len(self.metrics):
            raise PolicyError("a metric is named twice in the release policy")
        if len(self.aggregate_names()) > MAX_AGGREGATES:
            raise PolicyError(
                f"the policy releases more than {MAX_AGGREGATES} aggregates; "
                "a full confusion matrix is limited to 16 classes"
            )

    def aggregate_names(self) -> tuple[str, ...]:
        """The released aggregates in output order."""
        names: list[str] = []
        for m in self.metrics:
            if m == "confusion":
                names += [
                    confusion_cell_name(a, b)
                    for a in range(self.classes)
                    for b in range(self.classes)
                ]
            else:
                names.append(m)
        return tuple(names)

    def to_json(self) -> dict[str, Any]:
        return {"classes": self.classes, "metrics": list(self.metrics)}

    @classmethod
    def from_json(cls, obj: object) -> ReleasePolicy:
        if not isinstance(obj, dict) or set(obj) != {"classes", "metrics"}:
            raise PolicyError("a release policy is an object with 'classes' and 'metrics'")
        metrics = obj["metrics"]
        classes = obj["classes"]
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise PolicyError("policy 'metrics' must be a list of metric names")
        if not isinstance(classes, int) or isinstance(classes, bool):
            raise PolicyError("policy 'classes' must be an integer")
        return cls(classes, tuple(metrics))


def correct_count(values: Mapping[str, int], policy: ReleasePolicy, n: int) -> int | None:
    """The number of correctly predicted items among ``n``: ``correct`` where the policy
    releases it (or the Ladder shows it), else ``n − errors``, else the confusion matrix's
    diagonal; ``None`` when ``values`` lack what the policy releases."""
    try:
        if "correct" in policy.metrics or "correct" in values:
            return int(values["correct"])
        if "errors" in policy.metrics:
            return n - int(values["errors"])
        return sum(int(values[confusion_cell_name(k, k)]) for k in range(policy.classes))
    except KeyError:
        return None
