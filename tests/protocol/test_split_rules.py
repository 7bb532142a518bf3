"""The split as a rule: its JSON, the definition digest of challenges without one, what the
challenge context checks, and the leakage statement (docs/design.md, "Public/private split")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cryptoscore import ReleasePolicy
from cryptoscore.errors import FormatError, MismatchError
from cryptoscore.protocol.leakage import label_leakage, part_bits_per_release
from cryptoscore.protocol.rules import ChallengeRules, SplitRule
from tests.helpers.committee import Committee


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


def test_rules_without_a_split_read_and_digest_as_before(committee):
    rules = committee.rules()
    assert "split" not in rules.to_json()
    assert ChallengeRules.from_json(rules.to_json()) == rules
    policy = ReleasePolicy(3, ("correct",))
    plain = committee.context("c", policy, 50, rules)
    split = committee.context(
        "c", policy, 50, committee.rules(split=SplitRule(15, 1_900_000_000_000))
    )
    assert plain.definition_digest != split.definition_digest
    assert b'"split"' not in plain.definition()


def test_split_rule_round_trips_and_is_checked(committee):
    rule = SplitRule(30, 1_900_000_000_000, 2)
    rules = committee.rules(split=rule)
    assert rules.to_json()["split"] == {
        "public_items": 30,
        "closes": 1_900_000_000_000,
        "finals": 2,
    }
    assert ChallengeRules.from_json(rules.to_json()).split == rule
    for bad in (
        {"public_items": 0, "closes": 1, "finals": 1},
        {"public_items": 3, "closes": 1},
        {"public_items": 3, "closes": 1, "finals": 9},
        [1],
    ):
        obj = {**rules.to_json(), "split": bad}
        with pytest.raises(FormatError):
            ChallengeRules.from_json(obj)
    policy = ReleasePolicy(3, ("correct",))
    with pytest.raises(MismatchError):  # every item public: no private part
        committee.context("c", policy, 30, rules)
    with pytest.raises(MismatchError):  # labels one-hot over 2K ≤ 64 classes
        committee.context("c", ReleasePolicy(33, ("correct",)), 100, rules)
    context = committee.context("c", policy, 100, rules)
    assert context.classes_of("labels") == 6 and context.classes_of("predictions") == 3


def test_the_split_leakage_statement():
    """Before the close at most the public labels; after it, finals releases of the private
    part per identity — stated in a third line."""
    opens = datetime(2026, 1, 1, tzinfo=UTC)
    policy = ReleasePolicy(4, ("confusion",))
    leak = label_leakage(
        policy, 100, 10, opens, opens + timedelta(days=30), 50, SplitRule(30, 1, 1)
    )
    assert leak.labels_per_identity == 30 and not leak.one_identity_recovers_all
    assert leak.private_attack_labels == 3
    assert leak.bits_per_release == part_bits_per_release(policy, 30)
    assert leak.private_labels_bound <= 70
    lines = leak.statement()
    assert len(lines) == 3 and "no private label" in lines[0] and "30 public" in lines[0]
    assert "after the close" in lines[2] and "50 identities pooling: 70" in lines[2]
    assert leak.to_json()["split"]["private_labels_per_identity_attack"] == 3
    correct = label_leakage(
        ReleasePolicy(4, ("correct",)),
        100,
        10,
        opens,
        opens + timedelta(days=30),
        None,
        SplitRule(30, 1, 1),
    )
    assert correct.private_attack_labels == 0  # no private baseline with one final
    assert "any number" in correct.statement()[2]
    assert label_leakage(policy, 100, 10, opens, opens, 5).to_json()["split"] is None
