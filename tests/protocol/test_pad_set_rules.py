"""The challenge rule ``pad_sets`` (docs/design.md, "Checked pad sets"): the default is not
written, so rules of before keep their JSON (and the definition its digest); ``"any"`` is
written and read back; anything else is refused on parsing."""

from __future__ import annotations

import pytest

from cryptoscore.errors import FormatError
from cryptoscore.identity import Identity
from cryptoscore.protocol.rules import PAD_SETS_ANY_WARNING, ChallengeRules

ORGANIZER = Identity.generate().public_key


def test_the_default_is_checked_and_not_written() -> None:
    plain = ChallengeRules(organizer=ORGANIZER, enrolment="open")
    assert plain.pad_sets == "checked"
    assert "pad_sets" not in plain.to_json()
    assert ChallengeRules.from_json(plain.to_json()) == plain
    anyset = ChallengeRules(organizer=ORGANIZER, enrolment="open", pad_sets="any")
    assert anyset.to_json() == {**plain.to_json(), "pad_sets": "any"}
    assert ChallengeRules.from_json(anyset.to_json()) == anyset
    assert "unchecked answers" in PAD_SETS_ANY_WARNING


@pytest.mark.parametrize("bad", ["checked", "all", "", 3, None, ["any"]])
def test_other_values_are_refused_on_parsing(bad: object) -> None:
    plain = ChallengeRules(organizer=ORGANIZER, enrolment="open").to_json()
    with pytest.raises(FormatError, match="pad_sets"):
        ChallengeRules.from_json({**plain, "pad_sets": bad})


def test_other_values_are_refused_when_built() -> None:
    with pytest.raises(FormatError, match="pad_sets is 'checked' or 'any'"):
        ChallengeRules(organizer=ORGANIZER, enrolment="open", pad_sets="all")  # type: ignore[arg-type]
