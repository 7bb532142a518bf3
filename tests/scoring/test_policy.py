from __future__ import annotations

import pytest

from cryptoscore.errors import PolicyError
from cryptoscore.scoring.policy import ReleasePolicy


def test_aggregate_names_in_order():
    p = ReleasePolicy(3, ("errors", "confusion", "correct"))
    names = p.aggregate_names()
    assert names[0] == "errors" and names[-1] == "correct"
    assert names[1:10] == tuple(f"confusion:{a}:{b}" for a in range(3) for b in range(3))


@pytest.mark.parametrize(
    ("classes", "metrics", "message"),
    [
        (2, (), "at least one metric"),
        (2, ("accuracy",), "unknown metric 'accuracy'"),
        (2, ("correct", "correct"), "named twice"),
        (1, ("correct",), "2..64 classes"),
        (17, ("confusion",), "more than 256 aggregates"),
    ],
)
def test_bad_policies(classes, metrics, message):
    with pytest.raises(PolicyError, match=message):
        ReleasePolicy(classes, metrics)


def test_json_roundtrip_and_strictness():
    p = ReleasePolicy(10, ("correct", "confusion"))
    assert ReleasePolicy.from_json(p.to_json()) == p
    for bad in [
        [],
        {"classes": 2},
        {"classes": "2", "metrics": ["correct"]},
        {"classes": 2, "metrics": "correct"},
        {"classes": 2, "metrics": ["correct"], "extra": 1},
    ]:
        with pytest.raises(PolicyError):
            ReleasePolicy.from_json(bad)
